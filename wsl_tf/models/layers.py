"""Small layers the 2012-2015 architectures use that Keras 3 lacks."""

import keras
import numpy as np
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
        if k <= 0:
            raise ValueError(f"LocalResponseNormalization: k must be positive, got {k}")
        self.size, self.k, self.alpha, self.beta = size, k, alpha, beta

    def call(self, inputs):
        # In float32 whatever the compute dtype: the sum of squares loses too much in bfloat16.
        x = ops.cast(inputs, "float32")
        channels = np.arange(x.shape[-1])
        # The window sum as one product with a band of ones, and the power as exp(-beta log(.)): forward and
        # gradient 2-3x faster on CPU than padded slices and `power` (and than TensorFlow's own LRN kernel).
        band = (np.abs(channels[:, None] - channels[None, :]) <= self.size // 2).astype("float32")
        window = ops.matmul(ops.square(x), band)
        normalised = x * ops.exp(-self.beta * ops.log(self.k + self.alpha * window))
        return ops.cast(normalised, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "k": self.k, "alpha": self.alpha, "beta": self.beta}


def scaled(channels: int, width: float) -> int:
    """A layer's channel count under a width multiplier (at least 1)."""
    return max(1, int(round(channels * width)))
