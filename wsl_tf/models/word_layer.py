"""The word layer: scores for all K words, or only for the words in a batch.

Joulin et al. (section 3.2) compute and update only the output weights of the
classes present in a mini-batch: at most 128 of 100,000 columns. The weights
are stored one row per word (K x E, the transpose of the paper's W) so that
`tf.gather` on axis 0 gives an IndexedSlices gradient over those rows only;
gathering columns of an E x K matrix gives a dense K x E gradient (measured at
about 3 s a step at K = 100,000, E = 4,096). No candidate sampler is used, so
the layer compiles under XLA. Logits are float32 even under mixed precision.

Labels travel as an int32 matrix [B, L] of word ids padded with -1 (several
words per image for one-vs-all; one, the sampled word, for the softmax).
"""

import keras
import tensorflow as tf

from wsl_tf.variables import local_copy, plain, replica_copies

PAD = -1


def in_batch_targets(labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(classes [C], targets [B, C]) for padded label ids [B, L].

    `classes` are the distinct word ids of the batch, in no promised order;
    `targets[b, c]` is 1.0 when word classes[c] is a label of b.
    Padding is replaced by an id the batch has (word 0 if it has none) before
    `tf.unique`, and targets come from a comparison, so no op needs a shape known only at run time
    beyond `tf.unique`'s bounded one (XLA compiles it).
    """
    labels = tf.cast(labels, tf.int32)
    # A batch of padding only (images none of whose words is among the K) gets word 0, a negative for all.
    filler = tf.maximum(tf.reduce_max(labels), 0)
    classes, _ = tf.unique(tf.reshape(tf.where(labels >= 0, labels, filler), [-1]))
    matches = tf.equal(labels[:, :, None], classes[None, None, :])
    return classes, tf.cast(tf.reduce_any(matches, axis=1), tf.float32)


def full_targets(labels: tf.Tensor, num_classes: int) -> tf.Tensor:
    """Multi-hot targets [B, K] for padded label ids [B, L]."""
    labels = tf.cast(labels, tf.int32)
    one_hot = tf.one_hot(tf.where(labels >= 0, labels, num_classes), num_classes + 1)
    return tf.minimum(tf.reduce_sum(one_hot, axis=1), 1.0)[:, :num_classes]


def gather_rows(variable, rows):
    """Rows of a variable read through its handle (ResourceGather).

    `tf.gather` on a Keras variable, or on a distributed variable inside a
    strategy, first reads the whole variable (ReadVariableOp); a sparse update
    while that read is alive then copies the entire buffer: 281 ms instead of
    1.1 ms a step at K = 100,000, E = 4,096. Gathering from the replica's own
    copy reads only the rows, and the gradient stays IndexedSlices.
    """
    return tf.gather(local_copy(variable), rows)


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


@keras.saving.register_keras_serializable(package="wsl_tf")
class WordLayer(keras.layers.Layer):
    """The word layer of both losses: word scores from image embeddings, all K at inference, in-batch in training.

    It samples nothing: the words it scores in training are the batch's own
    (section 3.2), not random negatives. `call(embeddings)` returns [B, K] scores. `in_batch_logits(embeddings,
    classes)` returns [B, C] scores for the given word ids only, touching C
    rows of the weights.
    """

    def __init__(self, num_classes, init_stddev=0.01, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.init_stddev = init_stddev

    def build(self, input_shape):
        embedding_dim = input_shape[-1]
        self.kernel = self.add_weight(name="kernel", shape=(self.num_classes, embedding_dim), initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.num_classes,), initializer="zeros")
        fill_normal_rows(self.kernel, self.init_stddev)

    def call(self, embeddings):
        embeddings = tf.cast(embeddings, tf.float32)
        return tf.matmul(embeddings, self.kernel, transpose_b=True) + self.bias

    def in_batch_logits(self, embeddings, classes):
        embeddings = tf.cast(embeddings, tf.float32)
        rows = gather_rows(self.kernel, classes)
        return tf.matmul(embeddings, rows, transpose_b=True) + gather_rows(self.bias, classes)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "init_stddev": self.init_stddev}
