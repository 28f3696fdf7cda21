"""Samplers: which train record (and target word) comes at each stream position.

Joulin et al.: "it is essential to sample data uniformly per class": pick a
word uniformly at random, then an image that has that word, uniformly.

Design. One tf.data pipeline per word, interleaved, would not scale:
`choose_from_datasets` over 10,000 per-word datasets takes 32 s to build and
212 s to its first element (tensorflow#29753 fails near 7,300), and one
`filter` per word reads the data K times. The per-word view is kept
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

Inclusion probabilities. The in-batch word layer computes only the words of
a replica's batch (plus any extra negatives), so a frequent word is among
them far more often than a rare one; its loss must be corrected for that
(the log-Q correction of the sampled softmax, Bengio & Senecal 2008, Yi et
al. 2019; for one-vs-all, its negatives reweighted). `word_inclusion` gives,
for the first K words, the chance that a word is among one drawn image's
labels, among a replica's batch's labels, and among the step's extra
negative draws, computed exactly from the train index for each sampler and
label choice.
"""

import dataclasses

import numpy as np
import tensorflow as tf
from scipy.special import gammaln

from wsl_tf.errors import ConfigError, DataError
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
            raise DataError("the train index has no word with an image")
        self._words = tf.constant(self.drawable_words)
        self._counts = tf.constant(counts, tf.int64)
        self._offsets = tf.constant(index.word_offsets, tf.int64)
        self._records = tf.constant(index.word_records)

    def draw(self, positions: tf.Tensor) -> dict:
        """{"record": int64, "word": int32} for each int64 position."""
        pick = hash_uniform(self.seed, 1, positions) * len(self.drawable_words)
        words = tf.gather(self._words, tf.cast(pick, tf.int64))
        within = tf.cast(
            hash_uniform(self.seed, 2, positions) * tf.cast(tf.gather(self._counts, words), tf.float64), tf.int64
        )
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
                {"position": positions, "record": self.epoch_order(e), "word": tf.fill([n], -1)}
            )

        stream = tf.data.Dataset.range(start // n, _STREAM_END).flat_map(epoch).skip(start % n)
        return stream.shard(num_pipelines, pipeline_id)


SAMPLERS = {cls.name: cls for cls in (UniformWordSampler, NaturalSampler)}

# Extra negatives: words drawn at a known rate and added to each replica step's classes.
NEGATIVE_DRAWS = ("uniform", "count")


@dataclasses.dataclass(frozen=True)
class WordInclusion:
    """For each of the first K words: how often it enters one replica's training step.

    label: p_c, the chance that word c is among the labels of one drawn image.
    batch: q_c, the chance that it is among the labels of a replica's batch.
    others: the chance that it is among the labels of the batch's other
        B - 1 images, given one image (which does not have it): what an image's
        softmax normaliser sees of the words it does not have.
    negatives: r_c, the chance that it is among the step's extra negative draws.
    how: how these were computed (said in the run's log).
    """

    label: np.ndarray
    batch: np.ndarray
    others: np.ndarray
    negatives: np.ndarray
    how: str

    @property
    def step(self) -> np.ndarray:
        """s_c: the chance that word c is among the step's classes (batch labels or extra negatives)."""
        return _either(self.batch, self.negatives)

    @property
    def step_others(self) -> np.ndarray:
        """The chance that word c is among the step's classes through another image or an extra negative."""
        return _either(self.others, self.negatives)


def _either(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 - (1 - a)(1 - b): the chance of either of two independent events."""
    return -np.expm1(np.log1p(-np.minimum(a, 1.0)) + np.log1p(-np.minimum(b, 1.0)))


def _at_least_once(p: np.ndarray, draws: int) -> np.ndarray:
    """1 - (1 - p)^draws, accurate for tiny p."""
    return -np.expm1(draws * np.log1p(-np.minimum(p, 1.0)))


def label_probability(index: TrainIndex, sampler: str, labels: str, num_words: int) -> np.ndarray:
    """p_c [num_words]: the chance that word c is among one drawn image's labels (exact).

    natural: every record once per epoch, so N_c / N. uniform_per_word with
    the sampled word as the label: 1 / W for each of the W drawable words.
    uniform_per_word with all the image's words: record r is drawn with
    probability pi_r = (1 / W) sum over its drawable words w of 1 / N_w, and
    p_c sums pi_r over the records of word c.
    """
    counts = index.word_counts()[:num_words].astype(np.float64)
    if sampler == "natural":
        return counts / max(index.num_records, 1)
    drawable = counts > 0
    if not drawable.any():
        raise DataError("the train index has no word with an image")
    if labels == "sampled_word":
        return drawable / drawable.sum()
    pairs = int(index.word_offsets[num_words])
    pair_word = np.repeat(np.arange(num_words), counts.astype(np.int64))
    pair_record = index.word_records[:pairs]
    per_pair = np.where(drawable, 1.0 / np.maximum(counts, 1.0), 0.0)[pair_word] / drawable.sum()
    record_probability = np.bincount(pair_record, weights=per_pair, minlength=index.num_records)
    return np.bincount(pair_word, weights=record_probability[pair_record], minlength=num_words)


def _none_among(records: int, counts: np.ndarray, draws: int) -> np.ndarray:
    """C(N - N_c, B) / C(N, B): the chance that B distinct records of N hold none of word c's N_c."""
    rest = records - counts
    if draws <= 0:
        return np.ones_like(counts)
    if records <= draws:
        return (counts == 0).astype(np.float64)
    none = np.exp(
        gammaln(rest + 1)
        - gammaln(np.maximum(rest - draws, 0) + 1)
        - gammaln(records + 1)
        + gammaln(records - draws + 1)
    )
    return np.where(rest >= draws, none, 0.0)


def word_inclusion(
    index: TrainIndex,
    sampler: str,
    labels: str,
    num_words: int,
    batch_size: int,
    negatives: int = 0,
    negatives_by: str = "uniform",
) -> WordInclusion:
    """Each word's chance of entering a replica's step of `batch_size` images (see WordInclusion).

    The uniform sampler's draws are independent: q_c = 1 - (1 - p_c)^B. The
    natural sampler's batch is B distinct records of one epoch's permutation:
    q_c = 1 - C(N - N_c, B) / C(N, B) (hypergeometric); given one image
    without the word, the other B - 1 come from the N - 1 others. Extra
    negatives are `negatives` independent draws per step, uniform over the K
    words or in proportion to their train counts: r_c = 1 - (1 - d_c)^M.
    """
    if negatives_by not in NEGATIVE_DRAWS:
        raise ConfigError(f"negatives_by={negatives_by!r}: expected one of {', '.join(NEGATIVE_DRAWS)}")
    label = label_probability(index, sampler, labels, num_words)
    if sampler == "natural":
        n = index.num_records
        counts = index.word_counts()[:num_words].astype(np.float64)
        batch = 1.0 - _none_among(n, counts, batch_size)
        others = 1.0 - _none_among(n - 1, counts, batch_size - 1)
        how = f"exact: natural sampling, batches of {batch_size} distinct records of {n} (hypergeometric)"
    else:
        batch, others = _at_least_once(label, batch_size), _at_least_once(label, batch_size - 1)
        how = f"exact: uniform-per-word sampling ({labels}), {batch_size} independent draws"
    draw = negative_draw_probability(index, num_words, negatives_by) if negatives else np.zeros(num_words)
    if negatives:
        how += (
            f"; {negatives} extra negatives per step drawn {'uniformly' if negatives_by == 'uniform' else 'by count'}"
        )
    return WordInclusion(label=label, batch=batch, others=others, negatives=_at_least_once(draw, negatives), how=how)


def uniform_word_inclusion(num_words: int, batch_size: int, negatives: int = 0) -> WordInclusion:
    """The inclusion of batches of one uniformly drawn word per image among K, plus `negatives` uniform extra
    draws a step (synthetic batches: tests, benchmarks), as word_inclusion gives it for uniform-per-word
    sampling with the sampled word."""
    label = np.full(num_words, 1.0 / num_words)
    return WordInclusion(
        label=label,
        batch=_at_least_once(label, batch_size),
        others=_at_least_once(label, batch_size - 1),
        negatives=_at_least_once(label, negatives),
        how=f"exact: one uniformly drawn word of {num_words} per image, {batch_size} per batch"
        + (f"; {negatives} extra negatives per step drawn uniformly" if negatives else ""),
    )


def negative_draw_probability(index: TrainIndex, num_words: int, negatives_by: str) -> np.ndarray:
    """d_c: the chance that one extra negative draw is word c."""
    if negatives_by == "uniform":
        return np.full(num_words, 1.0 / num_words)
    counts = index.word_counts()[:num_words].astype(np.float64)
    return counts / counts.sum()


class NegativeDrawer:
    """Extra negative words for each batch, fixed by (seed, the batch's first stream position).

    uniform: each of the first K words alike; count: in proportion to its
    train images, by drawing one of the index's (record, word) pairs.
    """

    def __init__(self, index: TrainIndex, num_words: int, negatives: int, negatives_by: str = "uniform", seed: int = 0):
        if negatives_by not in NEGATIVE_DRAWS:
            raise ConfigError(f"negatives_by={negatives_by!r}: expected one of {', '.join(NEGATIVE_DRAWS)}")
        self.num_words, self.negatives, self.negatives_by, self.seed = num_words, negatives, negatives_by, seed
        self._offsets = tf.constant(index.word_offsets[: num_words + 1], tf.int64)
        self._pairs = int(index.word_offsets[num_words])

    def draw(self, first_position: tf.Tensor) -> tf.Tensor:
        """int32 [negatives] word ids for the batch whose first stream position is given."""
        keys = tf.cast(first_position, tf.int64) * self.negatives + tf.range(self.negatives, dtype=tf.int64)
        uniform = hash_uniform(self.seed, 3, keys)
        if self.negatives_by == "uniform":
            return tf.cast(uniform * self.num_words, tf.int32)
        pair = tf.cast(uniform * self._pairs, tf.int64)
        return tf.cast(tf.searchsorted(self._offsets, pair, side="right") - 1, tf.int32)
