"""The record schema and the split rule, pinned to values written down once: a change of either would silently
reshuffle every dataset already prepared (splits) or break byte-identical reruns (serialization)."""

import numpy as np
import tensorflow as tf
from scipy import stats

from wsl_tf import keys, records

# Serialized once with deterministic field order; any other bytes mean shards are no longer reproducible.
GOLDEN_EXAMPLE = bytes.fromhex(
    "0a660a1b0a0d696d6167652f656e636f646564120a0a080a06ffd86a7065670a180a09696d6167652f6b6579120b0a090a0770686f"
    "746f2f310a170a0d746578742f6c616e677561676512060a040a0266720a140a09776f7264732f69647312071a050a03010307"
)


def test_example_round_trip_sorts_and_dedups_ids():
    serialized = records.make_example("photo/1", b"\xff\xd8jpeg", [7, 3, 7, 1], "fr")
    assert serialized == GOLDEN_EXAMPLE
    parsed = records.parse_example(tf.constant(serialized))
    assert parsed[records.KEY].numpy() == b"photo/1"
    assert parsed[records.IMAGE].numpy() == b"\xff\xd8jpeg"
    assert parsed[records.LANGUAGE].numpy() == b"fr"
    np.testing.assert_array_equal(parsed[records.WORD_IDS].numpy(), [1, 3, 7])
    assert parsed[records.WORD_IDS].dtype == tf.int64


def test_splits_and_key_fractions_are_the_golden_ones():
    """sha256("split" NUL key), its first 8 bytes over 2^64: values written down once, the same on every machine."""
    assert [
        round(keys.key_fraction(k, "split"), 12)
        for k in ("photo/1", "flickr/123456789", "openclipart/animals/cat_01", "tuxpaint/food/fruit/apple")
    ] == [0.602386987719, 0.529048049027, 0.771387809994, 0.060407441923]
    assert keys.key_fraction("photo/1", "lang") == 0.17126519745398486
    assert [records.split_of(f"k{i}", 0.1, 0.05) for i in range(10)] == [
        "train",
        "val",
        "train",
        "train",
        "train",
        "train",
        "train",
        "train",
        "train",
        "train",
    ]
    assert records.split_of("tuxpaint/food/fruit/apple", 0.1, 0.05) == "val"
    assert records.split_of("tuxpaint/food/fruit/apple", 0.1, 0.07) == "test"


def test_splits_have_the_requested_fractions():
    keys = [f"{i}" for i in range(20000)]
    splits = [records.split_of(k, 0.1, 0.05) for k in keys]
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
        "train-00000-of-00003.tfrecord",
        "train-00001-of-00003.tfrecord",
        "train-00002-of-00003.tfrecord",
    ]
