"""Exactness of the samplers (chi-square on a Zipf dataset), determinism, resume, splitting."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from tests.helpers import zipf_index
from wsl_tf.input.index import TrainIndex
from wsl_tf.input.sampling import (
    NaturalSampler,
    NegativeDrawer,
    UniformWordSampler,
    hash_uniform,
    negative_draw_probability,
    splitmix64,
    uniform_word_inclusion,
    word_inclusion,
)


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
        counts = (
            np.array([np.sum(drawn == r) for r in own])
            if len(own) < 60
            else np.bincount(np.searchsorted(own, drawn), minlength=len(own))
        )
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
    empty = TrainIndex(
        np.zeros(1, np.int32),
        np.zeros(1, np.int64),
        np.zeros(1, np.int32),
        np.zeros(3, np.int64),
        np.zeros(0, np.int32),
    )
    with pytest.raises(ValueError, match="no word with an image"):
        UniformWordSampler(empty)


def test_num_words_restricts_the_draws_to_the_most_frequent_words(index):
    words = UniformWordSampler(index, seed=1, num_words=10).draw(tf.range(20000, dtype=tf.int64))["word"].numpy()
    assert set(words.tolist()) == set(range(10))


# --- Inclusion probabilities: each word's chance of entering a replica's step -------------------------------


def hand_index() -> TrainIndex:
    """4 records: r0 {0, 1}, r1 {0}, r2 {1, 2}, r3 {0}; N_k = 3, 2, 1."""
    records = {0: [0, 1, 3], 1: [0, 2], 2: [2]}
    offsets = np.cumsum([0] + [len(records[w]) for w in range(3)])
    zeros = np.zeros(4)
    return TrainIndex(
        zeros.astype(np.int32),
        zeros.astype(np.int64),
        zeros.astype(np.int32),
        offsets.astype(np.int64),
        np.array(sum(records.values(), []), np.int32),
    )


def test_inclusion_by_hand_for_each_sampler_and_labels():
    index = hand_index()
    natural = word_inclusion(index, "natural", "all_words", 3, batch_size=2)
    np.testing.assert_allclose(natural.label, [3 / 4, 2 / 4, 1 / 4])
    # Two distinct records of four: none of word 0's 3 records is impossible; C(2, 2) / C(4, 2) = 1 / 6; 3 / 6.
    np.testing.assert_allclose(natural.batch, [1, 5 / 6, 1 / 2])
    # Given one record without the word, the other is one of the 3 others: none of them with word k.
    np.testing.assert_allclose(natural.others, [1, 2 / 3, 1 / 3])
    sampled = word_inclusion(index, "uniform_per_word", "sampled_word", 3, batch_size=2)
    np.testing.assert_allclose(sampled.label, [1 / 3] * 3)
    np.testing.assert_allclose(sampled.batch, [5 / 9] * 3)  # 1 - (2 / 3)^2.
    every = word_inclusion(index, "uniform_per_word", "all_words", 3, batch_size=2)
    # Record draws: r0 (1/3)(1/3 + 1/2) = 5/18, r1 2/18, r2 (1/3)(1/2 + 1) = 9/18, r3 2/18.
    np.testing.assert_allclose(every.label, [9 / 18, 14 / 18, 9 / 18])
    np.testing.assert_allclose(every.batch, [3 / 4, 1 - (4 / 18) ** 2, 3 / 4])
    np.testing.assert_allclose(every.others, every.label)
    np.testing.assert_allclose(every.step, every.batch)  # No extra negatives.


def test_uniform_all_words_label_rates_match_the_samplers_draws(index, draws):
    _, records = draws
    inclusion = word_inclusion(index, "uniform_per_word", "all_words", index.num_words, batch_size=1)
    has = np.zeros(index.num_words)
    for word in range(index.num_words):
        has[word] = np.isin(records, index.records_of(word)).mean()
    error = np.sqrt(inclusion.label * (1 - inclusion.label) / len(records))
    assert np.all(np.abs(has - inclusion.label) <= 4 * error + 1e-12)


def test_natural_batch_inclusion_matches_the_samplers_epochs(index):
    sampler, batch = NaturalSampler(index, seed=2), 16
    inclusion = word_inclusion(index, "natural", "all_words", index.num_words, batch)
    word_of = [set() for _ in range(index.num_records)]
    for word in range(index.num_words):
        for record in index.records_of(word):
            word_of[record].add(word)
    seen, batches = np.zeros(index.num_words), 0
    for epoch in range(12):
        order = sampler.epoch_order(epoch).numpy()
        for start in range(0, len(order) - batch + 1, batch):
            words = set().union(*(word_of[r] for r in order[start : start + batch]))
            seen[list(words)] += 1
            batches += 1
    error = np.sqrt(inclusion.batch * (1 - inclusion.batch) / batches)
    assert np.all(np.abs(seen / batches - inclusion.batch) <= 4 * error + 1e-12)
    naive = 1 - (1 - index.word_counts() / index.num_records) ** batch  # With replacement: measurably off.
    assert np.max(np.abs(naive - inclusion.batch)) > 0


@pytest.mark.parametrize("negatives_by", ["uniform", "count"])
def test_extra_negatives_are_drawn_at_their_stated_rate_and_fixed_by_position(index, negatives_by):
    drawer = NegativeDrawer(index, 30, 8, negatives_by, seed=4)
    draws = np.concatenate([drawer.draw(tf.constant(p, tf.int64)).numpy() for p in range(0, 8_000, 16)])
    np.testing.assert_array_equal(drawer.draw(tf.constant(32, tf.int64)), draws[16:24])  # Position 32: the 3rd.
    rate = negative_draw_probability(index, 30, negatives_by)
    assert stats.chisquare(np.bincount(draws, minlength=30), rate * len(draws)).pvalue > 1e-3
    inclusion = word_inclusion(index, "natural", "all_words", 30, 16, negatives=8, negatives_by=negatives_by)
    np.testing.assert_allclose(inclusion.negatives, 1 - (1 - rate) ** 8)
    np.testing.assert_allclose(inclusion.step, 1 - (1 - inclusion.batch) * (1 - inclusion.negatives))


def test_synthetic_uniform_inclusion_counts_its_extra_negatives_by_hand():
    k, batch, negatives = 50, 8, 20
    inclusion = uniform_word_inclusion(k, batch, negatives)
    np.testing.assert_allclose(inclusion.negatives, 1 - (1 - 1 / k) ** negatives)
    np.testing.assert_allclose(inclusion.batch, 1 - (1 - 1 / k) ** batch)
    # A word is among a step's classes unless both the batch and every extra draw missed it.
    np.testing.assert_allclose(inclusion.step, 1 - (1 - 1 / k) ** (batch + negatives))
    assert not uniform_word_inclusion(k, batch).negatives.any()
