"""Export for serving: signatures, each weight once, bad images answered, TensorFlow-only clients, .keras."""

import glob
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from data_tools import corpora
from tests.helpers import image_bytes, model_config
from wsl_tf import serving
from wsl_tf.input import preprocessing
from wsl_tf.models import build_model

WORDS = [f"word{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(30)]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A narrow AlexNet over 30 words, exported; its word layer given distinct rows so rankings are clear."""
    model = build_model(model_config("alexnet", num_words=len(WORDS), image_size=64))
    rng = np.random.default_rng(0)
    model.head.kernel.assign(rng.normal(size=model.head.kernel.shape).astype(np.float32))
    model.head.bias.assign(rng.normal(size=len(WORDS)).astype(np.float32))
    directory = str(tmp_path_factory.mktemp("export") / "export")
    serving.export(model, WORDS, directory, resize_size=72, crop_size=64, top_k=5)
    return model, directory


@pytest.fixture(scope="module")
def real_images():
    """Eight real drawings: Tux Paint stamps (PNG), and one as a JPEG."""
    root = corpora.fetch("tuxpaint", log=lambda *_: None)
    paths = sorted(glob.glob(os.path.join(root, "animals", "**", "*.png"), recursive=True))[:8]
    return [open(p, "rb").read() for p in paths]


def test_the_saved_model_cli_lists_the_three_signatures_with_their_dtypes(exported):
    _, directory = exported
    shown = subprocess.run([SAVED_MODEL_CLI, "show", "--dir", os.path.join(directory, "saved_model"), "--all"],
                           capture_output=True, text=True, check=True).stdout
    signatures = {}
    for block in shown.split("signature_def['")[1:]:
        name = block.split("']")[0]
        tensors = re.findall(r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)", block)
        signatures[name] = tuple({key: dtype for kind, key, dtype in tensors if kind == side}
                                 for side in ("inputs", "outputs"))
    assert signatures["serving_default"] == ({"images": "DT_STRING"}, {
        "words": "DT_STRING", "scores": "DT_FLOAT", "embedding": "DT_FLOAT", "valid": "DT_BOOL"})
    assert signatures["embed"] == ({"pixels": "DT_FLOAT"}, {"embedding": "DT_FLOAT"})
    assert signatures["word_vectors"] == ({"words": "DT_STRING"}, {
        "vectors": "DT_FLOAT", "biases": "DT_FLOAT", "ids": "DT_INT64", "known": "DT_BOOL"})


def test_every_weight_is_stored_once(exported):
    model, directory = exported
    reader = tf.train.load_checkpoint(os.path.join(directory, "saved_model", "variables", "variables"))
    stored = sum(int(np.prod(shape)) for name, shape in reader.get_variable_to_shape_map().items()
                 if name != "_CHECKPOINTABLE_OBJECT_GRAPH")
    assert stored == model.count_params()


def test_top_words_are_the_model_scores_on_the_pipelines_preprocessing(exported, real_images):
    model, directory = exported
    signatures = tf.saved_model.load(os.path.join(directory, "saved_model")).signatures
    out = signatures["serving_default"](images=tf.constant(real_images))
    pixels = tf.stack([preprocessing.preprocess(b, 72, 64) for b in real_images])
    scores = model(pixels, training=False).numpy()
    top = np.argsort(-scores, axis=1)[:, :5]
    assert out["valid"].numpy().all()
    assert [[w.decode() for w in row] for row in out["words"].numpy()] == [[WORDS[i] for i in r] for r in top]
    np.testing.assert_allclose(out["scores"].numpy(), np.take_along_axis(scores, top, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["embedding"].numpy(), model.embed(pixels).numpy(), rtol=1e-5, atol=1e-5)


def test_bad_images_are_marked_invalid_and_the_rest_answered(exported, real_images):
    _, directory = exported
    serve = tf.saved_model.load(os.path.join(directory, "saved_model")).signatures["serving_default"]
    jpeg = image_bytes(90, 70, seed=3)
    batch = [real_images[0], b"not an image at all", jpeg[: len(jpeg) // 3], b"", jpeg]
    out = serve(images=tf.constant(batch))
    assert out["valid"].numpy().tolist() == [True, False, False, False, True]
    alone = serve(images=tf.constant([real_images[0], jpeg]))  # The next call succeeds, same answers.
    np.testing.assert_allclose(out["scores"].numpy()[[0, 4]], alone["scores"].numpy(), rtol=1e-6)
    for bad in (1, 2, 3):
        assert out["words"].numpy()[bad].tolist() == [b""] * 5
        assert not out["scores"].numpy()[bad].any() and not out["embedding"].numpy()[bad].any()
    empty = serve(images=tf.constant([], tf.string))
    assert {k: tuple(v.shape) for k, v in empty.items()} == {"words": (0, 5), "scores": (0, 5),
                                                             "embedding": (0, 512), "valid": (0,)}


def test_a_tensorflow_only_client_gets_words_embeddings_and_word_vectors(exported, real_images, tmp_path):
    """A process in which keras and wsl_tf cannot be imported."""
    model, directory = exported
    for i, data in enumerate(real_images[:3]):
        (tmp_path / f"{i}.png").write_bytes(data)
    client = textwrap.dedent(f"""
        import json, sys
        sys.modules["keras"] = None; sys.modules["wsl_tf"] = None  # Importing either now fails.
        import tensorflow as tf
        model = tf.saved_model.load({os.path.join(directory, "saved_model")!r})
        images = [open(f"{tmp_path}/{{i}}.png", "rb").read() for i in range(3)]
        out = model.signatures["serving_default"](images=tf.constant(images))
        vectors = model.signatures["word_vectors"](words=tf.constant(["wordab", "zebra"]))
        print(json.dumps({{"words": [[w.decode() for w in row] for row in out["words"].numpy()],
                          "ids": vectors["ids"].numpy().tolist(), "known": vectors["known"].numpy().tolist(),
                          "vector": vectors["vectors"].numpy()[0].tolist(), "bias": float(vectors["biases"][0])}}))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", client], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout.splitlines()[-1])
    predicted = subprocess.run([sys.executable, "-m", "wsl_tf.cli.predict", f"--model={directory}", "--format=json",
                                *[str(tmp_path / f"{i}.png") for i in range(3)]], capture_output=True, text=True,
                               env=env)
    assert predicted.returncode == 0, predicted.stderr
    assert got["words"] == [json.loads(line)["words"] for line in predicted.stdout.splitlines()]
    assert (got["ids"], got["known"]) == ([1, -1], [True, False])
    np.testing.assert_allclose(got["vector"], model.head.kernel.numpy()[1], rtol=1e-6)
    assert got["bias"] == pytest.approx(float(model.head.bias.numpy()[1]), rel=1e-6)


def test_the_keras_file_loads_in_a_script_and_scores_as_the_saved_model_does(exported, tmp_path):
    _, directory = exported
    pixels = tf.random.stateless_normal((4, 64, 64, 3), (7, 7)).numpy()
    np.save(tmp_path / "pixels.npy", pixels)
    script = textwrap.dedent(f"""
        import numpy as np, keras
        import wsl_tf.models  # Registers the classes.
        model = keras.models.load_model({os.path.join(directory, "model.keras")!r}, safe_mode=True)
        np.save({str(tmp_path / "scores.npy")!r}, np.asarray(model(np.load({str(tmp_path / "pixels.npy")!r}))))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    signatures = tf.saved_model.load(os.path.join(directory, "saved_model")).signatures
    embedding = signatures["embed"](pixels=tf.constant(pixels))["embedding"].numpy()
    vectors = signatures["word_vectors"](words=tf.constant(WORDS))
    expected = embedding @ vectors["vectors"].numpy().T + vectors["biases"].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "scores.npy"), expected, rtol=1e-5, atol=1e-5)


def test_an_export_replaces_the_old_one_whole_and_refuses_a_short_dictionary(exported, tmp_path):
    model, _ = exported
    target = str(tmp_path / "export")
    serving.export(model, WORDS, target, 72, 64, top_k=3)
    serving.export(model, WORDS, target, 72, 64, top_k=4)
    assert json.loads(open(os.path.join(target, serving.INFO_FILE)).read())["top_k"] == 4
    assert sorted(os.listdir(tmp_path)) == ["export"]  # No staging or old copies left behind.
    with pytest.raises(ValueError, match="the dictionary has 29 words, the model 30"):
        serving.export(model, WORDS[:-1], str(tmp_path / "other"), 72, 64)
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_the_readmes_tensorflow_only_client_runs_in_ten_lines(exported, real_images, tmp_path):
    _, directory = exported
    readme = open(os.path.join(REPO, "README.md")).read()
    client = readme.split("A TensorFlow-only client")[1].split("```python\n")[1].split("```")[0]
    assert len(client.strip().splitlines()) <= 10
    (tmp_path / "client.py").write_text(client)
    (tmp_path / "a.png").write_bytes(real_images[0])
    (tmp_path / "b.txt").write_text("no image")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", "import sys; sys.modules['keras'] = None; "
                             "sys.argv = sys.argv[1:]; exec(open(sys.argv[0]).read())",
                             str(tmp_path / "client.py"), os.path.join(directory, "saved_model"),
                             str(tmp_path / "a.png"), str(tmp_path / "b.txt")],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = result.stdout.splitlines()
    assert first.startswith(f"{tmp_path / 'a.png'}: word") and len(first.split(", ")) == 5
    assert second == f"{tmp_path / 'b.txt'}: not an image"
