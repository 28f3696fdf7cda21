"""Samplers: which train record (and target word) comes at each stream position.

Joulin et al.: "it is essential to sample data uniformly per class": pick a
word uniformly at random, then an image that has that word, uniformly.

Design. The card's shape is one interleaved dataset per word, but that does
not scale: `choose_from_datasets` over 10,000 per-word datasets took 32 s to
build and 212 s to its first element (tensorflow#29753 fails near 7,300),
and one `filter` per word reads the data K times. The per-word view is kept
(each word's records are its own list, drawn from uniformly) but as data, not
pipelines: wsl-prepare writes the train index (wsl_tf/input/index.py), a CSR
matrix of each word's records plus each record's byte range. A draw is then
two array lookups and one byte-range read, whatever K is; memory is the index
(about 4 bytes per record-word pair), not K pipelines.

Each draw is a pure function of (seed, stream position): the position is
hashed (splitmix64) into the uniform numbers that pick the word and the
record. So the stream is deterministic for a seed, a run resumed at position
S continues exactly as an uninterrupted run would, and input pipelines split
the stream by position (pipeline i of n takes positions i, i + n, ...) with
no coordination. The natural sampler walks a seeded permutation of the train
records per epoch, the same way.
"""

import numpy as np
import tensorflow as tf

from wsl_tf.input.index import TrainIndex

_GOLDEN = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
_STREAM_END = np.iinfo(np.int64).max


def splitmix64(x: int) -> int:
    """The splitmix64 output function on a Python int (the reference)."""
    x &= _MASK
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _mix(x: tf.Tensor) -> tf.Tensor:
    def shift_xor(value, bits):
        return tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, tf.constant(bits, tf.uint64)))

    x = shift_xor(x, 30) * tf.constant(0xBF58476D1CE4E5B9, tf.uint64)
    x = shift_xor(x, 27) * tf.constant(0x94D049BB133111EB, tf.uint64)
    return shift_xor(x, 31)


def hash_uniform(seed: int, salt: int, positions: tf.Tensor) -> tf.Tensor:
    """float64 numbers in [0, 1), one per position, fixed by (seed, salt, position)."""
    key = splitmix64(splitmix64(seed) ^ (salt * _GOLDEN))
    x = tf.cast(positions, tf.uint64) * tf.constant(_GOLDEN, tf.uint64) + tf.constant(key, tf.uint64)
    bits = tf.bitwise.right_shift(_mix(x), tf.constant(11, tf.uint64))  # The top 53 bits.
    return tf.cast(bits, tf.float64) / float(1 << 53)


def _positions(start: int, num_pipelines: int, pipeline_id: int) -> tf.data.Dataset:
    return tf.data.Dataset.range(start + pipeline_id, _STREAM_END, num_pipelines)


class UniformWordSampler:
    """Draw a word uniformly among the words that have train images, then one of them.

    Words of the dictionary with no train image (possible with a reused
    vocabulary) cannot be drawn; every drawn record holds its drawn word.
    """

    name = "uniform_per_word"

    def __init__(self, index: TrainIndex, seed: int = 0, num_words: int | None = None):
        """num_words: draw only among the first (most frequent) num_words words."""
        counts = index.word_counts()
        self.seed = seed
        drawable = counts > 0
        if num_words is not None:
            drawable[num_words:] = False
        self.drawable_words = np.flatnonzero(drawable).astype(np.int32)
        if len(self.drawable_words) == 0:
            raise ValueError("the train index has no word with an image")
        self._words = tf.constant(self.drawable_words)
        self._counts = tf.constant(counts, tf.int64)
        self._offsets = tf.constant(index.word_offsets, tf.int64)
        self._records = tf.constant(index.word_records)

    def draw(self, positions: tf.Tensor) -> dict:
        """{"record": int64, "word": int32} for each int64 position."""
        pick = hash_uniform(self.seed, 1, positions) * len(self.drawable_words)
        words = tf.gather(self._words, tf.cast(pick, tf.int64))
        within = tf.cast(hash_uniform(self.seed, 2, positions) * tf.cast(tf.gather(self._counts, words), tf.float64),
                         tf.int64)
        records = tf.gather(self._records, tf.gather(self._offsets, words) + within)
        return {"position": positions, "record": tf.cast(records, tf.int64), "word": words}

    def dataset(self, start: int = 0, num_pipelines: int = 1, pipeline_id: int = 0, block: int = 1024):
        """Draws at positions start + pipeline_id, + num_pipelines, ... forever."""
        return _positions(start, num_pipelines, pipeline_id).batch(block).map(self.draw).unbatch()


class NaturalSampler:
    """Every train record once per epoch, in a seeded shuffled order; no target word."""

    name = "natural"

    def __init__(self, index: TrainIndex, seed: int = 0, num_words: int | None = None):
        del num_words  # Every record is read; the pipeline drops words past num_words.
        self.seed = seed
        self.num_records = index.num_records

    def epoch_order(self, epoch) -> tf.Tensor:
        """The records of one epoch, in order (a permutation of all train records)."""
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(epoch, tf.int64)])
        return tf.random.experimental.stateless_shuffle(tf.range(self.num_records, dtype=tf.int64), seed)

    def dataset(self, start: int = 0, num_pipelines: int = 1, pipeline_id: int = 0, block: int = 1024):
        del block  # An epoch is produced at once.
        n = self.num_records

        def epoch(e):
            positions = tf.range(e * n, (e + 1) * n, dtype=tf.int64)
            return tf.data.Dataset.from_tensor_slices(
                {"position": positions, "record": self.epoch_order(e), "word": tf.fill([n], -1)})

        stream = tf.data.Dataset.range(start // n, _STREAM_END).flat_map(epoch).skip(start % n)
        return stream.shard(num_pipelines, pipeline_id)


SAMPLERS = {cls.name: cls for cls in (UniformWordSampler, NaturalSampler)}
