"""The training config: every setting a run needs, as data (ml_collections).

configs/*.py call `paper_config` and change what their run changes.
"""

import ml_collections

from wsl_tf.input import pipeline

LOSSES = ("softmax", "one_vs_all")
OPTIMIZERS = ("easgd", "sgd")


def paper_config(model: str = "alexnet", num_words: int = 1000, loss: str = "softmax") -> ml_collections.ConfigDict:
    """Joulin et al.'s settings: 224 px crops of 256 px images, batch 128 per worker, LR 0.1, EASGD.

    The softmax loss draws a word uniformly then one of its images (the word
    is the target); one-vs-all reads images naturally with all their words.
    """
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.data = ml_collections.ConfigDict({"dir": ""})
    config.model = ml_collections.ConfigDict(
        {"name": model, "num_words": num_words, "image_size": 224, "width": 1.0, "aux_loss_weight": 0.3})
    config.input = pipeline.default_config()
    if loss == "one_vs_all":
        config.input.sampler, config.input.labels = "natural", "all_words"
    config.loss = loss
    config.optimizer = ml_collections.ConfigDict(
        {"name": "easgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.0,
         "tau": 10, "beta": 0.9})
    # batch_size_per_replica: images each replica (EASGD worker) steps on; the paper's 128 per worker.
    # The global batch, and the images an epoch's steps count, are that times the replicas.
    # devices: a tuple of device names (a tuple, so the command line can override it); () is all.
    config.train = ml_collections.ConfigDict(
        {"batch_size_per_replica": 128, "epoch_size": 1_000_000, "max_epochs": 0, "checkpoint_every_steps": 1000,
         "keep_checkpoints": 3, "devices": (), "logical_cpus": 0, "deterministic": False})
    config.schedule = ml_collections.ConfigDict({"min_epochs_per_lr": 10, "min_lr": 1e-6})
    config.eval = ml_collections.ConfigDict({"val_images": 5000, "batch_size": 128})
    return config


def check(config, metadata: dict) -> None:
    """Raise ValueError naming the first setting that cannot work with this dataset."""
    if config.loss not in LOSSES:
        raise ValueError(f"loss={config.loss!r}: expected one of {', '.join(LOSSES)}")
    if config.optimizer.name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name={config.optimizer.name!r}: expected one of {', '.join(OPTIMIZERS)}")
    if config.model.num_words > metadata["vocab_size"]:
        raise ValueError(f"model.num_words={config.model.num_words} exceeds the dataset's vocabulary "
                         f"({metadata['vocab_size']} words in {config.data.dir})")
    if config.input.crop_size != config.model.image_size:
        raise ValueError(f"input.crop_size={config.input.crop_size} differs from "
                         f"model.image_size={config.model.image_size}")
    if config.loss == "softmax" and config.input.labels != "sampled_word":
        raise ValueError("loss='softmax' trains on the drawn word: set input.labels='sampled_word'")
    if config.train.batch_size_per_replica < 1:
        raise ValueError(f"train.batch_size_per_replica={config.train.batch_size_per_replica} must be >= 1")
