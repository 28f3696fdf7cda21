"""The dataset directory format: TFRecord schema, shard names and splits.

A dataset directory holds `vocab.tsv`, `dataset.json` and TFRecord shards
`{split}-{i:05d}-of-{n:05d}.tfrecord` of `tf.train.Example`s with:

- `image/key`     bytes, the record's key in its source;
- `image/encoded` bytes, a JPEG of the stored image;
- `words/ids`     int64 list, sorted and distinct ids into vocab.tsv;
- `text/language` bytes, the caption's language ("" where the source has one).

Splits are fixed by a stable hash of each record's source image bytes (as
its source stores them, before decoding), so reruns, other worker counts and
other machines agree on them, and every copy of an image lands in one split
whatever its key or caption (SPLIT_RULE). `train-index.npz` locates every train record
and lists each word's records (wsl_tf/input/index.py).

TensorFlow is imported where it is used, so the data tools' worker processes
can use the split rule and names without paying for it.
"""

import functools
import json
import os

from wsl_tf import fileio
from wsl_tf.errors import DataError
from wsl_tf.keys import key_fraction

SCHEMA_VERSION = 2
# Written into every dataset's fingerprint, so that staging or a dataset split by another rule is never reused.
SPLIT_RULE = "sha256 of the source image bytes"
SPLITS = ("train", "val", "test")
# Below this many held-out images with a dictionary word, a figure measured on a split (the val error that
# halves the learning rate, a test precision) moves by chance: wsl-prepare and wsl-train warn.
MIN_USEFUL_HELD_OUT_IMAGES = 100
VOCAB_FILE = "vocab.tsv"
STOPWORDS_FILE = "stopwords.tsv"
METADATA_FILE = "dataset.json"
SKIPPED_FILE = "skipped.tsv"
TRAIN_INDEX_FILE = "train-index.npz"

KEY = "image/key"
IMAGE = "image/encoded"
WORD_IDS = "words/ids"
LANGUAGE = "text/language"


@functools.cache
def features() -> dict:
    """The tf.io parsing spec of the schema."""
    import tensorflow as tf

    return {
        KEY: tf.io.FixedLenFeature([], tf.string),
        IMAGE: tf.io.FixedLenFeature([], tf.string),
        WORD_IDS: tf.io.VarLenFeature(tf.int64),
        LANGUAGE: tf.io.FixedLenFeature([], tf.string, default_value=""),
    }


def image_identity(source_image: bytes) -> str:
    """What a record's split is drawn from: the hex SHA-256 of its source image bytes."""
    import hashlib

    return hashlib.sha256(source_image).hexdigest()


def split_of(identity: str, val_fraction: float, test_fraction: float) -> str:
    """The split of a record's identity (image_identity): test, then val, take the low hash values."""
    fraction = key_fraction(identity, salt="split")
    if fraction < test_fraction:
        return "test"
    if fraction < test_fraction + val_fraction:
        return "val"
    return "train"


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def shard_paths(dataset_dir: str, split: str) -> list[str]:
    """The shards of one split, in order."""
    import tensorflow as tf

    pattern = os.path.join(dataset_dir, f"{split}-?????-of-?????.tfrecord")
    return sorted(tf.io.gfile.glob(pattern))


def read_metadata(dataset_dir: str) -> dict:
    """dataset.json of a dataset directory; ValueError naming what is wrong."""
    import tensorflow as tf

    path = os.path.join(dataset_dir, METADATA_FILE)
    if not tf.io.gfile.exists(path):
        raise DataError(f"{dataset_dir} is not a dataset directory: no {METADATA_FILE} (run wsl-prepare)")
    try:
        with tf.io.gfile.GFile(path) as handle:
            metadata = json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: damaged: not JSON ({fileio.error_line(error)}); rerun wsl-prepare") from None
    if not isinstance(metadata, dict):
        raise DataError(f"{path}: damaged: a JSON {type(metadata).__name__}, not an object; rerun wsl-prepare")
    if metadata.get("schema_version") != SCHEMA_VERSION:
        raise DataError(
            f"{path}: schema version {metadata.get('schema_version')}, expected {SCHEMA_VERSION}: rerun wsl-prepare"
        )
    return metadata


def _bytes_feature(values):
    import tensorflow as tf

    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def make_example(key: str, image: bytes, word_ids, language: str = "") -> bytes:
    """A serialized tf.train.Example in this schema.

    Serialized deterministically: the features map is otherwise written in an
    order that varies from process to process, and shards must be identical.
    """
    import tensorflow as tf

    features = {
        KEY: _bytes_feature([key.encode("utf-8")]),
        IMAGE: _bytes_feature([image]),
        WORD_IDS: tf.train.Feature(int64_list=tf.train.Int64List(value=sorted(set(word_ids)))),
        LANGUAGE: _bytes_feature([language.encode("utf-8")]),
    }
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString(deterministic=True)


def parse_example(serialized) -> dict:
    """Parse one serialized example; `words/ids` comes back dense int64."""
    import tensorflow as tf

    parsed = tf.io.parse_single_example(serialized, features())
    parsed[WORD_IDS] = tf.sparse.to_dense(parsed[WORD_IDS])
    return parsed


def write_shard(path: str, serialized) -> int:
    """A shard's serialized records under a temporary name, then renamed: a killed write leaves no shard. How
    many it wrote."""
    import tensorflow as tf

    temp = fileio.temp_path_for(path)
    written = 0
    try:
        with tf.io.TFRecordWriter(temp) as writer:
            for record in serialized:
                writer.write(record)
                written += 1
        fileio.commit(temp, path)
        return written
    finally:
        if fileio.exists(temp):
            tf.io.gfile.remove(temp)
