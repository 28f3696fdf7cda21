"""The word rows a training step touches: the batch's words, gathered and drawn with TensorFlow.

The paper computes and updates only the output weights of the words in a
mini-batch (section 3.2). Here that is TensorFlow-specific: a gather through
the replica's own variable handle gives an IndexedSlices gradient over those
rows only, and the optimizers scatter updates into them. The model's layers
stay on `keras.ops` (they load under any backend); training stays on
TensorFlow, so this lives with the trainer.

Labels travel as an int32 matrix [B, L] of word ids padded with -1 (several
words per image for one-vs-all; one, the sampled word, for the softmax).
A batch may also carry "negatives", extra word ids drawn at a known rate
(wsl_tf/input/sampling.py:NegativeDrawer), which join the step's classes.
"""

import keras
import tensorflow as tf

from wsl_tf.errors import ConfigError
from wsl_tf.models import full_targets
from wsl_tf.variables import local_copy, plain, replica_copies

# Which word rows a step computes: the batch's words (the paper's section 3.2), or all K every step (exact).
HEAD_CLASSES = ("in_batch", "full")


def in_batch_targets(labels: tf.Tensor, negatives: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """(classes [C], targets [B, C]) for padded label ids [B, L] and optional extra word ids [M].

    `classes` are the distinct word ids of the batch and of `negatives`, in
    no promised order; `targets[b, c]` is 1.0 when word classes[c] is a label
    of b. Padding is replaced by an id the batch has (word 0 if it has none)
    before `tf.unique`, and targets come from a comparison, so no op needs a
    shape known only at run time beyond `tf.unique`'s bounded one (XLA
    compiles it).
    """
    labels = tf.cast(labels, tf.int32)
    # A batch of padding only (images none of whose words is among the K) gets word 0, a negative for all.
    filler = tf.maximum(tf.reduce_max(labels), 0)
    ids = tf.reshape(tf.where(labels >= 0, labels, filler), [-1])
    if negatives is not None:
        ids = tf.concat([ids, tf.cast(negatives, tf.int32)], 0)
    classes, _ = tf.unique(ids)
    matches = tf.equal(labels[:, :, None], classes[None, None, :])
    return classes, tf.cast(tf.reduce_any(matches, axis=1), tf.float32)


class StepWords:
    """The word rows one training step computes, and the loss's per-word statistics gathered for them.

    classes: "in_batch" (the batch's words and its extra negatives) or
    "full" (all K words every step: the exact loss, for K where it fits).
    statistics: name -> [K] vector, the loss's `word_statistics()`; held as
    non-trainable variables (create the StepWords inside the strategy's
    scope) and read per step through each replica's own copy, so the
    compiled step reads no K-sized tensor, only the C gathered values.
    """

    def __init__(self, num_words: int, classes: str = "in_batch", statistics: dict | None = None):
        if classes not in HEAD_CLASSES:
            raise ConfigError(f"head.classes={classes!r}: expected one of {', '.join(HEAD_CLASSES)}")
        self.num_words, self.classes = num_words, classes
        self.tables = {
            name: tf.Variable(values, trainable=False, name=f"word_{name}")
            for name, values in (statistics or {}).items()
        }

    def classes_and_targets(self, batch: dict) -> tuple[tf.Tensor, tf.Tensor]:
        """(classes [C], targets [B, C]) of a batch ({"labels", and optionally "negatives"})."""
        if self.classes == "full":
            return tf.range(self.num_words), full_targets(batch["labels"], self.num_words)
        return in_batch_targets(batch["labels"], batch.get("negatives"))

    def statistics(self, classes: tf.Tensor) -> dict | None:
        """The loss's per-word vectors at `classes` (None when the loss reads none)."""
        return {name: gather_rows(table, classes) for name, table in self.tables.items()} or None


def gather_rows(variable, rows):
    """Rows of a variable read through its handle (ResourceGather).

    `tf.gather` on a Keras variable, or on a distributed variable inside a
    strategy, first reads the whole variable (ReadVariableOp); a sparse update
    while that read is alive then copies the entire buffer: 281 ms instead of
    1.1 ms a step at K = 100,000, E = 4,096. Gathering from the replica's own
    copy reads only the rows, and the gradient stays IndexedSlices.
    """
    return tf.gather(local_copy(variable), rows)


def batch_word_logits(layer, embeddings, classes):
    """[B, C] logits of a WordLayer for word ids `classes`, touching only their C rows."""
    return layer.logits_from_rows(embeddings, gather_rows(layer.kernel, classes), gather_rows(layer.bias, classes))


def in_batch_logits(model, images, classes, training=True, backbone=None) -> dict:
    """{"words": [B, C], and one entry per auxiliary tower} of a WordPredictor for word ids `classes`.

    backbone: a callable standing for the model's backbone (e.g. its
    XLA-compiled forward pass); default: the backbone itself.
    """
    features = backbone(images) if backbone is not None else model.backbone(images, training=training)
    return {
        name: batch_word_logits(layer, features["embedding" if name == "words" else name], classes)
        for name, layer in model.word_heads().items()
    }


def fill_normal_rows(variable, stddev, block_bytes=64 << 20):
    """Fill a zero matrix with N(0, stddev^2) entries, one block of rows at a time.

    A whole 100,000 x 4,096 normal draw peaked at 3x the matrix (5 GB);
    drawing blocks and scattering them in place keeps the peak near 1x. Works
    on mirrored variables too (scatter, not slice assignment).
    """
    target = plain(variable)
    if getattr(target, "synchronization", None) == tf.VariableSynchronization.ON_READ:
        targets = replica_copies(target)  # Per-replica copies (EASGD): each gets the same rows.
    else:
        targets = [target]
    rows, columns = variable.shape
    block = max(1, block_bytes // (4 * columns))
    for start in range(0, rows, block):
        stop = min(rows, start + block)
        values = keras.random.normal((stop - start, columns), stddev=stddev, dtype=variable.dtype)
        for copy in targets:
            copy.scatter_update(tf.IndexedSlices(values, tf.range(start, stop)))


def draw_word_rows(model) -> None:
    """Draw the rows of every word layer of a model built with random_word_rows=False, block by block."""
    for layer in model.word_heads().values():
        fill_normal_rows(layer.kernel, layer.init_stddev)
