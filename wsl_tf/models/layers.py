"""Small layers the 2012-2015 architectures use that Keras 3 lacks."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="wsl_tf")
class LocalResponseNormalization(keras.layers.Layer):
    """Cross-channel LRN (Krizhevsky et al. 2012, section 3.3).

    b = a / (k + alpha * sum over `size` neighbouring channels of a^2)^beta,
    with the paper's constants (size 5, k 2, alpha 1e-4, beta 0.75). alpha is
    not divided by `size` (Caffe divides it; the paper does not). Channels
    last; the same values as TensorFlow's `local_response_normalization`.
    """

    def __init__(self, size=5, k=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        if size < 1 or size % 2 == 0:
            raise ValueError(f"LocalResponseNormalization: size must be odd and positive, got {size}")
        self.size, self.k, self.alpha, self.beta = size, k, alpha, beta

    def call(self, inputs):
        # In float32 whatever the compute dtype: the sum of squares loses too much in bfloat16.
        x = ops.cast(inputs, "float32")
        channels = x.shape[-1]
        radius = self.size // 2
        squares = ops.pad(ops.square(x), [[0, 0]] * (len(x.shape) - 1) + [[radius, radius]])
        window = squares[..., 0:channels]
        for offset in range(1, self.size):
            window = window + squares[..., offset:offset + channels]
        normalised = x * ops.power(self.k + self.alpha * window, -self.beta)
        return ops.cast(normalised, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "k": self.k, "alpha": self.alpha, "beta": self.beta}


def scaled(channels: int, width: float) -> int:
    """A layer's channel count under a width multiplier (at least 1)."""
    return max(1, int(round(channels * width)))
