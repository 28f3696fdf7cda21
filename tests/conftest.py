"""Test-wide set-up: quiet TensorFlow, 4 logical CPUs, fresh collective keys; shared fixtures.

Logical devices can be configured only once per process, before TensorFlow
initialises its devices, so it is done here at import time; tests that need
two replicas use a MirroredStrategy over the first two.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from tests.helpers import image_bytes, prepare_jsonl_dataset  # noqa: E402

TEN_WORDS = ["sun", "sea", "tree", "dog", "cat", "car", "road", "sky", "hill", "boat"]

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 4)


@pytest.fixture(autouse=True)
def _fresh_collective_keys():
    """Each test's MirroredStrategy gets its own collective group keys.

    Collective all-reduces (MirroredStrategy's default on CPUs) number their
    groups from 1 in every strategy; a strategy over 4 devices after one over
    2 in the same process would join the old group. TensorFlow's own tests
    offset the keys the same way (the attribute exists for tests).
    """
    tf.distribute.MirroredStrategy._collective_key_base += 10_000
    yield


@pytest.fixture
def write_image(tmp_path):
    """write_image(relative path, **image_bytes kwargs) -> absolute path."""

    def write(relative: str, **kwargs) -> str:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(**kwargs))
        return str(path)

    return write


@pytest.fixture(scope="session")
def ten_word_dataset(tmp_path_factory) -> str:
    """300 random 40 px images captioned "photo" + 1-3 of TEN_WORDS (Zipf-like), prepared at 32 px in 3 shards.

    "photo" is the one stop word; 10% val, 10% test.
    """
    return prepare_jsonl_dataset(
        tmp_path_factory.mktemp("ten_words"), 300, TEN_WORDS, image_px=40, prefix="photo ",
        probabilities=np.arange(10, 0, -1) / 55, vocab_size=20, num_stopwords=1, image_size=32, num_shards=3,
        val_fraction=0.1, test_fraction=0.1)


TWELVE_WORDS = ["red", "blue", "green", "cat", "dog", "car", "tree", "sea", "sun", "hill", "road", "boat"]


@pytest.fixture(scope="session")
def twelve_word_dataset(tmp_path_factory) -> str:
    """240 random 64 px images, each captioned with some of TWELVE_WORDS, prepared at 64 px (for AlexNet runs)."""
    return prepare_jsonl_dataset(tmp_path_factory.mktemp("train_data"), 240, TWELVE_WORDS, image_px=64,
                                 vocab_size=12, num_stopwords=0, image_size=64, num_shards=2, val_fraction=0.15,
                                 test_fraction=0.05)
