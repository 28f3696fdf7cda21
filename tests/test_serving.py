"""Export for serving, on the shared run's export: signatures, each weight once, bad and empty requests answered
without the network, TensorFlow-only clients, the `.keras` file."""

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import image_bytes
from wsl_tf import serving
from wsl_tf.input import preprocessing
from wsl_tf.run_directory import restore_run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(REPO, "tests", "data")
SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


@pytest.fixture(scope="module")
def exported(tiny_run):
    """(the run's centre model, its words, the export directory wsl-train wrote)."""
    run = restore_run(tiny_run.workdir)
    return run.model, run.words, tiny_run.export


@pytest.fixture(scope="module")
def real_images():
    """A cut-out photo and a drawing (PNG, RGBA) and a JPEG photo: tests/data."""
    return [open(os.path.join(DATA, name), "rb").read() for name in ("crow.png", "pengwin.png", "grace_hopper.jpg")]


def signature_dtypes(signature) -> tuple[dict, dict]:
    inputs = {name: spec.dtype.name for name, spec in signature.structured_input_signature[1].items()}
    return inputs, {name: spec.dtype.name for name, spec in signature.structured_outputs.items()}


def test_the_four_signatures_and_their_dtypes(exported):
    signatures = tf.saved_model.load(os.path.join(exported[2], "saved_model")).signatures
    for name in ("serving_default", "serving_balanced"):
        assert signature_dtypes(signatures[name]) == (
            {"images": "string"},
            {"words": "string", "scores": "float32", "embedding": "float32", "valid": "bool"},
        )
    assert signature_dtypes(signatures["embed"]) == ({"pixels": "float32"}, {"embedding": "float32"})
    assert signature_dtypes(signatures["word_vectors"]) == (
        {"words": "string"},
        {
            "vectors": "float32",
            "biases": "float32",
            "log_prior": "float32",
            "prior_weight": "float32",
            "ids": "int64",
            "known": "bool",
        },
    )


def test_every_weight_is_stored_once(exported):
    model, _, directory = exported
    reader = tf.train.load_checkpoint(os.path.join(directory, "saved_model", "variables", "variables"))
    stored = sum(
        int(np.prod(shape))
        for name, shape in reader.get_variable_to_shape_map().items()
        if name != "_CHECKPOINTABLE_OBJECT_GRAPH"
    )
    assert stored == model.count_params()


@pytest.mark.parametrize("ranking", ["natural", "balanced"])
def test_top_words_are_the_model_scores_on_the_pipelines_preprocessing(exported, real_images, tiny_run, ranking):
    """serving_default ranks as the model's natural scores do (raw + its prior weight x log frequency),
    serving_balanced as its balanced ones (the natural minus the log frequency)."""
    model, words, directory = exported
    assert (
        float(model.prior_weight.numpy()) == json.load(open(os.path.join(directory, serving.INFO_FILE)))["prior_weight"]
    )
    signatures = tf.saved_model.load(os.path.join(directory, "saved_model")).signatures
    out = signatures["serving_default" if ranking == "natural" else "serving_balanced"](images=tf.constant(real_images))
    size = tiny_run.config.input.crop_size
    pixels = tf.stack([preprocessing.preprocess(b, tiny_run.config.input.resize_size, size) for b in real_images])
    raw = model(pixels, training=False).numpy()
    weight = float(model.prior_weight.numpy()) - (ranking == "balanced")
    scores = raw + weight * model.log_prior.numpy()
    assert np.any(model.log_prior.numpy() != 0)  # The trainer set the train split's log frequencies.
    assert out["valid"].numpy().all()
    # The served scores are the model's ten best, in order; each served word scores what the model gives it.
    np.testing.assert_allclose(out["scores"].numpy(), -np.sort(-scores, axis=1)[:, :10], rtol=1e-5, atol=1e-5)
    for row, served_words in enumerate(out["words"].numpy()):
        given = [scores[row, words.index(w.decode())] for w in served_words]
        np.testing.assert_allclose(given, out["scores"].numpy()[row], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["embedding"].numpy(), model.embed(pixels).numpy(), rtol=1e-5, atol=1e-5)


