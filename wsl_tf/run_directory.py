"""A run directory as wsl-train leaves it, read back: the config, the dictionary and the centre model.

Checkpoints are written after EASGD's pending elastic moves are applied (the
trainer synchronizes first), so the centre restored here is current.
"""

import dataclasses
import json
import os

import tensorflow as tf

from wsl_tf import fileio

VOCAB_FILE = "vocab.tsv"  # The dictionary a run directory keeps, copied from its dataset.


class RunDirectoryError(ValueError):
    """Not a run directory, or no checkpoint yet; the message says which."""


@dataclasses.dataclass
class RestoredRun:
    config: object  # The resolved ml_collections.ConfigDict.
    model: object  # The centre WordPredictor, restored.
    words: list[str]  # The dictionary, id order.
    checkpoint: str


def read_config(workdir: str):
    """The run's resolved config (an ml_collections.ConfigDict), read without starting TensorFlow's devices."""
    import ml_collections

    config_path = os.path.join(workdir, "config.json")
    if not tf.io.gfile.exists(config_path):
        raise RunDirectoryError(f"{workdir} is not a run directory: no config.json (wsl-train writes it)")
    return ml_collections.ConfigDict(json.loads(fileio.read_text(config_path)))


def restore_run(workdir: str) -> RestoredRun:
    """The centre model of the run's latest checkpoint, with its config and dictionary."""
    from wsl_tf.models import build_model
    from wsl_tf.vocab import Vocabulary

    config = read_config(workdir)
    latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    if latest is None:
        raise RunDirectoryError(f"{workdir}: no checkpoint yet in {os.path.join(workdir, 'checkpoints')}")
    model = build_model(config.model, random_word_rows=False)  # The checkpoint sets every weight.
    tf.train.Checkpoint(centre=model).restore(latest).expect_partial().assert_existing_objects_matched()
    words = list(Vocabulary.load(os.path.join(workdir, VOCAB_FILE)).words)
    return RestoredRun(config, model, words, latest)
