"""The demo: real clip art fetched from Debian, small images, a CPU-sized run.

Open Clip Art's 8,121 drawings carry titles, descriptions and keywords, and
the Tux Paint stamps captions in many languages (English and French here): a
small weakly supervised image-text corpus in two languages. With so few images the paper's 500
stop words would eat most of the vocabulary, so the demo drops 50, and it
trains on the 100 most frequent remaining words (K = 1,000 leaves about four
training images a word, too few to learn from in a CPU minute). Training
follows the paper's recipe (uniform-per-word sampling, multi-class logistic
loss, EASGD over 2 replicas, LR halving) on a 1/8-width AlexNet at 64 px for
a few short epochs.
"""

import ml_collections

from wsl_tf.configs import paper


def get_config():
    config = ml_collections.ConfigDict()
    # Open Clip Art and the Tux Paint stamps, read as one collection; each stamp keeps one caption,
    # English or French by key hash, as people on a photo site write in their own language.
    config.data = ml_collections.ConfigDict(
        dict(corpora=("openclipart", "tuxpaint"), languages=("en", "fr"), image_size=64, vocab_size=1000,
             num_stopwords=50, num_shards=4, val_fraction=0.05, test_fraction=0.1, max_records=0))
    run = paper.get_config("alexnet,k=100")
    run.model.update({"image_size": 64, "width": 0.125})
    run.input.update({"resize_size": 72, "crop_size": 64})
    run.optimizer.update({"learning_rate": 0.05, "tau": 4})
    run.train.update({"batch_size_per_replica": 32, "epoch_size": 8192, "max_epochs": 4, "checkpoint_every_steps": 64,
                      "logical_cpus": 2})
    run.schedule.update({"min_epochs_per_lr": 2})
    run.eval.update({"val_images": 2000, "batch_size": 128})
    config.run = run
    # wsl-eval on the finished run (RUN/eval/report.md); sizes kept CPU-friendly.
    config.evaluation = ml_collections.ConfigDict(
        dict(experiments=("word_prediction", "transfer", "embeddings", "pictures"), transfer=("fashion_mnist",),
             test_images=2000, transfer_images=2000, class_network_steps=300))
    return config