def test_bad_images_are_marked_invalid_and_the_rest_answered(exported, real_images):
    serve = tf.saved_model.load(os.path.join(exported[2], "saved_model")).signatures["serving_default"]
    truncated = open(os.path.join(DATA, "truncated.jpg"), "rb").read()
    jpeg = image_bytes(90, 70, seed=3)
    batch = [real_images[0], b"not an image at all", truncated, b"", jpeg]
    out = serve(images=tf.constant(batch))
    assert out["valid"].numpy().tolist() == [True, False, False, False, True]
    alone = serve(images=tf.constant([real_images[0], jpeg]))  # The next call succeeds, same answers.
    np.testing.assert_allclose(out["scores"].numpy()[[0, 4]], alone["scores"].numpy(), rtol=1e-6)
    for bad in (1, 2, 3):
        assert out["words"].numpy()[bad].tolist() == [b""] * 10
        assert not out["scores"].numpy()[bad].any() and not out["embedding"].numpy()[bad].any()


def hostile_batch(real_images):
    """Good images (a photo, a 1 x 1 image, a grey PNG with alpha) among bad bytes and two PNG bombs.

    TensorFlow's own PNG decoder refuses the 30,000 px bomb (2.7 GB of RGB is past its 2 GB buffer limit); the
    20,000 px one (1.2 GB) it would decode, and resize in float32: only the header check stops that.
    """
    from tests.helpers import png_bomb

    good = [real_images[2], image_bytes(1, 1, fmt="PNG", seed=5), image_bytes(50, 40, fmt="PNG", mode="LA", seed=6)]
    return (
        [good[0], b"\xff\xd8\xff garbage", good[1], png_bomb(30_000), good[2], png_bomb(20_000)],
        [True, False, True, False, True, False],
    )


def test_a_bomb_is_refused_by_its_header_and_odd_good_images_answered(exported, real_images):
    serve = tf.saved_model.load(os.path.join(exported[2], "saved_model")).signatures["serving_default"]
    batch, expected = hostile_batch(real_images)
    out = serve(images=tf.constant(batch))
    assert out["valid"].numpy().tolist() == expected
    for i in (0, 2, 4):
        alone = serve(images=tf.constant([batch[i]]))
        np.testing.assert_allclose(out["scores"].numpy()[i], alone["scores"].numpy()[0], rtol=1e-5, atol=1e-6)
        assert out["words"].numpy()[i].tolist() == alone["words"].numpy()[0].tolist()
    assert json.load(open(os.path.join(exported[2], serving.INFO_FILE)))["max_pixels"] == serving.MAX_PIXELS


class Tripwire:
    """A model that fails if the network runs on an empty batch, on every CPU (an assert, not a kernel)."""

    def __init__(self, model):
        self.model = model
        self.weights, self.num_words, self.embedding_dim, self.head = (
            model.weights,
            model.num_words,
            model.embedding_dim,
            model.head,
        )
        self.log_prior, self.prior_weight = model.log_prior, model.prior_weight

    def embed(self, pixels, training=False):
        tf.debugging.assert_positive(tf.shape(pixels)[0], message="the network met an empty batch")
        return self.model.embed(pixels, training=training)


def test_an_empty_or_all_bad_request_never_reaches_the_network(exported, tmp_path):
    model, words, _ = exported
    (tmp_path / "words.txt").write_text("".join(f"{w}\n" for w in words))
    module = serving.ServingModule(Tripwire(model), str(tmp_path / "words.txt"), 64, 64, top_k=5)
    shapes = {"words": (0, 5), "scores": (0, 5), "embedding": (0, model.embedding_dim), "valid": (0,)}
    empty = module.serve(tf.constant([], tf.string))
    assert {k: tuple(v.shape) for k, v in empty.items()} == shapes
    all_bad = module.serve(tf.constant([b"junk", b""]))
    assert all_bad["valid"].numpy().tolist() == [False, False] and all_bad["words"].numpy().tolist() == [[b""] * 5] * 2
    assert module.embed(tf.zeros([0, 64, 64, 3]))["embedding"].shape == (0, model.embedding_dim)
    with pytest.raises(tf.errors.InvalidArgumentError, match="the network met an empty batch"):
        Tripwire(model).embed(tf.zeros([0, 64, 64, 3]))  # The tripwire itself works.


