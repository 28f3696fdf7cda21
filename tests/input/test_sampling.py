"""Exactness of the samplers (chi-square on a Zipf dataset), determinism, resume, splitting."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from wsl_tf.input.index import TrainIndex
from wsl_tf.input.sampling import NaturalSampler, UniformWordSampler, hash_uniform, splitmix64


def zipf_index(num_records=4000, num_words=40, seed=0, empty_every=25):
    """Records with 1-4 Zipf-distributed words; every 25th record has none; the last word none."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, num_words)  # Word num_words - 1 never occurs.
    p /= p.sum()
    pairs = []
    for record in range(num_records):
        if record % empty_every:
            for word in set(rng.choice(num_words - 1, size=rng.integers(1, 5), p=p)):
                pairs.append((word, record))
    pairs.sort()
    words = np.array([w for w, _ in pairs])
    offsets = np.concatenate([[0], np.cumsum(np.bincount(words, minlength=num_words))])
    zeros = np.zeros(num_records)
    return TrainIndex(zeros.astype(np.int32), zeros.astype(np.int64), zeros.astype(np.int32),
                      offsets.astype(np.int64), np.array([r for _, r in pairs], np.int32))


@pytest.fixture(scope="module")
def index():
    return zipf_index()


@pytest.fixture(scope="module")
def draws(index):
    sampler = UniformWordSampler(index, seed=7)
    out = sampler.draw(tf.range(300_000, dtype=tf.int64))
    return out["word"].numpy(), out["record"].numpy()


def test_hash_matches_a_python_splitmix64_reference():
    positions = [0, 1, 2, 12345, 2**40 + 3]
    got = hash_uniform(11, 3, tf.constant(positions, tf.int64)).numpy()
    key = splitmix64(splitmix64(11) ^ (3 * 0x9E3779B97F4A7C15))
    expected = [(splitmix64(p * 0x9E3779B97F4A7C15 + key) >> 11) / 2.0**53 for p in positions]
    np.testing.assert_array_equal(got, expected)


def test_word_marginal_is_uniform_over_words_with_images(index, draws):
    words, _ = draws
    counts = np.bincount(words, minlength=index.num_words)
    assert counts[-1] == 0  # The word without images is never drawn.
    assert stats.chisquare(counts[:-1]).pvalue > 1e-3
    frequencies = index.word_counts()[:-1] / index.word_counts().sum()
    naive = np.bincount(np.random.default_rng(0).choice(len(frequencies), size=len(words), p=frequencies))
    assert stats.chisquare(naive).pvalue < 1e-10  # The test tells apart sampling by image frequency.


def test_images_within_a_word_are_uniform_and_hold_the_word(index, draws):
    words, records = draws
    statistic, dof = 0.0, 0
    for word in range(index.num_words - 1):
        own = index.records_of(word)
        drawn = records[words == word]
        assert np.isin(drawn, own).all()
        counts = np.array([np.sum(drawn == r) for r in own]) if len(own) < 60 else \
            np.bincount(np.searchsorted(own, drawn), minlength=len(own))
        expected = len(drawn) / len(own)
        statistic += ((counts - expected) ** 2 / expected).sum()
        dof += len(own) - 1
    assert stats.chi2.sf(statistic, dof) > 1e-3


def test_records_without_a_dictionary_word_are_never_drawn(draws):
    _, records = draws
    assert not np.any(records % 25 == 0)


def test_draws_are_fixed_by_seed_and_position(index):
    a = UniformWordSampler(index, seed=1).draw(tf.constant([5, 6, 7], tf.int64))
    b = UniformWordSampler(index, seed=1).draw(tf.constant([7, 5, 6], tf.int64))
    c = UniformWordSampler(index, seed=2).draw(tf.constant([5, 6, 7], tf.int64))
    assert a["record"].numpy().tolist() == [b["record"].numpy()[i] for i in (1, 2, 0)]
    assert a["record"].numpy().tolist() != c["record"].numpy().tolist()


def take(dataset, n):
    return [{k: int(v) for k, v in d.items()} for d in dataset.take(n).as_numpy_iterator()]


@pytest.mark.parametrize("sampler_class", [UniformWordSampler, NaturalSampler])
def test_resuming_at_a_position_continues_the_same_stream(index, sampler_class):
    sampler = sampler_class(index, seed=3)
    whole = take(sampler.dataset(0), 9000)  # Crosses an epoch boundary for the natural sampler.
    assert take(sampler.dataset(5000), 4000) == whole[5000:]


@pytest.mark.parametrize("sampler_class", [UniformWordSampler, NaturalSampler])
def test_input_pipelines_split_the_stream_by_position(index, sampler_class):
    sampler = sampler_class(index, seed=3)
    whole = take(sampler.dataset(100), 3000)
    parts = [take(sampler.dataset(100, num_pipelines=3, pipeline_id=i), 1000) for i in range(3)]
    assert [d["position"] for d in parts[1]] == list(range(101, 3100, 3))
    merged = sorted((d for part in parts for d in part), key=lambda d: d["position"])
    assert merged == whole


def test_natural_sampler_visits_every_record_once_per_epoch_in_a_new_order(index):
    n = index.num_records
    stream = take(NaturalSampler(index, seed=5).dataset(0), 2 * n)
    first, second = [d["record"] for d in stream[:n]], [d["record"] for d in stream[n:]]
    assert sorted(first) == list(range(n)) and sorted(second) == list(range(n))
    assert first != second and first != list(range(n))
    assert {d["word"] for d in stream} == {-1}


def test_an_index_without_words_is_refused():
    empty = TrainIndex(np.zeros(1, np.int32), np.zeros(1, np.int64), np.zeros(1, np.int32),
                       np.zeros(3, np.int64), np.zeros(0, np.int32))
    with pytest.raises(ValueError, match="no word with an image"):
        UniformWordSampler(empty)


def test_num_words_restricts_the_draws_to_the_most_frequent_words(index):
    words = UniformWordSampler(index, seed=1, num_words=10).draw(tf.range(20000, dtype=tf.int64))["word"].numpy()
    assert set(words.tolist()) == set(range(10))
