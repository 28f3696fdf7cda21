"""PreparedDataset: one opened dataset directory, its counts checked against the shards themselves."""

import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from wsl_tf import records
from wsl_tf.errors import DataError
from wsl_tf.input.dataset import PreparedDataset


def shard_word_ids(dataset_dir: str, split: str) -> list[np.ndarray]:
    """Each record's word ids, read straight from the split's TFRecords."""
    return [
        records.parse_example(serialized)[records.WORD_IDS].numpy()
        for serialized in tf.data.TFRecordDataset(records.shard_paths(dataset_dir, split))
    ]


@pytest.fixture
def dataset_copy(ten_word_dataset, tmp_path) -> str:
    return shutil.copytree(ten_word_dataset, tmp_path / "data", dirs_exist_ok=False).as_posix()


def test_train_word_counts_and_the_log_prior_match_the_train_shards(ten_word_dataset):
    dataset = PreparedDataset(ten_word_dataset)
    ids = shard_word_ids(ten_word_dataset, "train")
    expected = np.bincount(np.concatenate(ids), minlength=dataset.vocab_size)
    np.testing.assert_array_equal(dataset.train_word_counts(), expected)
    assert dataset.train_index.num_records == len(ids) == dataset.metadata["images"]["train"]
    prior = dataset.log_word_prior(dataset.vocab_size)
    np.testing.assert_allclose(prior, np.log(np.maximum(expected, 0.5) / len(ids)), rtol=1e-6)
    assert dataset.log_word_prior(3).shape == (3,)


def test_the_dictionary_hash_tells_dictionaries_apart(dataset_copy, ten_word_dataset):
    assert PreparedDataset(dataset_copy).vocab_sha256 == PreparedDataset(ten_word_dataset).vocab_sha256
    vocab = os.path.join(dataset_copy, records.VOCAB_FILE)
    lines = open(vocab).read().splitlines()
    open(vocab, "w").write("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")  # Two words swapped.
    assert PreparedDataset(dataset_copy).vocab_sha256 != PreparedDataset(ten_word_dataset).vocab_sha256


def test_shards_are_listed_in_order_and_a_missing_one_is_named(dataset_copy):
    dataset = PreparedDataset(dataset_copy)
    paths = dataset.shards("train")
    assert paths == sorted(paths) and len(paths) == len(dataset.metadata["shards"]["train"])
    os.remove(paths[-1])
    with pytest.raises(DataError, match=rf"{len(paths) - 1} train shards found, dataset.json lists {len(paths)}"):
        dataset.shards("train")
    for path in dataset.shards("val"):
        os.remove(path)
    with pytest.raises(DataError, match=r": no val shards$"):
        dataset.shards("val")


def test_a_directory_that_is_not_a_current_dataset_is_named_with_what_to_do(dataset_copy, tmp_path):
    with pytest.raises(DataError, match=r"is not a dataset directory: no dataset.json \(run wsl-prepare\)"):
        PreparedDataset(str(tmp_path / "empty"))
    path = os.path.join(dataset_copy, records.METADATA_FILE)
    metadata = json.load(open(path))
    del metadata["train_index"]
    json.dump(metadata, open(path, "w"))
    with pytest.raises(DataError, match=r"no train index \(prepared by an older wsl-prepare\): rerun it"):
        PreparedDataset(dataset_copy).train_word_counts()
    json.dump({**metadata, "schema_version": 1}, open(path, "w"))
    with pytest.raises(DataError, match=r"schema version 1, expected 2: rerun wsl-prepare"):
        PreparedDataset(dataset_copy)


def test_of_opens_a_path_once_and_passes_a_dataset_through(ten_word_dataset):
    dataset = PreparedDataset.of(ten_word_dataset)
    assert isinstance(dataset, PreparedDataset) and PreparedDataset.of(dataset) is dataset
    assert dataset.train_index is dataset.train_index  # Read once, however many replicas ask.
