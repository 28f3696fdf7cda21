"""Word prediction on a held-out split: the one evaluation loop the trainer, the demo and the tools share.

Scores come from any function of a batch of images (a trained model, or the
frequency baseline's constant scores), over the split's first `max_images`
images; only the first `num_words` words count as labels, and images with
none of them are left out of the averages (section 4.1 of the paper).
"""

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from wsl_tf.dataset import PreparedDataset
from wsl_tf.eval.metrics import precision_at_k
from wsl_tf.input import pipeline


class NoLabelledImagesError(ValueError):
    """The split has no image with a word among the first num_words: nothing to average."""


def evaluate(score_fn: Callable[[tf.Tensor], tf.Tensor], dataset: PreparedDataset | str, input_config,
             num_words: int, split: str = "val", batch_size: int = 128, max_images: int | None = None,
             ks: Sequence[int] = (1, 10)) -> dict:
    """{"precision_at_K": ... for K in ks, "images": images averaged over} of score_fn on the split.

    score_fn: images [B, S, S, 3] -> scores [B, num_words]. k above num_words
    is capped at num_words.
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


def frequency_scores(dataset: PreparedDataset | str, num_words: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """The baseline: every image scores each word by its count of train images (N_k)."""
    counts = tf.constant(np.asarray(PreparedDataset.of(dataset).train_word_counts()[:num_words], np.float64))
    return lambda images: tf.broadcast_to(counts, [tf.shape(images)[0], num_words])
