"""Vision Transformer: the closed-form parameter count, the class token, the named sizes."""

import keras
import numpy as np
import pytest

from tests.helpers import model_config
from wsl_tf.models import VisionTransformer, build_model
from wsl_tf.models.vit import VIT_SIZES


def closed_form_count(image_size, patch, hidden, depth, heads, mlp) -> int:
    """Patch conv, class token, positions, per block two LayerNorms, attention (q, k, v, out: D x D + D each)
    and the MLP, and the final LayerNorm."""
    tokens = (image_size // patch) ** 2 + 1
    block = 2 * 2 * hidden + 4 * (hidden * hidden + hidden) + (hidden * mlp + mlp) + (mlp * hidden + hidden)
    return (patch * patch * 3 * hidden + hidden) + hidden + tokens * hidden + depth * block + 2 * hidden


@pytest.mark.parametrize("name,image_size", [("vit_b16", 224), ("vit_ti16", 224), ("vit_test", 32)])
def test_parameter_counts_are_the_closed_form(name, image_size):
    sizes = VIT_SIZES[name]
    backbone = VisionTransformer(image_size, *sizes)
    assert backbone.count_params() == closed_form_count(image_size, *sizes)
    assert backbone.embedding_dim == sizes[1]


def test_vit_b16_has_the_published_parameter_count_without_its_classifier():
    """ViT-B/16 at 224 px (Dosovitskiy et al. 2021; timm's vit_base_patch16_224): 86,567,656 parameters with its
    1,000-class head of 768 x 1,000 weights and 1,000 biases, which the word layer replaces."""
    backbone = VisionTransformer(224, *VIT_SIZES["vit_b16"])
    assert backbone.count_params() == 86_567_656 - 768 * 1000 - 1000


def test_the_embedding_is_the_class_tokens_output():
    """Changing one patch changes the embedding (attention mixes it in); the output is the normed first token."""
    backbone = VisionTransformer(32, *VIT_SIZES["vit_test"])
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 3)).astype(np.float32)
    tokens = keras.Model(backbone.input, backbone.get_layer("norm").output)(x)
    np.testing.assert_allclose(backbone(x)["embedding"], tokens[:, 0], rtol=1e-6)
    y = x.copy()
    y[:, 24:, 24:] += 1.0
    assert not np.allclose(backbone(x)["embedding"], backbone(y)["embedding"])


def test_width_scales_hidden_and_mlp_and_bad_shapes_are_named():
    backbone = build_model(model_config("vit_b16", num_words=10, image_size=32, width=0.125)).backbone
    assert backbone.embedding_dim == 96 and backbone.get_layer("block0_mlp1").kernel.shape == (96, 384)
    with pytest.raises(ValueError, match="image_size 30 is not a multiple of patch_size 8"):
        VisionTransformer(30, *VIT_SIZES["vit_test"])
    with pytest.raises(ValueError, match="hidden size 50 .* does not divide by 4 heads"):
        VisionTransformer(32, 8, 50, 1, 4, 64)
