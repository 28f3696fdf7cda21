"""The demo: real images and captions fetched from Debian and npm, small images, a CPU-sized run.

Open Clip Art's 8,121 drawings carry titles, descriptions and keywords; the
Tux Paint stamps and about 16,000 emoji drawn by a dozen artists carry one
caption each, English or French by key hash (CLDR's names and keywords for
the emoji): the same thing seen in different pictures, captioned in
different languages, about 20,000 training images in all. The dictionary is
the 1,000 most frequent words once each caption has lost its own language's
classic stop words (the list rule): the paper's rule, dropping the N most
frequent words, would take animal, face, visage, man and woman first and
leave function words that are rarer than them. The run is the paper's
multi-class logistic loss with EASGD over 2 replicas and LR halving, on a
1/8-width AlexNet at 64 px. Each setting carries its reason in one line;
docs/demo.md ("How each setting was chosen") gives the measurements.
"""

import ml_collections
from wsl_tf.configs import paper


def get_config():
    config = ml_collections.ConfigDict()
    # Three corpora read as one collection; the stamps and the emoji keep one caption language each.
    # max_records_each: read only the first N items of each corpus (0: all), for trial runs.
    config.data = ml_collections.ConfigDict(
        dict(
            corpora=("openclipart", "tuxpaint", "emoji"),
            languages=("en", "fr"),
            image_size=64,
            vocab_size=1000,
            stopwords="list",  # Each language's classic stop words, not the N most frequent words.
            num_stopwords=0,
            num_shards=4,
            val_fraction=0.05,
            test_fraction=0.1,
            max_records=0,
            max_records_each=0,
        )
    )
    # K = 1,000: English and French words for translation, each with about 20 training images or more.
    run = paper.get_config("alexnet,k=1000")
    # 1/8-width AlexNet at 64 px fits 2 CPU cores; no dropout: a net this narrow underfits.
    run.model.update({"image_size": 64, "width": 0.125, "dropout": 0.0})
    # Natural sampling, every word of the image a target; no augmentation at this budget.
    run.input.update({"resize_size": 72, "crop_size": 64, "sampler": "natural", "labels": "all_words"})
    # The multi-class loss: the best of the four training choices here for word prediction and transfer.
    run.loss = "softmax"
    # The batch's words with the sampling correction: the paper's mechanism, within a few percent of all K words.
    run.head.update({"classes": "in_batch", "correction": "sampling", "negatives": 0})
    # The fastest learning rate tried; tau = 4 for 2 replicas; AlexNet's weight decay.
    run.optimizer.update({"learning_rate": 0.1, "tau": 4, "weight_decay": 5e-4})
    # 50 epochs of 8,192 images: about a third of the demo's time, validation precision still rising.
    run.train.update(
        {
            "batch_size_per_replica": 32,
            "epoch_size": 8192,
            "max_epochs": 50,
            "checkpoint_every_steps": 128,
            "log_every_steps": 32,
            "steps_per_loop": 4,
            "logical_cpus": 2,
        }
    )
    # A small val split moves by chance: at least 16 epochs at a rate before it may halve again.
    run.schedule.update({"min_epochs_per_lr": 16})
    # wsl-eval's experiments at CPU-friendly sizes; the training choices run short (2 x 8,192 images each).
    run.eval.update(
        dict(
            val_images=2000,
            batch_size=128,
            experiments=("word_prediction", "transfer", "embeddings", "training_choices", "pictures", "search"),
            transfer=("emoji_subgroups", "categories", "fashion_mnist"),
            test_images=2000,
            transfer_images=2000,
            class_network_steps=300,
            choice_epochs=2,
            choice_epoch_size=8192,
            choice_transfer="emoji_subgroups",
            grid_words=("animal", "flag", "face", "food", "car", "flower"),  # Frequent words of distinct subjects.
        )
    )
    config.run = run
    return config
