"""The word layer: scores from keras.ops, float32 logits, rows drawn only for a fresh layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wsl_tf.models import WordLayer


def test_scores_are_embeddings_times_rows_plus_bias(word_layer):
    x = tf.random.normal((5, 16))
    kernel, bias = word_layer.kernel.numpy(), word_layer.bias.numpy()
    np.testing.assert_allclose(word_layer(x).numpy(), x.numpy() @ kernel.T + bias, rtol=1e-4, atol=1e-5)


def test_logits_from_given_rows_are_those_columns_of_the_scores(word_layer):
    x = tf.random.normal((5, 16))
    rows = [17, 3, 199, 42]
    logits = word_layer.logits_from_rows(x, word_layer.kernel.numpy()[rows], word_layer.bias.numpy()[rows])
    np.testing.assert_allclose(logits.numpy(), word_layer(x).numpy()[:, rows], rtol=1e-5, atol=1e-6)


def test_logits_stay_float32_under_mixed_precision(word_layer):
    x = tf.random.normal((2, 16), dtype=tf.float16)
    assert word_layer(x).dtype == tf.float32
    rows = word_layer.logits_from_rows(x, word_layer.kernel.numpy()[:2], word_layer.bias.numpy()[:2])
    assert rows.dtype == tf.float32


def test_a_fresh_layer_draws_its_rows_seeded_by_keras_at_the_configured_scale():
    def draw():
        keras.utils.set_random_seed(3)
        layer = WordLayer(3000, init_stddev=0.02)
        layer.build((None, 40))
        return layer.kernel.numpy()

    first = draw()
    np.testing.assert_array_equal(first, draw())
    assert first.std() == pytest.approx(0.02, rel=0.02) and abs(first.mean()) < 1e-3


def test_a_layer_made_from_its_config_draws_nothing_and_takes_the_saved_rows(word_layer):
    clone = WordLayer.from_config(word_layer.get_config())
    clone.build((None, 16))
    assert clone.init_stddev == word_layer.init_stddev and not np.any(clone.kernel.numpy())
    clone.set_weights(word_layer.get_weights())
    x = tf.random.normal((3, 16))
    np.testing.assert_array_equal(clone(x).numpy(), word_layer(x).numpy())
