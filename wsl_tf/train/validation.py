"""Word prediction on a held-out split (precision@k): what the trainer validates with, and wsl-eval reports.

Joulin et al., section 4.1: of the k highest-scoring words of an image, the
fraction that are among its words, averaged over the images that have at
least one. Scores come from any function of a batch of images (a trained
model, or the frequency baseline's constant scores), over the split's first
`max_images` images; only the first `num_words` words count as labels.
"""

from collections.abc import Callable, Sequence

import tensorflow as tf

from wsl_tf.input import pipeline
from wsl_tf.input.dataset import PreparedDataset


class NoLabelledImagesError(ValueError):
    """The split has no image with a word among the first num_words: nothing to average."""


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


def split_precision(score_fn: Callable[[tf.Tensor], tf.Tensor], dataset: PreparedDataset | str, input_config,
                    num_words: int, split: str = "val", batch_size: int = 128, max_images: int | None = None,
                    ks: Sequence[int] = (1, 10)) -> dict:
    """{"precision_at_K": ... for K in ks, "images": images averaged over} of score_fn on the split.

    score_fn: images [B, S, S, 3] -> scores [B, num_words]. k above num_words
    is capped at num_words. NoLabelledImagesError names the split if none of
    its images has one of the words.
    """
    dataset = PreparedDataset.of(dataset)
    totals = {k: 0.0 for k in ks}
    counted, seen = 0.0, 0
    for batch in pipeline.eval_dataset(dataset, split, input_config, batch_size):
        if max_images is not None and seen >= max_images:
            break
        labels = tf.where(batch["labels"] < num_words, batch["labels"], -1)
        scores = score_fn(batch["images"])
        for k in ks:
            total, n = precision_at_k(scores, labels, min(k, num_words))
            totals[k] += float(total)
        counted += float(n)
        seen += int(tf.shape(batch["images"])[0])
    if counted == 0:
        raise NoLabelledImagesError(f"{dataset.directory}: the {split} split has no image with one of the "
                                    f"first {num_words} dictionary words")
    return {**{f"precision_at_{k}": totals[k] / counted for k in ks}, "images": int(counted)}


def model_scores(model) -> Callable[[tf.Tensor], tf.Tensor]:
    """A WordPredictor's scores for all its words, in inference mode."""
    return lambda images: model(images, training=False)
