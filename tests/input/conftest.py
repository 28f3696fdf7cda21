"""A small prepared dataset shared by the input tests."""

import numpy as np
import pytest

from tests.conftest import prepare_jsonl_dataset

WORDS = ["sun", "sea", "tree", "dog", "cat", "car", "road", "sky", "hill", "boat"]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return prepare_jsonl_dataset(
        tmp_path_factory.mktemp("pipeline"), 300, WORDS, image_px=40, prefix="photo ",
        probabilities=np.arange(10, 0, -1) / 55, vocab_size=20, num_stopwords=1, image_size=32, num_shards=3,
        val_fraction=0.1, test_fraction=0.1)
