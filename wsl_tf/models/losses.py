"""The paper's two losses, each on all K words or on the words of a batch.

Both are called as Keras losses are, `loss(targets, logits)` (y_true first):
multi-hot targets [B, C] and logits [B, C] over some set of C words (all K,
targets from `full_targets`; or the batch's words, from the trainer's
`wsl_tf/train/word_rows.py:in_batch_targets`, whose ids go in `classes`), and
return the mean over the batch of a per-image loss. Computed with `keras.ops`.

- `MultiClassLogisticLoss`: softmax over the C words, negative log-likelihood
  summed over the image's positive words. On the batch's words it is an
  approximation of the full loss (the normaliser sums C terms, not K); the
  paper bounds the error, see tests/models/test_losses.py.
- `OneVsAllLogisticLoss`: K independent logistic regressions, class-balanced
  as in the paper: the positives of word k weighted 1/N_k, its negatives
  1/(N - N_k), N_k the training images with word k, N all training images.
  Those weights are scaled by N and the sum over words divided by K, which
  leaves the minimiser unchanged and makes the loss a mean of per-word
  balanced terms (about 2 log 2 at zero logits). On the batch's words the loss is the exact sum of the full loss's
  terms for those words: per-word terms are independent.
"""

import keras
import numpy as np
from keras import ops


def full_targets(labels, num_classes: int):
    """Multi-hot targets [B, K] for padded label ids [B, L] (-1 is padding)."""
    labels = ops.cast(labels, "int32")
    one_hot = ops.one_hot(ops.where(labels >= 0, labels, num_classes), num_classes + 1)
    return ops.minimum(ops.sum(one_hot, axis=1), 1.0)[:, :num_classes]


@keras.saving.register_keras_serializable(package="wsl_tf")
class MultiClassLogisticLoss:
    """Cross-entropy between an image's words, as a uniform distribution, and softmax(logits); mean over images.

    The paper's multi-class logistic loss: targets are normalised to sum to
    one per image (an image with one target word, as uniform-per-word sampling
    gives, is unchanged); an image with no target word adds nothing.
    """

    def __call__(self, targets, logits, classes=None):
        del classes  # The softmax needs no per-word statistics.
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        targets = ops.cast(targets, "float32")
        targets = targets / ops.maximum(ops.sum(targets, axis=-1, keepdims=True), 1.0)
        return ops.mean(-ops.sum(targets * log_probs, axis=-1))

    def get_config(self):
        return {}


@keras.saving.register_keras_serializable(package="wsl_tf")
class OneVsAllLogisticLoss:
    """Class-balanced one-vs-all logistic loss (paper section 3.1)."""

    def __init__(self, class_counts, num_images):
        counts = np.asarray(class_counts, dtype=np.float64)
        if counts.ndim != 1 or np.any(counts <= 0) or np.any(counts >= num_images):
            raise ValueError("class counts must be a vector with 0 < N_k < num_images")
        self.class_counts = [int(c) for c in counts]
        self.num_images = int(num_images)
        self._positive = ops.convert_to_tensor((num_images / counts).astype(np.float32))
        self._negative = ops.convert_to_tensor((num_images / (num_images - counts)).astype(np.float32))

    @property
    def num_classes(self):
        return len(self.class_counts)

    def __call__(self, targets, logits, classes=None):
        """classes: the word ids of the columns of `logits` (None: all K in order)."""
        logits = ops.cast(logits, "float32")
        positive, negative = self._positive, self._negative
        if classes is not None:
            positive, negative = ops.take(positive, classes, axis=0), ops.take(negative, classes, axis=0)
        per_word = (targets * positive * ops.softplus(-logits)
                    + (1.0 - targets) * negative * ops.softplus(logits))
        return ops.mean(ops.sum(per_word, axis=-1)) / self.num_classes

    def get_config(self):
        return {"class_counts": self.class_counts, "num_images": self.num_images}
