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


def test_voc07_average_precision_on_hand_computed_cases():
    from wsl_tf.eval.metrics import average_precision_voc07

    # Ranked: +, -, +, -  -> precision at recall 0.5 is 1, at recall 1.0 is 2/3.
    # 11-point: r = 0..0.5 (6 points) -> 1; r = 0.6..1.0 (5 points) -> 2/3. AP = (6 + 5 * 2/3) / 11.
    ap = average_precision_voc07([0.9, 0.8, 0.7, 0.1], [1, -1, 1, -1])
    assert ap == pytest.approx((6 + 5 * 2 / 3) / 11)
    assert average_precision_voc07([0.9, 0.1], [1, -1]) == pytest.approx(1.0)
    # Difficult (0) images are ignored: removing the top-scoring negative's effect.
    assert average_precision_voc07([0.95, 0.9, 0.8], [0, 1, -1]) == pytest.approx(1.0)
    # Worst ranking: one positive last of four -> precision 1/4 at every recall point.
    assert average_precision_voc07([0.4, 0.3, 0.2, 0.1], [-1, -1, -1, 1]) == pytest.approx(0.25)
    assert np.isnan(average_precision_voc07([0.3, 0.2], [-1, -1]))


def test_voc07_ap_matches_a_brute_force_over_random_rankings():
    from wsl_tf.eval.metrics import average_precision_voc07

    rng = np.random.default_rng(3)
    for _ in range(20):
        scores, labels = rng.normal(size=30), rng.choice([1, -1], size=30)
        if not (labels > 0).any():
            continue
        order = np.argsort(-scores)
        points = []
        for r in np.arange(0.0, 1.1, 0.1):  # The VOC devkit's thresholds.
            best = 0.0
            for cut in range(1, 31):
                top = labels[order[:cut]]
                recall = (top > 0).sum() / (labels > 0).sum()
                if recall >= r:
                    best = max(best, (top > 0).sum() / cut)
            points.append(best)
        assert average_precision_voc07(scores, labels) == pytest.approx(np.mean(points))
