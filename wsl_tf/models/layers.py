"""Small layers the 2012-2015 architectures use that Keras 3 lacks."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="wsl_tf")
class LocalResponseNormalization(keras.layers.Layer):
    """Cross-channel LRN (Krizhevsky et al. 2012, section 3.3).

    b = a / (k + alpha * sum over `size` neighbouring channels of a^2)^beta,
    with the paper's constants (size 5, k 2, alpha 1e-4, beta 0.75). alpha is
    not divided by `size` (Caffe divides it; the paper does not).
    """

    def __init__(self, size=5, k=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.size, self.k, self.alpha, self.beta = size, k, alpha, beta

    def call(self, inputs):
        # In float32 whatever the compute dtype: TensorFlow's CPU kernel has no bfloat16 LRN, and the sum
        # of squares it normalises by loses too much in bfloat16.
        normalised = tf.nn.local_response_normalization(
            tf.cast(inputs, tf.float32), depth_radius=self.size // 2, bias=self.k, alpha=self.alpha, beta=self.beta
        )
        return tf.cast(normalised, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "k": self.k, "alpha": self.alpha, "beta": self.beta}


def scaled(channels: int, width: float) -> int:
    """A layer's channel count under a width multiplier (at least 1)."""
    return max(1, int(round(channels * width)))
