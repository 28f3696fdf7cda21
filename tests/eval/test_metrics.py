import numpy as np
import pytest
import tensorflow as tf

from wsl_tf.eval.metrics import precision_at_k


def numpy_precision_at_k(scores, labels, k):
    values = []
    for s, l in zip(scores, labels):
        truth = set(l[l >= 0].tolist())
        if truth:
            values.append(len(set(np.argsort(-s)[:k].tolist()) & truth) / k)
    return np.mean(values)


@pytest.mark.parametrize("k", [1, 5, 10])
def test_matches_a_numpy_reference(k):
    rng = np.random.default_rng(k)
    scores = rng.normal(size=(40, 60))
    labels = np.full((40, 6), -1)
    for i in range(40):
        if i % 7:  # Every 7th image has no word and is not counted.
            labels[i, : 1 + i % 6] = rng.choice(60, size=1 + i % 6, replace=False)
    labels[3, :3] = np.argsort(-scores[3])[:3]  # Some certain hits.
    total, count = precision_at_k(tf.constant(scores), tf.constant(labels), k)
    assert count.numpy() == 34
    assert total.numpy() / count.numpy() == pytest.approx(numpy_precision_at_k(scores, labels, k))


def test_perfect_and_hopeless_predictions():
    scores = tf.constant([[0.0, 9.0, 8.0], [9.0, 0.0, 1.0]])
    total, count = precision_at_k(scores, tf.constant([[1, 2], [0, -1]]), 1)
    assert total.numpy() / count.numpy() == 1.0
    total, _ = precision_at_k(scores, tf.constant([[0, -1], [1, -1]]), 1)
    assert total.numpy() == 0.0
