"""Every layer and model round-trips through get_config and `.keras` files.

The models are built with non-default arguments, so a setting that is not
saved comes back different. The `.keras` files are loaded in one fresh
interpreter (as a user's script would, after `import wsl_tf.models`) with
safe_mode on, and must give the same config and outputs.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import architecture, model_config
from wsl_tf.models import AlexNet, GoogLeNet, ResNet50, VisionTransformer, WordLayer, WordPredictor, build_model
from wsl_tf.models.layers import LocalResponseNormalization

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def as_model(layer, shape):
    inputs = keras.Input(shape)
    return keras.Model(inputs, layer(inputs))


def cases():
    return {
        "lrn": (
            lambda: as_model(LocalResponseNormalization(size=3, k=1.5, alpha=2e-4, beta=0.5), (8, 8, 16)),
            (2, 8, 8, 16),
        ),
        "word_layer": (lambda: as_model(WordLayer(30), (12,)), (3, 12)),
        "alexnet": (lambda: AlexNet(image_size=64, width=0.125, dropout=0.3, name="small_alexnet"), (2, 64, 64, 3)),
        "googlenet": (lambda: GoogLeNet(image_size=32, width=0.125, dropout=0.2, aux_dropout=0.6), (2, 32, 32, 3)),
        "googlenet_no_towers": (lambda: GoogLeNet(image_size=32, width=0.125, aux_towers=False), (2, 32, 32, 3)),
        "resnet50": (lambda: ResNet50(image_size=32, width=0.125, dropout=0.1, name="small_resnet"), (2, 32, 32, 3)),
        "vit": (
            lambda: VisionTransformer(
                image_size=32, patch_size=8, hidden_size=48, depth=2, heads=3, mlp_size=96, width=0.5, dropout=0.1
            ),
            (2, 32, 32, 3),
        ),
        "word_predictor_alexnet": (lambda: build_model(model_config("alexnet")), (2, 64, 64, 3)),
        "word_predictor_resnet50": (lambda: build_model(model_config("resnet50", image_size=32)), (2, 32, 32, 3)),
        "word_predictor_vit": (lambda: build_model(model_config("vit_test", image_size=32, width=1.0)), (2, 32, 32, 3)),
        "word_predictor_googlenet": (
            lambda: build_model(model_config("googlenet", image_size=32, aux_loss_weight=0.5)),
            (2, 32, 32, 3),
        ),
    }


def outputs(model, x):
    out = model(x, training=False)
    return {k: np.asarray(v) for k, v in out.items()} if isinstance(out, dict) else {"out": np.asarray(out)}


@pytest.mark.parametrize("name", list(cases()))
def test_config_round_trip_rebuilds_the_same_architecture(name):
    make, shape = cases()[name]
    model = make()
    clone = model.__class__.from_config(model.get_config())
    if not clone.built:
        clone.build(shape)
    assert clone.get_config() == model.get_config()
    assert architecture(clone) == architecture(model)
    assert clone.count_params() == model.count_params()
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]


def test_word_predictor_config_keeps_its_backbone_and_head():
    model = build_model(model_config("googlenet", num_words=77, image_size=32, aux_loss_weight=0.5))
    clone = WordPredictor.from_config(model.get_config())
    assert isinstance(clone.backbone, GoogLeNet) and clone.num_words == 77 and clone.aux_loss_weight == 0.5
    assert len(clone.aux_heads) == 2


@pytest.mark.slow
def test_keras_files_load_in_a_fresh_process_with_identical_outputs(tmp_path):
    expected, configs = {}, {}
    for name, (make, shape) in cases().items():
        model = make()
        x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
        np.save(tmp_path / f"{name}.input.npy", x)
        expected[name] = outputs(model, tf.constant(x))
        model.save(tmp_path / f"{name}.keras")
        configs[name] = [model.get_config(), architecture(model)]
    script = textwrap.dedent(f"""
        import json, os, sys
        sys.path.insert(0, {REPO!r})
        from tests.helpers import architecture
        import numpy as np, keras
        import wsl_tf.models  # Registers the wsl_tf layers and models.
        folder = {str(tmp_path)!r}
        result = {{}}
        for name in {list(cases())!r}:
            model = keras.models.load_model(os.path.join(folder, name + ".keras"), safe_mode=True)
            x = np.load(os.path.join(folder, name + ".input.npy"))
            out = model(x, training=False)
            out = out if isinstance(out, dict) else {{"out": out}}
            for key, value in out.items():
                np.save(os.path.join(folder, f"{{name}}.{{key}}.loaded.npy"), np.asarray(value))
            result[name] = [type(model).__name__, model.get_config(), architecture(model)]
        print(json.dumps(result))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    assert loaded["word_predictor_alexnet"][0] == "WordPredictor" and loaded["alexnet"][0] == "AlexNet"
    for name, config in configs.items():
        assert loaded[name][1:] == json.loads(json.dumps(config)), name
    for name, outs in expected.items():
        for key, value in outs.items():
            loaded = np.load(tmp_path / f"{name}.{key}.loaded.npy")
            np.testing.assert_allclose(loaded, value, rtol=1e-5, atol=1e-6, err_msg=f"{name}/{key}")
