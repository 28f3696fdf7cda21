"""Both losses against numpy, full against in-batch, and the paper's bounds."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.special import log_softmax

from wsl_tf.models import MultiClassLogisticLoss, OneVsAllLogisticLoss, full_targets
from wsl_tf.train.word_rows import in_batch_targets

RNG = np.random.default_rng(0)


def softplus(x):
    return np.logaddexp(0, x)


def numpy_softmax_loss(logits, targets):
    """The paper's targets: the image's words as a uniform distribution."""
    uniform = targets / np.maximum(targets.sum(axis=1, keepdims=True), 1)
    return np.mean(-(uniform * log_softmax(logits, axis=1)).sum(axis=1))


def numpy_ova_loss(logits, targets, counts, n):
    k = len(counts)
    per = targets / counts * softplus(-logits) + (1 - targets) / (n - counts) * softplus(logits)
    return np.mean(per.sum(axis=1)) * n / k


def random_labels(batch, classes, per_image):
    return np.stack([np.pad(RNG.choice(classes, per_image - (b % 2), replace=False), (0, b % 2),
                            constant_values=-1) for b in range(batch)])


def test_multiclass_loss_matches_numpy():
    logits = RNG.normal(size=(6, 30)) * 3
    labels = random_labels(6, 30, 3)
    labels[0] = -1  # An image with no target word adds nothing (and is not a division by zero).
    targets = full_targets(tf.constant(labels), 30).numpy()
    assert set(targets.sum(axis=1)) == {0, 2, 3}
    got = MultiClassLogisticLoss()(tf.constant(targets), tf.constant(logits, tf.float32)).numpy()
    assert got == pytest.approx(numpy_softmax_loss(logits, targets), rel=1e-5)


def test_one_vs_all_loss_matches_numpy_with_the_papers_class_weights():
    counts, n = RNG.integers(1, 500, size=30), 1000
    logits, labels = RNG.normal(size=(6, 30)) * 3, random_labels(6, 30, 3)
    targets = full_targets(tf.constant(labels), 30).numpy()
    loss = OneVsAllLogisticLoss(counts, n)
    got = loss(tf.constant(targets), tf.constant(logits, tf.float32)).numpy()
    assert got == pytest.approx(numpy_ova_loss(logits, targets, counts, n), rel=1e-5)
    at_zero = loss(tf.constant(targets), tf.zeros((6, 30))).numpy()
    assert at_zero == pytest.approx(np.mean(numpy_ova_loss(np.zeros((6, 30)), targets, counts, n)), rel=1e-5)


def test_in_batch_losses_equal_the_full_losses_when_the_batch_holds_every_class():
    k = 12
    labels = np.array([[c, (c + 5) % k] for c in range(k)])  # Every class is some image's label.
    logits = RNG.normal(size=(k, k)).astype(np.float32) * 2
    classes, targets = in_batch_targets(tf.constant(labels))
    order = classes.numpy()
    full = full_targets(tf.constant(labels), k)
    counts = RNG.integers(1, 50, size=k)
    for loss in (MultiClassLogisticLoss(), OneVsAllLogisticLoss(counts, 100)):
        sampled = loss(targets, tf.constant(logits[:, order]), classes).numpy()
        assert sampled == pytest.approx(loss(full, tf.constant(logits)).numpy(), rel=1e-5)


def test_in_batch_one_vs_all_is_the_exact_sum_of_the_full_terms_for_those_words():
    counts, n, k = RNG.integers(1, 500, size=40), 1000, 40
    labels = random_labels(8, 40, 3)
    logits = RNG.normal(size=(8, k)) * 2
    classes, targets = in_batch_targets(tf.constant(labels))
    c = classes.numpy()
    got = OneVsAllLogisticLoss(counts, n)(targets, tf.constant(logits[:, c], tf.float32), classes).numpy()
    full_targets_np = full_targets(tf.constant(labels), k).numpy()
    per = (full_targets_np / counts * softplus(-logits) + (1 - full_targets_np) / (n - counts) * softplus(logits))
    assert got == pytest.approx(np.mean(per[:, c].sum(axis=1)) * n / k, rel=1e-5)


@pytest.mark.parametrize("scale", [0.5, 2.0, 4.0])
def test_the_in_batch_softmax_loss_keeps_the_papers_bounds_under_uniform_word_sampling(scale):
    """The package's in-batch loss L_C against its full loss L_K, with batch words drawn uniformly (the paper's sampler).

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
        in_batch = float(loss(targets, tf.gather(logits, classes, axis=1), classes))
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
        OneVsAllLogisticLoss([0, 3], 10)
