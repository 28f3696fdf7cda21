"""Word-prediction metrics (Joulin et al., section 4.1).

precision@k: of the k highest-scoring words of an image, the fraction that
are among its words, averaged over the images that have at least one word.
"""

import tensorflow as tf


def precision_at_k(scores: tf.Tensor, labels: tf.Tensor, k: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(sum of per-image precision@k, number of images counted) for a batch.

    scores: [B, K] word scores; labels: [B, L] word ids, -1 padded. Returned
    as a sum and a count so that batches can be accumulated exactly.
    """
    top = tf.math.top_k(scores, k=k).indices  # [B, k]
    labels = tf.cast(labels, top.dtype)
    hits = tf.reduce_any(tf.equal(top[:, :, None], labels[:, None, :]), axis=-1)  # [B, k]
    per_image = tf.reduce_sum(tf.cast(hits, tf.float64), axis=1) / k
    has_words = tf.reduce_any(labels >= 0, axis=1)
    return tf.reduce_sum(tf.where(has_words, per_image, 0.0)), tf.reduce_sum(tf.cast(has_words, tf.float64))


def average_precision_voc07(scores, labels) -> float:
    """PASCAL VOC 2007 AP: the mean over recall r in {0, 0.1, ..., 1} of the best precision at recall >= r.

    scores: [N] classifier scores; labels: [N] 1 (positive), -1 (negative)
    or 0 (difficult: ignored, as VOC does).
    """
    import numpy as np

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
