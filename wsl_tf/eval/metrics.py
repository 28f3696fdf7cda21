"""Transfer metrics (Joulin et al., section 4.2): Pascal VOC 2007's average precision.

Word prediction's precision@k is in wsl_tf/precision.py, where the
trainer validates with it.
"""

import numpy as np


def average_precision_voc07(scores, labels) -> float:
    """PASCAL VOC 2007 AP: the mean over recall r in {0, 0.1, ..., 1} of the best precision at recall >= r.

    scores: [N] classifier scores; labels: [N] 1 (positive), -1 (negative)
    or 0 (difficult: ignored, as VOC does).
    """
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels)
    keep = labels != 0
    scores, positive = scores[keep], labels[keep] > 0
    if not positive.any():
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = positive[order]
    true_positives = np.cumsum(hits)
    precision = true_positives / np.arange(1, len(hits) + 1)
    recall = true_positives / positive.sum()
    # The devkit's thresholds, np.arange(0, 1.1, 0.1), float rounding included (0.30000000000000004).
    points = [precision[recall >= r].max() if (recall >= r).any() else 0.0 for r in np.arange(0.0, 1.1, 0.1)]
    return float(np.mean(points))
