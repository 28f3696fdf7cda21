"""The paper's two losses, each on all K words or on the words of a training step.

Both are called as Keras losses are, `loss(targets, logits, word_stats)`
(y_true first): multi-hot targets [B, C] and logits [B, C] over some set of
C words, and return the mean over the batch of a per-image loss. With
`word_stats=None` the C columns are all K words in order (targets from
`full_targets`); otherwise they are the words a training step computes
(the batch's, from `wsl_tf/train/word_rows.py`) and `word_stats` holds the
per-word vectors the loss reads for those columns, gathered by the trainer
from the K-vectors `word_statistics()` gives. Computed with `keras.ops`.

The in-batch word layer sees a word only in the steps whose classes hold it
(probability s_c, `wsl_tf/input/sampling.py:WordInclusion.step`), so a
frequent word is a negative far more often than a rare one.
`word_statistics(inclusion)` corrects for that; `word_statistics(None)` is
the uncorrected form (the paper's, for reproduction):

- `MultiClassLogisticLoss`: softmax over the C words, negative log-likelihood
  of the image's words. Corrected, the logit of each word the image does not
  have becomes z_c - log s'_c before the softmax, s'_c its chance of being
  among the step's classes through the batch's other images or the extra
  negatives (the sampled softmax's log-Q correction, Horvitz-Thompson form:
  the image's own words are in C surely, the others with probability s'_c,
  so the corrected sum over C of exp(.) estimates the full normaliser without
  bias).
- `OneVsAllLogisticLoss`: K independent logistic regressions, class-balanced:
  as in the paper, the positives of word k weighted 1 / N_k and its
  negatives 1 / (N - N_k), or (the default) each logit shifted by the log
  prior odds, which has the same minimiser without the weights' spikes.
  Generalised to any sampler by its label rates p_k (the chance that a drawn
  image has word k; N_k / N under natural sampling). A word's positive terms are in
  every step that has one; its negative terms only in steps whose classes
  hold it. Corrected, its negatives are weighted by (1 - p_k) / (s_k - p_k),
  so that the expected in-batch loss and gradient equal the full loss's
  (tests/models/test_losses.py checks it by Monte Carlo).
"""

import keras
import numpy as np
from keras import ops

from wsl_tf.errors import ConfigError

# A word that never enters a step (s_c = 0) is never gathered; its log-inclusion is kept finite.
_TINY = 1e-30


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

    def __call__(self, targets, logits, word_stats=None):
        logits = ops.cast(logits, "float32")
        targets = ops.cast(targets, "float32")
        if word_stats and "log_inclusion" in word_stats:
            logits = logits - (1.0 - ops.minimum(targets, 1.0)) * word_stats["log_inclusion"]
        log_probs = ops.log_softmax(logits, axis=-1)
        targets = targets / ops.maximum(ops.sum(targets, axis=-1, keepdims=True), 1.0)
        return ops.mean(-ops.sum(targets * log_probs, axis=-1))

    def word_statistics(self, inclusion=None) -> dict:
        """{"log_inclusion": log s'_c} [K] with an inclusion (a WordInclusion: its step_others); {} uncorrected."""
        if inclusion is None:
            return {}
        return {"log_inclusion": np.log(np.maximum(inclusion.step_others, _TINY)).astype(np.float32)}

    def get_config(self):
        return {}


# How one-vs-all balances its classes: "logit_adjusted" trains each word's logistic regression on z_k + log
# (p_k / (1 - p_k)), which has the same minimiser as the paper's "weights" (positives 1 / p_k, negatives
# 1 / (1 - p_k)) but gradients bounded by 1 per word instead of spikes of 1 / p_k (Menon et al. 2021).
BALANCES = ("logit_adjusted", "weights")


