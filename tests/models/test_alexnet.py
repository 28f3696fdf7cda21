"""AlexNet: the published layer table, full size, and narrow nets for CPU."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import model_config
from wsl_tf.errors import ConfigError
from wsl_tf.models import AlexNet, build_model

# (kind, kernel, in channels, out channels) of the single-tower AlexNet, K = 1,000.
LAYERS = [
    ("conv", 11, 3, 96),
    ("conv", 5, 96, 256),
    ("conv", 3, 256, 384),
    ("conv", 3, 384, 384),
    ("conv", 3, 384, 256),
    ("fc", 1, 6 * 6 * 256, 4096),
    ("fc", 1, 4096, 4096),
    ("fc", 1, 4096, 1000),
]


def table_parameter_count() -> int:
    return sum(k * k * cin * cout + cout for _, k, cin, cout in LAYERS)


def test_full_size_layers_are_the_tables_and_the_count_is_exact():
    """Each weighted layer's kernel shape is the table's; the total is single-tower AlexNet's 62,378,344."""
    model = build_model(model_config("alexnet", num_words=1000, image_size=224, width=1.0))
    names = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7"]
    shapes = [tuple(model.backbone.get_layer(n).kernel.shape) for n in names] + [tuple(model.head.kernel.shape)]
    assert shapes == [
        (11, 11, 3, 96),
        (5, 5, 96, 256),
        (3, 3, 256, 384),
        (3, 3, 384, 384),
        (3, 3, 384, 256),
        (9216, 4096),
        (4096, 4096),
        (1000, 4096),
    ]  # The word layer is stored K x E.
    assert table_parameter_count() == 62_378_344
    assert model.count_params() == 62_378_344 + 1000 + 1  # And the word prior: 1,000 log frequencies, a weight.


def test_full_size_shapes_pool5_is_6x6x256_and_embedding_4096():
    backbone = AlexNet(image_size=224)
    assert backbone.get_layer("pool5").output.shape[1:] == (6, 6, 256)
    assert backbone.embedding_dim == 4096
    out = backbone(tf.zeros((1, 224, 224, 3)))["embedding"]
    assert out.shape == (1, 4096)


def test_narrow_net_on_small_images():
    backbone = AlexNet(image_size=64, width=0.125)
    assert backbone.embedding_dim == 512
    assert backbone(tf.random.normal((3, 64, 64, 3)), training=True)["embedding"].shape == (3, 512)


def test_dropout_is_active_only_in_training():
    backbone = AlexNet(image_size=64, width=0.125)
    x = tf.random.normal((2, 64, 64, 3))
    tf.debugging.assert_equal(backbone(x)["embedding"], backbone(x)["embedding"])
    keras.utils.set_random_seed(0)
    a, b = backbone(x, training=True)["embedding"], backbone(x, training=True)["embedding"]
    assert not bool(tf.reduce_all(a == b))


def test_too_small_images_are_refused_clearly():
    with pytest.raises(ValueError, match="AlexNet needs image_size >= 63, got 32"):
        AlexNet(image_size=32)


def test_the_configs_dropout_reaches_the_backbone_and_none_keeps_the_papers():
    from wsl_tf.configs import paper

    config = paper.get_config("alexnet,k=10").model
    config.update({"image_size": 64, "width": 0.125})
    assert config.dropout is None and build_model(config).backbone.get_layer("drop6").rate == 0.5
    config.dropout = 0.2
    model = build_model(config)
    assert model.backbone.get_layer("drop6").rate == model.backbone.get_layer("drop7").rate == 0.2


def test_he_kernels_keep_a_fresh_narrow_nets_signal_where_the_default_shrinks_it():
    """Unit-variance pixels through a fresh 1/8-width net: about unit-size embeddings with "he_normal", about
    1/100 of that with Keras's default (Glorot uniform): nearly one embedding for every image."""
    images = np.random.default_rng(0).normal(size=(32, 64, 64, 3)).astype("float32")
    sizes = {}
    for initializer in ("he_normal", "glorot_uniform"):
        keras.utils.set_random_seed(0)
        net = AlexNet(image_size=64, width=0.125, dropout=0.0, kernel_initializer=initializer)
        sizes[initializer] = np.abs(keras.ops.convert_to_numpy(net(images)["embedding"])).mean()
    assert 0.3 < sizes["he_normal"] < 3.0 and sizes["glorot_uniform"] < 0.03


def test_the_configs_kernel_initializer_reaches_alexnet_survives_saving_and_is_refused_elsewhere(tmp_path):
    from wsl_tf.configs import paper

    config = paper.get_config("alexnet,k=10").model
    config.update({"image_size": 64, "width": 0.125})
    assert config.kernel_initializer is None
    default = build_model(config).backbone.get_layer("fc7").kernel_initializer
    assert type(default).__name__ == "GlorotUniform"
    config.kernel_initializer = "he_normal"
    model = build_model(config)
    for name in ("conv1", "conv5", "fc6", "fc7"):
        assert type(model.backbone.get_layer(name).kernel_initializer).__name__ == "HeNormal"
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.backbone.get_layer("fc7").kernel_initializer).__name__ == "HeNormal"
    config.name = "resnet50"
    with pytest.raises(
        ConfigError, match="model.kernel_initializer='he_normal': model.name='resnet50' does not take it"
    ):
        build_model(config)
