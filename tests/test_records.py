import numpy as np
import tensorflow as tf
from scipy import stats

from wsl_tf import records


def test_example_round_trip_sorts_and_dedups_ids():
    serialized = records.make_example("photo/1", b"\xff\xd8jpeg", [7, 3, 7, 1], "fr")
    parsed = records.parse_example(tf.constant(serialized))
    assert parsed[records.KEY].numpy() == b"photo/1"
    assert parsed[records.IMAGE].numpy() == b"\xff\xd8jpeg"
    assert parsed[records.LANGUAGE].numpy() == b"fr"
    np.testing.assert_array_equal(parsed[records.WORD_IDS].numpy(), [1, 3, 7])
    assert parsed[records.WORD_IDS].dtype == tf.int64


def test_splits_are_stable_and_have_the_requested_fractions():
    keys = [f"{i}" for i in range(20000)]
    splits = [records.split_of(k, 0.1, 0.05) for k in keys]
    assert splits == [records.split_of(k, 0.1, 0.05) for k in keys]
    observed = [splits.count(s) for s in ("train", "val", "test")]
    expected = [20000 * 0.85, 20000 * 0.1, 20000 * 0.05]
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_growing_val_fraction_only_moves_keys_out_of_train():
    keys = [str(i) for i in range(2000)]
    small = {k: records.split_of(k, 0.05, 0.05) for k in keys}
    large = {k: records.split_of(k, 0.2, 0.05) for k in keys}
    assert all(large[k] == small[k] for k in keys if small[k] in ("val", "test"))


def test_shard_names_and_listing(tmp_path):
    for i in range(3):
        (tmp_path / records.shard_name("train", i, 3)).write_bytes(b"")
    (tmp_path / records.shard_name("val", 0, 1)).write_bytes(b"")
    assert records.shard_name("train", 2, 3) == "train-00002-of-00003.tfrecord"
    assert [p.rsplit("/", 1)[-1] for p in records.shard_paths(str(tmp_path), "train")] == [
        "train-00000-of-00003.tfrecord", "train-00001-of-00003.tfrecord", "train-00002-of-00003.tfrecord"]