def test_an_export_holds_no_memory_address_replaces_the_old_one_whole_and_refuses_a_short_dictionary(
    exported, tmp_path
):
    """No address of a Python object in the graph (lookup tables named after their Asset's repr had one), so the
    same run exported by two processes gives the same bytes, and a killed, resumed run can be checked against an
    uninterrupted one file by file (benchmarks/random_kills.py)."""
    model, words, _ = exported
    target = str(tmp_path / "export")
    serving.export(model, words, target, 64, 64, top_k=3)
    graph = open(os.path.join(target, serving.SAVED_MODEL_DIR, "saved_model.pb"), "rb").read()
    assert re.findall(rb"object at 0x[0-9a-f]+", graph) == []
    (tmp_path / ".export.tmp-k2j3h4_g").mkdir()  # What a killed export leaves: removed by the next.
    (tmp_path / ".export.tmp-k2j3h4_g" / "model.keras").write_bytes(b"half")
    serving.export(model, words, target, 64, 64, top_k=4)
    assert json.loads(open(os.path.join(target, serving.INFO_FILE)).read())["top_k"] == 4
    assert sorted(os.listdir(tmp_path)) == ["export"]  # No staging or old copies left behind.
    with pytest.raises(ValueError, match=f"the dictionary has {len(words) - 1} words, the model {len(words)}"):
        serving.export(model, words[:-1], str(tmp_path / "other"), 64, 64)
    assert sorted(os.listdir(tmp_path)) == ["export"]


def test_a_finished_runs_export_is_current_and_not_redone(tiny_run):
    """wsl-train's export holds the last checkpoint; exporting again when it is current writes nothing."""
    info = json.loads(open(os.path.join(tiny_run.export, serving.INFO_FILE)).read())
    assert info["checkpoint"] == tf.train.latest_checkpoint(os.path.join(tiny_run.workdir, "checkpoints"))
    before = os.path.getmtime(os.path.join(tiny_run.export, serving.INFO_FILE))
    said = []
    assert serving.export_latest(tiny_run.workdir, log=said.append) == tiny_run.export
    assert said == [] and os.path.getmtime(os.path.join(tiny_run.export, serving.INFO_FILE)) == before


def readme_client() -> str:
    """The TensorFlow-only client the docs give (docs/commands.md, linked from the README)."""
    commands = open(os.path.join(REPO, "docs", "commands.md")).read()
    return commands.split("A TensorFlow-only client")[1].split("```python\n")[1].split("```")[0]


@pytest.mark.slow
def test_the_saved_model_cli_lists_the_three_signatures_with_their_dtypes(exported):
    shown = subprocess.run(
        [SAVED_MODEL_CLI, "show", "--dir", os.path.join(exported[2], "saved_model"), "--all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    signatures = {}
    for block in shown.split("signature_def['")[1:]:
        name = block.split("']")[0]
        tensors = re.findall(r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)", block)
        signatures[name] = tuple(
            {key: dtype for kind, key, dtype in tensors if kind == side} for side in ("inputs", "outputs")
        )
    assert signatures["serving_default"] == (
        {"images": "DT_STRING"},
        {"words": "DT_STRING", "scores": "DT_FLOAT", "embedding": "DT_FLOAT", "valid": "DT_BOOL"},
    )
    assert signatures["embed"] == ({"pixels": "DT_FLOAT"}, {"embedding": "DT_FLOAT"})


@pytest.mark.slow
def test_a_tensorflow_only_client_gets_words_embeddings_and_word_vectors(exported, real_images, tmp_path):
    """A process in which keras and wsl_tf cannot be imported."""
    model, words, directory = exported
    for i, data in enumerate(real_images):
        (tmp_path / f"{i}.img").write_bytes(data)
    client = textwrap.dedent(f"""
        import json, sys
        sys.modules["keras"] = None; sys.modules["wsl_tf"] = None  # Importing either now fails.
        import tensorflow as tf
        model = tf.saved_model.load({os.path.join(directory, "saved_model")!r})
        images = [open(f"{tmp_path}/{{i}}.img", "rb").read() for i in range(3)]
        out = model.signatures["serving_default"](images=tf.constant(images))
        vectors = model.signatures["word_vectors"](words=tf.constant([{words[1]!r}, "zebra"]))
        print(json.dumps({{"words": [[w.decode() for w in row] for row in out["words"].numpy()],
                          "ids": vectors["ids"].numpy().tolist(), "known": vectors["known"].numpy().tolist(),
                          "vector": vectors["vectors"].numpy()[0].tolist(), "bias": float(vectors["biases"][0])}}))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", client], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout.splitlines()[-1])
    in_process = tf.saved_model.load(os.path.join(directory, "saved_model")).signatures["serving_default"](
        images=tf.constant(real_images)
    )
    assert got["words"] == [[w.decode() for w in row] for row in in_process["words"].numpy()]
    assert (got["ids"], got["known"]) == ([1, -1], [True, False])
    np.testing.assert_allclose(got["vector"], model.head.kernel.numpy()[1], rtol=1e-6)
    assert got["bias"] == pytest.approx(float(model.head.bias.numpy()[1]), rel=1e-6, abs=1e-7)


@pytest.mark.slow
def test_the_keras_file_loads_in_a_script_and_scores_as_the_saved_model_does(exported, tmp_path):
    directory = exported[2]
    pixels = tf.random.stateless_normal((4, 64, 64, 3), (7, 7)).numpy()
    np.save(tmp_path / "pixels.npy", pixels)
    script = textwrap.dedent(f"""
        import numpy as np, keras
        import wsl_tf.models  # Registers the classes.
        model = keras.models.load_model({os.path.join(directory, "model.keras")!r}, safe_mode=True)
        pixels = np.load({str(tmp_path / "pixels.npy")!r})
        np.save({str(tmp_path / "scores.npy")!r}, np.asarray(model(pixels)))
        np.save({str(tmp_path / "natural.npy")!r}, np.asarray(model.scores(pixels, "natural")))
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    signatures = tf.saved_model.load(os.path.join(directory, "saved_model")).signatures
    embedding = signatures["embed"](pixels=tf.constant(pixels))["embedding"].numpy()
    vectors = signatures["word_vectors"](words=tf.constant(exported[1]))
    expected = embedding @ vectors["vectors"].numpy().T + vectors["biases"].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "scores.npy"), expected, rtol=1e-5, atol=1e-5)
    natural = expected + float(vectors["prior_weight"]) * vectors["log_prior"].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "natural.npy"), natural, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["export", "saved_model"])
