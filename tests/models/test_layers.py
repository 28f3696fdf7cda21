"""Local response normalisation in keras.ops against TensorFlow's kernel and a numpy loop."""

import numpy as np
import pytest
import tensorflow as tf

from wsl_tf.models.layers import LocalResponseNormalization


def numpy_lrn(x, size, k, alpha, beta):
    out = np.empty_like(x)
    channels = x.shape[-1]
    for c in range(channels):
        low, high = max(0, c - size // 2), min(channels, c + size // 2 + 1)
        out[..., c] = x[..., c] / (k + alpha * np.sum(x[..., low:high] ** 2, axis=-1)) ** beta
    return out


@pytest.mark.parametrize("size,k,alpha,beta", [(5, 2.0, 1e-4, 0.75), (3, 1.0, 0.05, 0.5), (1, 1.5, 0.1, 1.0)])
def test_lrn_matches_numpy_and_tensorflow(size, k, alpha, beta):
    x = np.random.default_rng(0).normal(0, 3, (2, 4, 5, 9)).astype(np.float32)
    out = LocalResponseNormalization(size, k, alpha, beta)(x).numpy()
    np.testing.assert_allclose(out, numpy_lrn(x.astype(np.float64), size, k, alpha, beta), rtol=1e-5, atol=1e-6)
    reference = tf.nn.local_response_normalization(x, depth_radius=size // 2, bias=k, alpha=alpha, beta=beta)
    np.testing.assert_allclose(out, reference.numpy(), rtol=1e-5, atol=1e-6)


def test_lrn_keeps_the_input_dtype_and_computes_in_float32():
    x = tf.cast(tf.random.normal((1, 3, 3, 6), stddev=50.0), tf.bfloat16)
    out = LocalResponseNormalization(alpha=0.01, dtype="mixed_bfloat16")(x)
    assert out.dtype == tf.bfloat16
    expected = numpy_lrn(tf.cast(x, tf.float64).numpy(), 5, 2.0, 0.01, 0.75)
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), expected, rtol=1e-2, atol=1e-3)


def test_an_even_window_and_a_non_positive_k_are_refused():
    with pytest.raises(ValueError, match="size must be odd"):
        LocalResponseNormalization(size=4)
    with pytest.raises(ValueError, match="k must be positive"):
        LocalResponseNormalization(k=0.0)


def test_lrn_gradient_matches_tensorflows():
    x = tf.constant(np.random.default_rng(1).normal(0, 3, (2, 3, 3, 7)).astype(np.float32))
    layer = LocalResponseNormalization(alpha=0.01)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(layer(x) ** 2)
        reference = tf.reduce_sum(tf.nn.local_response_normalization(x, 2, 2.0, 0.01, 0.75) ** 2)
    np.testing.assert_allclose(
        tape.gradient(ours, x).numpy(), tape.gradient(reference, x).numpy(), rtol=1e-4, atol=1e-6
    )
