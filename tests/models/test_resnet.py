"""ResNet-50: keras.applications' trunk, parameter for parameter, and narrow nets for CPU."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import model_config
from wsl_tf.models import ResNet50, build_model


def test_full_size_trunk_is_keras_applications_resnet50_weight_for_weight():
    """23,587,712 parameters, the same weight shapes in the same order as keras.applications.ResNet50, and with its
    weights copied in, its pooled features."""
    ours = ResNet50(image_size=224)
    reference = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg", input_shape=(224, 224, 3))
    assert ours.count_params() == reference.count_params() == 23_587_712
    assert [tuple(w.shape) for w in ours.weights] == [tuple(w.shape) for w in reference.weights]
    assert ours.embedding_dim == 2048
    ours.set_weights(reference.get_weights())
    x = tf.constant(np.random.default_rng(0).normal(size=(1, 224, 224, 3)), tf.float32)
    np.testing.assert_allclose(ours(x, training=False)["embedding"], reference(x, training=False), rtol=1e-4, atol=1e-4)


def test_the_word_predictor_adds_k_rows_and_biases_to_the_trunk():
    model = build_model(model_config("resnet50", num_words=1000, image_size=224, width=1.0))
    assert model.count_params() == 23_587_712 + 1000 * 2048 + 1000 + 1000 + 1  # Word layer, word prior.


def test_narrow_net_on_small_images_and_the_size_limit():
    backbone = ResNet50(image_size=32, width=0.125)
    assert backbone.embedding_dim == 256
    assert backbone(tf.zeros((3, 32, 32, 3)))["embedding"].shape == (3, 256)
    with pytest.raises(ValueError, match="ResNet-50 needs image_size >= 32, got 16"):
        ResNet50(image_size=16)
