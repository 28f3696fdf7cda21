"""The backbone contract: any Backbone subclass plugs into WordPredictor and saves by its arguments; and the
battery every backbone build_model knows passes: its outputs, a `.keras` round trip, mixed precision, a JAX load."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import model_config
from wsl_tf.models import BACKBONES, AlexNet, Backbone, GoogLeNet, WordPredictor, build_model
from wsl_tf.train.word_rows import in_batch_logits

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@keras.saving.register_keras_serializable(package="wsl_tf_tests")
class TinyBackbone(Backbone):
    def __init__(self, units=6, towers=1, **kwargs):
        images = keras.Input((8, 8, 3))
        x = keras.layers.Flatten()(images)
        outputs = {f"aux_{i}": keras.layers.Dense(units)(x) for i in range(towers)}
        outputs["embedding"] = keras.layers.Dense(units)(x)
        super().__init__(images, outputs, arguments={"units": units, "towers": towers}, **kwargs)


def test_a_new_backbone_states_its_embedding_and_towers_and_trains_a_word_layer_per_tower():
    backbone = TinyBackbone(units=5, towers=2)
    assert backbone.embedding_dim == 5 and backbone.aux_names == ("aux_0", "aux_1")
    model = WordPredictor(backbone, num_words=7, aux_loss_weight=0.25)
    model.build((None, 8, 8, 3))
    logits = in_batch_logits(model, np.zeros((3, 8, 8, 3), np.float32), np.array([0, 4]))
    assert {k: tuple(v.shape) for k, v in logits.items()} == {"words": (3, 2), "aux_0": (3, 2), "aux_1": (3, 2)}
    clone = TinyBackbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config() and clone.aux_names == backbone.aux_names


def test_outputs_without_an_embedding_are_refused():
    images = keras.Input((8, 8, 3))
    with pytest.raises(ValueError, match="'embedding'"):
        Backbone(images, {"features": keras.layers.Flatten()(images)}, arguments={})


def test_the_auxiliary_loss_weight_defaults_to_the_backbones():
    assert WordPredictor(GoogLeNet(image_size=32, width=0.125), 5).aux_loss_weight == 0.3
    assert WordPredictor(AlexNet(image_size=64, width=0.125), 5).aux_loss_weight == 0.0
    assert WordPredictor(GoogLeNet(image_size=32, width=0.125), 5, aux_loss_weight=0.5).aux_loss_weight == 0.5


# The battery every backbone of build_model passes (as keras-hub's run_vision_backbone_test): each at its narrowest
# size that still builds every block; a backbone added to BACKBONES without an entry here fails the first test.
SMALL = {
    "alexnet": dict(image_size=64, width=0.125),
    "googlenet": dict(image_size=32, width=0.125),
    "resnet50": dict(image_size=32, width=0.125),
    "vit_b16": dict(image_size=32, width=1 / 16),  # 48 wide, 12 heads of 4, all 12 blocks.
    "vit_ti16": dict(image_size=32, width=0.25),
    "vit_test": dict(image_size=32, width=0.5),
}


def small_model(name: str, **extra) -> WordPredictor:
    return build_model(model_config(name, num_words=11, **SMALL[name]), **extra)


def images(name: str, count=3, seed=0) -> np.ndarray:
    size = SMALL[name]["image_size"]
    return np.random.default_rng(seed).normal(size=(count, size, size, 3)).astype(np.float32)


def test_the_battery_covers_every_backbone_build_model_knows():
    assert set(SMALL) == set(BACKBONES)


@pytest.mark.parametrize("name", list(SMALL))
def test_each_backbone_gives_its_declared_outputs_and_round_trips_a_keras_file(name, tmp_path):
    model = small_model(name)
    backbone = model.backbone
    x = images(name)
    features = backbone(x, training=False)
    assert set(features) == {"embedding", *backbone.aux_names}
    embedding = np.asarray(features["embedding"])
    assert embedding.shape == (3, backbone.embedding_dim) and embedding.dtype == np.float32
    assert np.isfinite(embedding).all() and np.abs(embedding[0] - embedding[1]).max() > 1e-6  # Depends on the image.
    scores = np.asarray(model(x, training=False))
    assert scores.shape == (3, 11)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras", safe_mode=True)
    assert type(loaded.backbone) is type(backbone) and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), scores, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", list(SMALL))
def test_each_backbone_trains_under_mixed_precision_with_float32_weights_and_word_scores(name):
    exact = small_model(name)
    mixed = small_model(name, backbone_dtype_policy="mixed_bfloat16")
    mixed.set_weights(exact.get_weights())
    assert {v.dtype for v in mixed.weights} == {"float32"}
    x = images(name)
    assert mixed.backbone(x, training=False)["embedding"].dtype == "bfloat16"
    scores = mixed(x, training=False)
    assert scores.dtype == "float32"
    reference = np.asarray(exact(x, training=False))
    # bfloat16 keeps 8 bits of mantissa: the same scores to a few percent of their spread, the same best word.
    assert np.abs(np.asarray(scores) - reference).max() <= 0.05 * reference.std() + 1e-3
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(mixed(x, training=True) ** 2)
    # The main path's variables (GoogLeNet's towers have their own loss): each gets a float32 gradient.
    main_path = mixed.head.trainable_variables + mixed.backbone.trainable_variables[:2]
    gradients = tape.gradient(loss, main_path)
    assert all(g is not None and g.dtype == tf.float32 and np.isfinite(g.numpy()).all() for g in gradients)


JAX_BATTERY = textwrap.dedent("""
    import json, os, sys
    import numpy as np, keras
    import wsl_tf.models  # Registers the wsl_tf layers and models.
    folder = sys.argv[1]
    for name in sys.argv[2:]:
        model = keras.models.load_model(os.path.join(folder, name + ".keras"), safe_mode=True)
        scores = model(np.load(os.path.join(folder, name + ".npy")))
        np.save(os.path.join(folder, name + ".jax.npy"), np.asarray(scores))
    print(json.dumps({"backend": keras.backend.backend(), "tensorflow_imported": "tensorflow" in sys.modules}))
""")


@pytest.mark.slow
def test_every_backbones_keras_file_loads_under_jax_and_scores_as_under_tensorflow(tmp_path):
    expected = {}
    for name in SMALL:
        model, x = small_model(name), images(name)
        np.save(tmp_path / f"{name}.npy", x)
        expected[name] = np.asarray(model(x, training=False))
        model.save(tmp_path / f"{name}.keras")
    result = subprocess.run(
        [sys.executable, "-c", JAX_BATTERY, str(tmp_path), *SMALL],
        env={**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": REPO},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == {"backend": "jax", "tensorflow_imported": False}
    for name in SMALL:
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.jax.npy"), expected[name], rtol=1e-4, atol=1e-4)
