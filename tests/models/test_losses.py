"""Both losses against numpy, full against in-batch, the paper's bounds, and the sampling corrections by Monte Carlo."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import log_softmax, logsumexp

from tests.helpers import zipf_index
from wsl_tf.input.sampling import NaturalSampler, UniformWordSampler, word_inclusion
from wsl_tf.models import MultiClassLogisticLoss, OneVsAllLogisticLoss, full_targets
from wsl_tf.train.word_rows import in_batch_targets

RNG = np.random.default_rng(0)


def softplus(x):
    return np.logaddexp(0, x)


def numpy_softmax_loss(logits, targets):
    """The paper's targets: the image's words as a uniform distribution."""
    uniform = targets / np.maximum(targets.sum(axis=1, keepdims=True), 1)
    return np.mean(-(uniform * log_softmax(logits, axis=1)).sum(axis=1))


def numpy_ova_per_image(logits, targets, counts, n, balance="weights"):
    """Class-balanced terms per image: the paper's positives / N_k, negatives / (N - N_k), times N; or each logit
    shifted by log(N_k / (N - N_k)), unweighted."""
    if balance == "weights":
        return (n * (targets / counts * softplus(-logits) + (1 - targets) / (n - counts) * softplus(logits))).sum(1)
    shifted = logits + np.log(counts / (n - counts))
    return (targets * softplus(-shifted) + (1 - targets) * softplus(shifted)).sum(axis=1)


def random_labels(batch, classes, per_image):
    return np.stack(
        [
            np.pad(RNG.choice(classes, per_image - (b % 2), replace=False), (0, b % 2), constant_values=-1)
            for b in range(batch)
        ]
    )


def gathered(statistics: dict, classes) -> dict:
    """The loss's per-word vectors at the step's classes, as the trainer gathers them."""
    return {name: tf.gather(tf.constant(values), classes) for name, values in statistics.items()}


def test_multiclass_loss_matches_numpy():
    logits = RNG.normal(size=(6, 30)) * 3
    labels = random_labels(6, 30, 3)
    labels[0] = -1  # An image with no target word adds nothing (and is not a division by zero).
    targets = full_targets(tf.constant(labels), 30).numpy()
    assert set(targets.sum(axis=1)) == {0, 2, 3}
    got = MultiClassLogisticLoss()(tf.constant(targets), tf.constant(logits, tf.float32)).numpy()
    assert got == pytest.approx(numpy_softmax_loss(logits, targets), rel=1e-5)


@pytest.mark.parametrize("balance", ["weights", "logit_adjusted"])
def test_one_vs_all_loss_matches_numpy(balance):
    counts, n = RNG.integers(1, 500, size=30), 1000
    logits, labels = RNG.normal(size=(6, 30)) * 3, random_labels(6, 30, 3)
    targets = full_targets(tf.constant(labels), 30).numpy()
    loss = OneVsAllLogisticLoss.from_counts(counts, n, balance)
    # The paper's form: a mean over words; the adjusted one: per label an image has on average.
    assert loss.scale == pytest.approx(30 if balance == "weights" else counts.sum() / n)
    got = loss(tf.constant(targets), tf.constant(logits, tf.float32)).numpy()
    expected = np.mean(numpy_ova_per_image(logits, targets, counts, n, balance)) / loss.scale
    assert got == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(loss.positive_rates, counts / n)


def test_both_balances_have_the_balanced_log_odds_as_minimiser():
    """One word, an image holding it with probability t: each form's expected gradient in z vanishes at
    z = logit(t) - logit(p), the balanced log-odds."""
    p = 0.02
    z = tf.constant(np.linspace(-8, 8, 3201)[:, None], tf.float32)  # One image per candidate logit.
    for balance in ("weights", "logit_adjusted"):
        loss = OneVsAllLogisticLoss([p], balance)
        slopes = []
        for label in (1.0, 0.0):
            with tf.GradientTape() as tape:
                tape.watch(z)
                value = loss(tf.fill(tf.shape(z), label), z)
            slopes.append(tape.gradient(value, z).numpy()[:, 0])
        for t in (0.01, 0.3, 0.9):
            expected = t * slopes[0] + (1 - t) * slopes[1]  # Increasing in z: one zero crossing.
            root = float(z[int(np.argmax(expected > 0)), 0])
            assert root == pytest.approx(np.log(t / (1 - t)) - np.log(p / (1 - p)), abs=0.01)


def test_in_batch_losses_equal_the_full_losses_when_the_batch_holds_every_class():
    k = 12
    labels = np.array([[c, (c + 5) % k] for c in range(k)])  # Every class is some image's label.
    logits = RNG.normal(size=(k, k)).astype(np.float32) * 2
    classes, targets = in_batch_targets(tf.constant(labels))
    order = classes.numpy()
    full = full_targets(tf.constant(labels), k)
    counts = RNG.integers(1, 50, size=k)
    for loss in (
        MultiClassLogisticLoss(),
        OneVsAllLogisticLoss.from_counts(counts, 100, "weights"),
        OneVsAllLogisticLoss.from_counts(counts, 100),
    ):
        sampled = loss(targets, tf.constant(logits[:, order]), gathered(loss.word_statistics(), classes)).numpy()
        assert sampled == pytest.approx(loss(full, tf.constant(logits)).numpy(), rel=1e-5)


@pytest.mark.parametrize("balance", ["weights", "logit_adjusted"])
def test_uncorrected_in_batch_one_vs_all_is_the_exact_sum_of_the_full_terms_for_those_words(balance):
    counts, n, k = RNG.integers(1, 500, size=40), 1000, 40
    labels = random_labels(8, 40, 3)
    logits = RNG.normal(size=(8, k)) * 2
    classes, targets = in_batch_targets(tf.constant(labels))
    c = classes.numpy()
    loss = OneVsAllLogisticLoss.from_counts(counts, n, balance)
    got = loss(targets, tf.constant(logits[:, c], tf.float32), gathered(loss.word_statistics(), classes)).numpy()
    full = full_targets(tf.constant(labels), k).numpy()
    expected = np.mean(numpy_ova_per_image(logits[:, c], full[:, c], counts[c], n, balance)) / loss.scale
    assert got == pytest.approx(expected, rel=1e-5)


def test_extra_negatives_join_the_classes_as_negatives():
    labels = tf.constant([[3, -1], [5, 3]])
    classes, targets = in_batch_targets(labels, negatives=tf.constant([9, 3, 11]))
    assert sorted(classes.numpy()) == [3, 5, 9, 11]
    truth = {(b, int(c)) for b, row in enumerate(labels.numpy()) for c in row if c >= 0}
    for b in range(2):
        for j, c in enumerate(classes.numpy()):
            assert targets[b, j] == float((b, int(c)) in truth)


def test_the_corrected_softmax_subtracts_the_log_inclusion_of_the_words_an_image_does_not_have():
    logits = RNG.normal(size=(5, 7)) * 2
    targets = np.eye(7)[RNG.integers(0, 7, size=5)]
    targets[0, 3] = 1.0  # An image with two words.
    inclusion = RNG.uniform(0.01, 1.0, size=7)
    loss = MultiClassLogisticLoss()
    statistics = loss.word_statistics(type("Inclusion", (), {"step_others": inclusion})())
    np.testing.assert_allclose(statistics["log_inclusion"], np.log(inclusion), rtol=1e-6)
    got = loss(tf.constant(targets), tf.constant(logits, tf.float32), gathered(statistics, tf.range(7))).numpy()
    corrected = logits - (1 - targets) * np.log(inclusion)  # An image's own words are in the step surely.
    assert got == pytest.approx(numpy_softmax_loss(corrected, targets), rel=1e-5)
    assert loss.word_statistics(None) == {}  # Uncorrected: the paper's form reads nothing.


@pytest.mark.parametrize("scale", [0.5, 2.0, 4.0])
def test_the_in_batch_softmax_loss_keeps_the_papers_bounds_under_uniform_word_sampling(scale):
    """The uncorrected in-batch loss L_C against its full loss L_K, batch words drawn uniformly (the paper's sampler).

    Per image, L_K - L_C = log Z - log sum_C exp(z_c) with C the batch's
    distinct words: never negative (C is a subset, and holds the image's own
    word), and since C is then a uniform random subset, Jensen gives
    E[log sum_C exp(z_c)] <= log Z + log(E|C| / K): the in-batch loss
    underestimates the full one by at least log(K / E|C|) on average.
    """
    k, batch, draws = 2000, 64, 300
    logits = tf.constant(RNG.standard_t(df=3, size=(batch, k)) * scale, tf.float32)  # Heavy-tailed scores.
    loss = MultiClassLogisticLoss()
    gaps, sizes = [], []
    for _ in range(draws):
        labels = tf.constant(RNG.integers(0, k, size=(batch, 1)))
        classes, targets = in_batch_targets(labels)
        in_batch = float(loss(targets, tf.gather(logits, classes, axis=1)))
        full = float(loss(full_targets(labels, k), logits))
        assert in_batch <= full + 1e-4
        gaps.append(full - in_batch)
        sizes.append(int(tf.size(classes)))
    expected_size = k * (1 - (1 - 1 / k) ** batch)
    assert np.mean(sizes) == pytest.approx(expected_size, rel=0.01)
    standard_error = np.std(gaps) / np.sqrt(draws)
    assert np.mean(gaps) >= np.log(k / expected_size) - 3 * standard_error - 1e-4


def test_one_vs_all_rejects_impossible_counts():
    with pytest.raises(ValueError, match="0 < N_k < num_images"):
        OneVsAllLogisticLoss.from_counts([0, 3], 10)
    with pytest.raises(ValueError, match="0 < p_k < 1"):
        OneVsAllLogisticLoss([0.5, 1.0])


# --- Monte Carlo: the in-batch loss over the sampler's batches against the full loss ---------------------------

MC_RECORDS, MC_WORDS, MC_BATCH = 80, 20, 4


def mc_index():
    """80 records with 1-4 Zipf words among MC_WORDS, each of which has train images (the index's last, extra
    word has none: a word no step can hold is not part of what the in-batch loss estimates)."""
    return zipf_index(num_records=MC_RECORDS, num_words=MC_WORDS + 1, seed=5, empty_every=1000)


def padded_labels(index, records) -> np.ndarray:
    """[B, 4] word ids (of the first MC_WORDS) of the records, -1 padded, from the index's CSR lists."""
    words = [[w for w in range(MC_WORDS) if r in set(index.records_of(w))] for r in records]
    return np.array([w + [-1] * (4 - len(w)) for w in words])


def sampler_batches(index, sampler: str, draws: int):
    """Record ids [draws, B] as the run's sampler draws them: uniform per word (independent draws) or natural
    (B distinct records of an epoch's permutation)."""
    if sampler == "uniform_per_word":
        out = UniformWordSampler(index, seed=3).draw(tf.range(draws * MC_BATCH, dtype=tf.int64))
        return out["record"].numpy().reshape(draws, MC_BATCH)
    natural = NaturalSampler(index, seed=3)
    per_epoch = index.num_records // MC_BATCH
    epochs = [
        natural.epoch_order(e).numpy()[: per_epoch * MC_BATCH].reshape(per_epoch, MC_BATCH)
        for e in range(-(-draws // per_epoch))
    ]
    return np.concatenate(epochs)[:draws]


def record_probability(index, sampler: str) -> np.ndarray:
    """pi_r, the chance a draw is record r: natural 1 / N; uniform per word (1 / W) sum over r's words of 1 / N_w."""
    if sampler == "natural":
        return np.full(index.num_records, 1.0 / index.num_records)
    counts = index.word_counts()[:MC_WORDS]
    pi = np.zeros(index.num_records)
    drawable = np.flatnonzero(counts)
    for w in drawable:
        pi[index.records_of(w)] += 1.0 / counts[w] / len(drawable)
    return pi


@pytest.mark.parametrize(
    "sampler,balance", [("natural", "weights"), ("natural", "logit_adjusted"), ("uniform_per_word", "logit_adjusted")]
)
def test_corrected_in_batch_one_vs_all_has_the_full_loss_and_gradient_in_expectation(sampler, balance):
    """Over many of the sampler's batches, the mean in-batch one-vs-all loss and gradient (with respect to every
    record's logits) converge to the full loss's, pi-weighted over records, when negatives carry
    (1 - p) / (s - p); the uncorrected form (the paper's) stays far off."""
    index = mc_index()
    inclusion = word_inclusion(index, sampler, "all_words", MC_WORDS, MC_BATCH)
    assert np.all(inclusion.step > 0)
    loss = OneVsAllLogisticLoss(inclusion.label, balance, scale=1.0)
    logits = tf.Variable(RNG.normal(size=(MC_RECORDS, MC_WORDS)).astype(np.float32))
    labels = padded_labels(index, range(MC_RECORDS))
    pi = record_probability(index, sampler)
    with tf.GradientTape() as tape:  # The full loss: E over one draw of the per-image loss, times B / B.
        per_image = [
            loss(full_targets(tf.constant(labels[r : r + 1]), MC_WORDS), logits[r : r + 1]) for r in range(MC_RECORDS)
        ]
        full = tf.reduce_sum(tf.constant(pi, tf.float32) * tf.stack(per_image))
    full_gradient = tape.gradient(full, logits).numpy()

    batches = sampler_batches(index, sampler, 4000)
    estimates = {}
    for name, statistics in (("corrected", loss.word_statistics(inclusion)), ("uncorrected", loss.word_statistics())):
        tables = {key: tf.constant(values) for key, values in statistics.items()}

        @tf.function
        def step(records, batch_labels, tables=tables):
            """The in-batch loss of one batch, as the trainer computes it, and its gradient."""
            classes, targets = in_batch_targets(batch_labels)
            with tf.GradientTape() as tape:
                batch_logits = tf.gather(tf.gather(logits, records), classes, axis=1)
                value = loss(targets, batch_logits, {key: tf.gather(t, classes) for key, t in tables.items()})
            return value, tf.convert_to_tensor(tape.gradient(value, logits))

        values, gradient = [], np.zeros_like(full_gradient)
        for records in batches:
            value, batch_gradient = step(tf.constant(records), tf.constant(labels[records]))
            values.append(float(value))
            gradient += batch_gradient.numpy()
        estimates[name] = (np.mean(values), np.std(values) / np.sqrt(len(values)), gradient / len(batches))
    mean, error, gradient = estimates["corrected"]
    assert abs(mean - float(full)) < 4 * error
    corrected_gap = np.linalg.norm(gradient - full_gradient) / np.linalg.norm(full_gradient)
    mean, error, gradient = estimates["uncorrected"]
    assert abs(mean - float(full)) > 10 * error
    uncorrected_gap = np.linalg.norm(gradient - full_gradient) / np.linalg.norm(full_gradient)
    print(f"gradient relative error: corrected {corrected_gap:.3f}, uncorrected {uncorrected_gap:.3f}")
    assert corrected_gap < 0.08 and uncorrected_gap > 2 * corrected_gap


@pytest.mark.parametrize("negatives", [0, 3])
def test_the_corrected_softmax_normaliser_is_unbiased_over_natural_batches(negatives):
    """Per image, its own words' exp(z_c) plus the other classes' exp(z_c) / s'_c, averaged over the images of
    natural batches (with extra uniform negatives or not), is the full normaliser sum_K exp(z_c)
    (Horvitz-Thompson); the uncorrected sum over the step's classes falls short by the words each step misses."""
    index = mc_index()
    inclusion = word_inclusion(index, "natural", "all_words", MC_WORDS, MC_BATCH, negatives=negatives)
    z = RNG.normal(size=MC_WORDS) * 2
    batches = sampler_batches(index, "natural", 4000)
    labels = padded_labels(index, range(MC_RECORDS))
    rng = np.random.default_rng(1)
    corrected, uncorrected = [], []
    for records in batches:
        extra = rng.integers(0, MC_WORDS, size=negatives)  # What NegativeDrawer draws uniformly.
        classes = np.union1d(labels[records][labels[records] >= 0], extra)  # The step's distinct words.
        for record in records:
            own = np.isin(classes, labels[record])
            weights = np.where(own, 1.0, 1.0 / inclusion.step_others[classes])
            corrected.append(np.sum(np.exp(z[classes]) * weights))
            uncorrected.append(np.sum(np.exp(z[classes])))
    full = np.exp(logsumexp(z))
    error = np.std(corrected) / np.sqrt(len(batches))  # Images of a batch are not independent: per batch.
    assert np.mean(corrected) == pytest.approx(full, abs=4 * error)
    assert np.mean(uncorrected) < full - 10 * np.std(uncorrected) / np.sqrt(len(batches))
