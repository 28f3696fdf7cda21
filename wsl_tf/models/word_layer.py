"""The word layer: scores for all K words from an image embedding.

Joulin et al. (section 3.2) compute and update only the output weights of the
classes present in a mini-batch: at most 128 of 100,000 columns. The weights
are stored one row per word (K x E, the transpose of the paper's W) so that
gathering rows gives a gradient over those rows only; the gathers and the
sparse updates are TensorFlow's and live in the training code
(`wsl_tf/train/word_rows.py`), which hands the gathered rows to
`logits_from_rows`. The layer itself computes with `keras.ops`, so a saved
model loads and predicts under any Keras backend. Logits are float32 even
under mixed precision.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="wsl_tf")
class WordLayer(keras.layers.Layer):
    """Word scores from image embeddings: `call(embeddings)` gives [B, K].

    num_classes: K. init_stddev: the scale of the normal draw of the rows.
    random_rows: draw the rows when built (a fresh layer); False builds zeros,
    for a layer whose weights are about to be loaded or drawn by the trainer
    block by block. `from_config` builds without drawing: loading a
    K = 100,000, E = 4,096 layer would otherwise draw 410 million numbers only
    to overwrite them.
    """

    def __init__(self, num_classes, init_stddev=0.01, random_rows=True, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.init_stddev = init_stddev
        self.random_rows = random_rows

    def build(self, input_shape):
        embedding_dim = input_shape[-1]
        rows = keras.initializers.RandomNormal(stddev=self.init_stddev) if self.random_rows else "zeros"
        self.kernel = self.add_weight(name="kernel", shape=(self.num_classes, embedding_dim), initializer=rows)
        self.bias = self.add_weight(name="bias", shape=(self.num_classes,), initializer="zeros")

    def call(self, embeddings):
        return self.logits_from_rows(embeddings, self.kernel, self.bias)

    def logits_from_rows(self, embeddings, kernel_rows, bias_rows):
        """[B, C] scores of the C words whose kernel rows [C, E] and biases [C] are given."""
        embeddings = ops.cast(embeddings, "float32")
        return ops.matmul(embeddings, ops.transpose(kernel_rows)) + bias_rows

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_classes)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "init_stddev": self.init_stddev}

    @classmethod
    def from_config(cls, config):
        return cls(**config, random_rows=False)