@keras.saving.register_keras_serializable(package="wsl_tf")
class OneVsAllLogisticLoss:
    """Class-balanced one-vs-all logistic loss (paper section 3.1), for label rates p_k.

    positive_rates: p_k, the fraction of training draws whose labels hold
    word k (`from_counts(N_k, N)` gives the paper's N_k / N). Per image, with
    a_k = log(p_k / (1 - p_k)), the loss sums over words

    - balance="logit_adjusted": y_k softplus(-(z_k + a_k)) + (1 - y_k) softplus(z_k + a_k);
    - balance="weights" (the paper's): y_k softplus(-z_k) / p_k + (1 - y_k) softplus(z_k) / (1 - p_k);

    divided by `scale` (default: K for weights, whose terms then average
    twice log 2 per word at zero logits; for logit_adjusted, sum_k p_k, the
    labels a drawn image has on average, so that its positives' gradient
    sums to about 1 per image, as the softmax's targets do). Both are minimised by
    the balanced log-odds z_k = logit P(k | x) - a_k: scores as if every word
    were equally frequent (the natural ranking adds the log prior back). The
    weighted form's positives of a rare word carry 1 / p_k (1,000 for a word
    of 20 images in 20,000): its steps spike, and divided by K its rows learn
    K times slower than the softmax's; the adjusted form starts at the prior
    (z = 0 scores sigma(a_k) = p_k) with bounded gradients.
    """

    def __init__(self, positive_rates, balance: str = "logit_adjusted", scale=None):
        rates = np.asarray(positive_rates, dtype=np.float64)
        if rates.ndim != 1 or np.any(rates <= 0) or np.any(rates >= 1):
            raise ValueError("positive rates must be a vector with 0 < p_k < 1 (0 < N_k < num_images)")
        if balance not in BALANCES:
            raise ConfigError(f"balance={balance!r}: expected one of {', '.join(BALANCES)}")
        self.positive_rates = [float(p) for p in rates]
        self.balance = balance
        self.scale = float(scale if scale is not None else (len(rates) if balance == "weights" else rates.sum()))
        if balance == "weights":
            positive, negative, offset = 1.0 / rates, 1.0 / (1.0 - rates), np.zeros_like(rates)
        else:
            positive, negative, offset = np.ones_like(rates), np.ones_like(rates), np.log(rates / (1.0 - rates))
        self._positive, self._negative, self._offset = (v.astype(np.float32) for v in (positive, negative, offset))

    @classmethod
    def from_counts(
        cls, class_counts, num_images, balance: str = "logit_adjusted", scale=None
    ) -> "OneVsAllLogisticLoss":
        """Rates N_k / N: with balance="weights" the paper's weights, 1 / N_k and 1 / (N - N_k) (times N)."""
        counts = np.asarray(class_counts, dtype=np.float64)
        if counts.ndim != 1 or np.any(counts <= 0) or np.any(counts >= num_images):
            raise ValueError("class counts must be a vector with 0 < N_k < num_images")
        return cls(counts / num_images, balance, scale)

    @property
    def num_classes(self):
        return len(self.positive_rates)

    def __call__(self, targets, logits, word_stats=None):
        logits = ops.cast(logits, "float32")
        targets = ops.cast(targets, "float32")
        if word_stats is None:
            positive, negative, offset = (
                ops.convert_to_tensor(v) for v in (self._positive, self._negative, self._offset)
            )
        else:
            positive, negative, offset = (word_stats[k] for k in ("positive_weight", "negative_weight", "offset"))
        shifted = logits + offset
        per_word = targets * positive * ops.softplus(-shifted) + (1.0 - targets) * negative * ops.softplus(shifted)
        return ops.mean(ops.sum(per_word, axis=-1)) / self.scale

    def word_statistics(self, inclusion=None) -> dict:
        """{"positive_weight", "negative_weight", "offset"} [K]; with an inclusion, negatives times (1 - p) / (s - p).

        inclusion.label must be this loss's label rates (the same sampler).
        A word whose negatives never occur in a step (s = p: one image per
        step) keeps its weight.
        """
        negative = self._negative.astype(np.float64)
        if inclusion is not None:
            p, s = np.asarray(inclusion.label, np.float64), np.asarray(inclusion.step, np.float64)
            gap = s - p
            negative = negative * np.where(gap > 1e-12, (1.0 - p) / np.maximum(gap, 1e-12), 1.0)
        return {
            "positive_weight": self._positive,
            "negative_weight": negative.astype(np.float32),
            "offset": self._offset,
        }

    def get_config(self):
        return {"positive_rates": self.positive_rates, "balance": self.balance, "scale": self.scale}
