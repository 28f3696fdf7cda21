"""VOC 2007 average precision against hand-computed cases and a brute force."""

import numpy as np
import pytest

from wsl_tf.eval.metrics import average_precision_voc07


def test_voc07_average_precision_on_hand_computed_cases():
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
