"""GoogLeNet: Szegedy et al. Table 1, full size, auxiliary towers, narrow nets."""

import pytest
import tensorflow as tf

from tests.helpers import model_config
from wsl_tf.models import GoogLeNet, build_model

# Szegedy et al. (2015) Table 1, written out independently of the model code:
# name: (in channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj).
TABLE = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}
# The table's "params" column, in units of 1,024 weights (biases not counted).
# conv1 is left out: the table prints 2.7K, which no 7x7x3x64 count (9.2K) fits.
PUBLISHED_PARAMS_K = {
    "conv2": 112,
    "3a": 159,
    "3b": 380,
    "4a": 364,
    "4b": 437,
    "4c": 463,
    "4d": 580,
    "4e": 840,
    "5a": 1072,
    "5b": 1388,
    "linear": 1000,
}


def conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def inception_params(name, bias=True):
    cin, c1, c3r, c3, c5r, c5, proj = TABLE[name]
    return (
        conv(1, cin, c1, bias)
        + conv(1, cin, c3r, bias)
        + conv(3, c3r, c3, bias)
        + conv(1, cin, c5r, bias)
        + conv(5, c5r, c5, bias)
        + conv(1, cin, proj, bias)
    )


def main_path_params(classes=1000, bias=True):
    stem = conv(7, 3, 64, bias) + conv(1, 64, 64, bias) + conv(3, 64, 192, bias)
    return stem + sum(inception_params(n, bias) for n in TABLE) + 1024 * classes + (classes if bias else 0)


def aux_tower_params(cin, classes=1000):
    return conv(1, cin, 128) + 4 * 4 * 128 * 1024 + 1024 + 1024 * classes + classes


def test_full_size_parameter_count_is_exactly_the_layer_tables():
    model = build_model(model_config("googlenet", num_words=1000, image_size=224, width=1.0))
    expected = main_path_params() + aux_tower_params(512) + aux_tower_params(528)
    assert expected == 13_378_280  # 6,998,552 on the main path (Szegedy et al.: about 7M), the towers 3.19M each.
    assert model.count_params() == expected + 1000 + 1  # And the word prior: 1,000 log frequencies, a weight.


def test_main_path_matches_the_papers_published_parameter_column():
    published = sum(PUBLISHED_PARAMS_K.values()) * 1024
    derived_without_conv1 = main_path_params(bias=False) - conv(7, 3, 64, bias=False)
    assert derived_without_conv1 == pytest.approx(published, rel=0.01)
    model = build_model(model_config("googlenet", num_words=1000, image_size=224, width=1.0))
    towers = sum(model.get_layer(h.name).count_params() for h in model.aux_heads) + sum(
        layer.count_params() for layer in model.backbone.layers if layer.name.startswith("aux_")
    )
    assert model.count_params() - towers - (1000 + 1) == main_path_params()  # Less the word prior.


def test_full_size_shapes():
    backbone = GoogLeNet(image_size=224)
    assert backbone.get_layer("inception_4a").output.shape[1:] == (14, 14, 512)
    assert backbone.get_layer("inception_5b").output.shape[1:] == (7, 7, 1024)
    assert backbone.get_layer("aux_4d_pool").output.shape[1:] == (4, 4, 528)
    out = backbone(tf.zeros((1, 224, 224, 3)))
    assert {k: v.shape for k, v in out.items()} == {"embedding": (1, 1024), "aux_4a": (1, 1024), "aux_4d": (1, 1024)}


@pytest.mark.parametrize("size", [32, 64])
def test_narrow_net_on_small_images(size):
    backbone = GoogLeNet(image_size=size, width=0.125)
    out = backbone(tf.random.normal((2, size, size, 3)), training=True)
    assert {k: v.shape for k, v in out.items()} == {"embedding": (2, 128), "aux_4a": (2, 128), "aux_4d": (2, 128)}


def test_without_auxiliary_towers():
    backbone = GoogLeNet(image_size=32, width=0.125, aux_towers=False)
    assert backbone.aux_names == () and set(backbone(tf.zeros((1, 32, 32, 3)))) == {"embedding"}