def test_the_readmes_tensorflow_only_client_runs_on_the_export_or_its_saved_model(
    exported, real_images, tmp_path, folder
):
    directory = exported[2]
    (tmp_path / "client.py").write_text(readme_client())
    (tmp_path / "a.png").write_bytes(real_images[0])
    (tmp_path / "b.txt").write_text("no image")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.modules['keras'] = None; sys.argv = sys.argv[1:]; exec(open(sys.argv[0]).read())",
            str(tmp_path / "client.py"),
            directory if folder == "export" else os.path.join(directory, "saved_model"),
            str(tmp_path / "a.png"),
            str(tmp_path / "b.txt"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = result.stdout.splitlines()
    assert first.startswith(f"{tmp_path / 'a.png'}: ") and len(first.split(", ")) == 10
    assert second == f"{tmp_path / 'b.txt'}: not an image"


@pytest.fixture(scope="module")
def modern_exports(tmp_path_factory):
    """Untrained narrow ResNet-50, ViT and GoogLeNet at 32 px, each exported as wsl-train exports: name -> dir.

    Their word rows are drawn at scale 1, so that scores are of order one (at the initial 0.01 they are about 1e-3,
    and a tolerance of 1e-4 would test little).
    """
    from tests.helpers import model_config
    from wsl_tf.models import build_model

    exports, rng = {}, np.random.default_rng(0)
    for name in ("resnet50", "vit_test", "googlenet"):
        model = build_model(model_config(name, num_words=30, image_size=32, width=0.125 if name != "vit_test" else 1.0))
        model.head.kernel.assign(rng.normal(0, 1, model.head.kernel.shape).astype(np.float32))
        model.head.bias.assign(rng.normal(0, 1, 30).astype(np.float32))
        directory = str(tmp_path_factory.mktemp("exports") / name)
        exports[name] = (model, serving.export(model, [f"w{i}" for i in range(30)], directory, 36, 32, top_k=5))
    return exports


@pytest.mark.slow
def test_resnet50_and_vit_exports_serve_the_models_scores(modern_exports, real_images):
    pixels = tf.stack([preprocessing.preprocess(tf.constant(b), 36, 32) for b in real_images])
    for name, (model, directory) in modern_exports.items():
        serve = tf.saved_model.load(os.path.join(directory, "saved_model")).signatures["serving_default"]
        out = serve(images=tf.constant(real_images))
        expected = tf.math.top_k(model(pixels), k=5)
        assert out["valid"].numpy().all(), name
        np.testing.assert_allclose(out["scores"].numpy(), expected.values.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
        assert out["words"].numpy().tolist() == [[f"w{i}".encode() for i in row] for row in expected.indices.numpy()]


JAX_LOADER = textwrap.dedent("""
    import json, sys
    import numpy as np
    import keras
    import wsl_tf.models  # Registers the classes.

    pixels = np.load(sys.argv[1])
    scores = {name: keras.ops.convert_to_numpy(keras.models.load_model(path, safe_mode=True)(pixels))
              for name, path in json.loads(sys.argv[2]).items()}
    np.savez(sys.argv[3], **scores)
    print(json.dumps({"backend": keras.backend.backend(), "tensorflow_imported": "tensorflow" in sys.modules}))
""")


@pytest.mark.slow
def test_keras_files_load_under_jax_and_score_as_under_tensorflow(exported, modern_exports, real_images, tmp_path):
    """The trained run's AlexNet (LRN), and ResNet-50, ViT, GoogLeNet: same top words, scores within 1e-4."""
    models = {"run_alexnet": (os.path.join(exported[2], serving.KERAS_FILE), 64, 64)}
    models.update({name: (os.path.join(d, serving.KERAS_FILE), 36, 32) for name, (_, d) in modern_exports.items()})
    expected, paths = {}, {}
    for size in {(r, c) for _, r, c in models.values()}:
        pixels = tf.stack([preprocessing.preprocess(tf.constant(b), *size) for b in real_images]).numpy()
        np.save(tmp_path / f"pixels{size[1]}.npy", pixels)
        group = {name: path for name, (path, r, c) in models.items() if (r, c) == size}
        for name, path in group.items():
            expected[name] = keras_tf_scores(path, pixels)
        env = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3"}
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                JAX_LOADER,
                str(tmp_path / f"pixels{size[1]}.npy"),
                json.dumps(group),
                str(tmp_path / f"jax{size[1]}.npz"),
            ],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert json.loads(result.stdout.strip().splitlines()[-1]) == {"backend": "jax", "tensorflow_imported": False}
        paths.update({name: tmp_path / f"jax{size[1]}.npz" for name in group})
    for name, scores in expected.items():
        under_jax = np.load(paths[name])[name]
        difference = np.abs(under_jax - scores).max()
        # Within 1e-4, and within 1e-3 of the scores' spread (the short run's scores spread about 3e-3).
        assert difference <= 1e-4 and difference <= 1e-3 * scores.std(), (name, difference, scores.std())
        assert (np.argsort(-under_jax, axis=1)[:, :5] == np.argsort(-scores, axis=1)[:, :5]).all(), name


def keras_tf_scores(path, pixels):
    import keras

    return np.asarray(keras.models.load_model(path, safe_mode=True)(pixels))


HOSTILE_CLIENT = textwrap.dedent("""
    import concurrent.futures, json, pickle, resource, sys
    import numpy as np
    import tensorflow as tf

    serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    batches = pickle.load(open(sys.argv[2], "rb"))  # [(images, expected valid)]
    serial = [serve(images=tf.constant(images)) for images, _ in batches]
    serial = [(o["valid"].numpy(), o["words"].numpy(), o["scores"].numpy()) for o in serial]

    def request(i):
        images, expected = batches[i % len(batches)]
        out = serve(images=tf.constant(images))
        valid, words, scores = serial[i % len(batches)]
        good = np.array(expected)
        return (out["valid"].numpy().tolist() == expected and (out["words"].numpy()[good] == words[good]).all()
                and np.allclose(out["scores"].numpy()[good], scores[good], rtol=1e-5, atol=1e-6))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(request, range(8 * 500)))
    print(json.dumps({"requests": len(answers), "right": sum(answers),
                      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}))
""")


@pytest.mark.slow
def test_eight_threads_of_hostile_requests_are_answered_right_within_2_gb(exported, real_images, tmp_path):
    """8 threads x 500 requests mixing good images, bad bytes, a 1 x 1 image, grey+alpha and PNG bombs."""
    import pickle

    batch, expected = hostile_batch(real_images)
    rotations = [(batch[r:] + batch[:r], expected[r:] + expected[:r]) for r in range(len(batch))]
    (tmp_path / "batches.pkl").write_bytes(pickle.dumps(rotations + [([b], [e]) for b, e in zip(batch, expected)]))
    result = subprocess.run(
        [sys.executable, "-c", HOSTILE_CLIENT, os.path.join(exported[2], "saved_model"), str(tmp_path / "batches.pkl")],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["requests"] == 4000 and figures["right"] == 4000, figures
    assert figures["peak_rss_gb"] < 2.0, figures
