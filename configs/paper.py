"""The paper's training runs (Joulin et al., ECCV 2016), variants chosen by argument.

  wsl-train --config=configs/paper.py:alexnet,k=1000 --workdir=runs/a1k --config.data.dir=DATA
  wsl-train --config=configs/paper.py:googlenet,k=100000 --workdir=runs/g100k --config.data.dir=DATA
  wsl-train --config=configs/paper.py:alexnet,k=1000,loss=one_vs_all --workdir=runs/a1k_ova ...

The argument is comma-separated: a model name (alexnet, googlenet; beyond
the paper resnet50, vit_b16, vit_ti16 and the test-sized vit_test), k=K
(the paper: 1000, 10000, 100000) and loss=softmax (multi-class logistic,
the default) or loss=one_vs_all. Anything else below is overridden on the
command line: --config.train.batch_size_per_replica=64.

This file imports only ml_collections, so reading a config costs nothing.
"""

import ml_collections

MODELS = ("alexnet", "googlenet", "resnet50", "vit_b16", "vit_ti16", "vit_test")
DEFAULTS = {"model": "alexnet", "k": 1000, "loss": "softmax"}


def parse_arg(arg: str) -> dict:
    """'googlenet,k=10000' -> {'model': 'googlenet', 'k': 10000, 'loss': 'softmax'}."""
    values = dict(DEFAULTS)
    for token in filter(None, (t.strip() for t in (arg or "").split(","))):
        key, has_value, value = token.partition("=")
        if not has_value:
            if token not in MODELS:
                raise ValueError(f"{token!r} is not a model ({', '.join(MODELS)}) nor a key=value")
            key, value = "model", token
        if key not in DEFAULTS:
            raise ValueError(f"unknown argument {key!r}: expected a model, k=..., loss=...")
        values[key] = type(DEFAULTS[key])(value)
    return values


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    arg = parse_arg(arg)
    one_vs_all = arg["loss"] == "one_vs_all"
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.loss = arg["loss"]  # "softmax" (multi-class logistic) or "one_vs_all" (class-balanced).
    # How one-vs-all balances its words: "weights", the paper's (positives 1 / N_k, negatives 1 / (N - N_k)), or
    # "logit_adjusted", each word's logit shifted by its log prior odds: the same minimiser, without the weights'
    # gradient spikes. Measured on the demo's data (K = 1,000, natural sampling, all K words every step, 15 epochs of
    # 8,192 images): "weights", as the paper writes it divided by K, stays at the prior (test precision@1 / @10 0.006
    # / 0.003 raw, 0.101 / 0.076 with the prior: its rows learn K times slower than the softmax's); not divided by
    # K the loss is NaN at step 5, divided by 4 every embedding is 0 (the 1 / N_k spikes kill the ReLUs);
    # "logit_adjusted" learns: 0.168 / 0.115 (prior weight 1; the prior alone 0.098 / 0.074).
    config.one_vs_all_balance = "logit_adjusted"

    config.data = ml_collections.ConfigDict()
    config.data.dir = ""  # A wsl-prepare output directory; set on the command line.

    config.model = ml_collections.ConfigDict()
    config.model.name = arg["model"]
    config.model.num_words = arg["k"]  # K: the first K words of the dataset's vocabulary are targets.
    config.model.image_size = 224
    config.model.width = 1.0  # Scales every layer; tests and CPU runs use 1/8.
    # The backbone's dropout rate; None: its paper's (AlexNet 0.5, GoogLeNet 0.4, ResNet-50 and ViT 0).
    config.model.dropout = ml_collections.config_dict.placeholder(float)
    config.model.aux_loss_weight = 0.3  # GoogLeNet's auxiliary towers.
    # AlexNet's conv and fc kernels: a Keras initializer name; None: Keras's default (Glorot uniform).
    config.model.kernel_initializer = ml_collections.config_dict.placeholder(str)

    config.head = ml_collections.ConfigDict()
    # The word rows each step computes: "in_batch", the words of the replica's batch (section 3.2: at most 128 of
    # 100,000 per batch; the step's cost does not grow with K), or "full", all K every step (the exact loss: the
    # reference the in-batch layer is measured against, for K where a K x E product per step fits).
    config.head.classes = "in_batch"
    # "sampling": the in-batch loss corrected for each word's chance of entering a step (the softmax's logits get
    # -log of it, one-vs-all's negatives a weight), computed exactly from the train index; "none": the paper's
    # uncorrected form, for reproduction. Measured on the demo's data (K = 1,000, natural sampling, multi-class, 50
    # epochs of 8,192 images), test precision@1 / @10: uncorrected 0.223 / 0.144, corrected 0.344 / 0.183 (prior
    # weight 0.5), all K words every step 0.353 / 0.190 (the same weight).
    config.head.correction = "sampling"
    # Extra negatives: this many words per replica step, drawn "uniform"ly or by "count", join the batch's words
    # (their known rate enters the correction). At the demo's settings (docs/word_layer.md) 128 and 512 uniform
    # extra negatives brought the raw scores nearer the exact loss's (test P@1 0.341 and 0.347 against 0.325
    # without, exact 0.365) at about 25% and 35% fewer images/s; their rate per word falls as 1 / K.
    config.head.negatives = 0
    config.head.negatives_by = "uniform"

    config.input = ml_collections.ConfigDict()
    # Softmax: draw a word uniformly, then one of its images; the word is the target.
    # One-vs-all: read the images naturally, every dictionary word a target.
    # (Softmax also trains on sampler="natural", labels="all_words": the image's words as a uniform target.)
    config.input.sampler = "natural" if one_vs_all else "uniform_per_word"
    config.input.labels = "all_words" if one_vs_all else "sampled_word"
    config.input.resize_size = 256  # Images are resized to 256 x 256 ...
    config.input.crop_size = 224  # ... and a 224 x 224 crop is fed to the network.
    config.input.augment = False  # True: random crop, flip and colour jitter instead of the centre crop.
    config.input.jitter = 0.2
    config.input.seed = 0
    config.input.block_size = 256  # Draws read per block of byte-range reads.

    config.optimizer = ml_collections.ConfigDict()
    config.optimizer.name = "easgd"  # "easgd" or "sgd" (plain synchronous data parallel).
    config.optimizer.learning_rate = 0.1
    config.optimizer.momentum = 0.9
    config.optimizer.nesterov = True
    config.optimizer.weight_decay = 0.0
    config.optimizer.tau = 10  # EASGD: steps between elastic exchanges.
    config.optimizer.beta = 0.9  # EASGD: moving rate; alpha = beta / replicas.

    config.train = ml_collections.ConfigDict()
    config.train.batch_size_per_replica = 128  # The paper's 128 per EASGD worker; global = that x replicas.
    config.train.epoch_size = 1_000_000  # Images per epoch; validation and LR halving follow each epoch.
    config.train.max_epochs = 0  # 0: until the learning rate falls below schedule.min_lr.
    config.train.checkpoint_every_steps = 1000
    config.train.log_every_steps = 100  # Losses and summaries are fetched from the device this often.
    config.train.steps_per_loop = 1  # EASGD only: steps per compiled call (a graph loop ending at exchanges).
    config.train.mixed_precision = False  # True: backbones compute in bfloat16 (word logits, loss in float32).
    config.train.jit_compile = False  # True: the backbone's passes are compiled by XLA.
    config.train.keep_checkpoints = 3
    config.train.devices = ()  # Device names, a tuple so the command line can override it; () is all.
    config.train.logical_cpus = 0  # Split the CPU into this many logical devices (0: leave it whole).
    config.train.peer_timeout_seconds = 600  # Multi-worker: a collective waiting this long for a dead worker fails.
    config.train.deterministic = False
    config.train.export = True  # At the end, write WORKDIR/export: model.keras and a SavedModel.

    config.schedule = ml_collections.ConfigDict()
    config.schedule.min_epochs_per_lr = 10  # Halve the LR when val error rises, at most this often.
    config.schedule.min_lr = 1e-6  # Stop below it.

    # Evaluation: the trainer's validation after every epoch, and wsl-eval's experiments on the finished run (the
    # run's config.json carries them; `wsl-eval --config.eval.KEY=VALUE` overrides one for that evaluation).
    config.eval = ml_collections.ConfigDict()
    config.eval.val_images = 5000  # Val images scored after every epoch (the LR halving's signal).
    config.eval.batch_size = 128
    config.eval.experiments = (
        "word_prediction",
        "transfer",
        "embeddings",
        "pictures",
    )  # Also: training_choices, search.
    # Labelled sets: fashion_mnist, categories[:SPLIT], emoji_subgroups[:SPLIT], folder:ROOT, voc2007:ROOT.
    config.eval.transfer = ("fashion_mnist",)
    config.eval.test_images = 2000  # Held-out images for word prediction, each row of its table on the same ones.
    # Train images the per-word regressors fit on: all of a small set, as the model trains on all of it (a baseline
    # fitted on fewer images than the model saw understates it); capped for memory on a large one.
    config.eval.baseline_train_images = 20_000
    config.eval.class_network_steps = 300  # Steps of the class-label network (the floors' and baselines').
    config.eval.transfer_images = 2000  # At most this many images per labelled set.
    config.eval.map_images = 300  # Test images in the t-SNE map and the pictures' features.
    config.eval.map_words = 150  # Most frequent words in the word map.
    config.eval.grid_words = ()  # Words for the top-images picture; (): the 6 most frequent.
    config.eval.word2vec_epochs = 20
    # training_choices: epochs of each short run, of this many images (its learning rate never halves, so an
    # epoch's end only validates: one epoch of 16,384 trains as 4 of 4,096, validating once) ...
    config.eval.choice_epochs = 1
    config.eval.choice_epoch_size = 16384  # ... of this many images,
    config.eval.choice_learning_rate = 0.0  # ... at this learning rate, the same for all four (0: the run's own),
    config.eval.choice_transfer = "emoji_subgroups"  # ... their features transferred to this labelled set ("": none).
    config.eval.fit_processes = 0  # Processes fitting transfer's linear classifiers: 0 one per core, 1 none.
    return config
