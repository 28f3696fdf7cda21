"""wsl-predict as a user runs it: a table or JSON lines, bad files named, the user's own words."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import image_bytes, model_config
from wsl_tf import serving
from wsl_tf.models import build_model

WORDS = ["cat", "dog", "car", "tree", "sea", "sun", "hill", "road"]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    model = build_model(model_config("alexnet", num_words=len(WORDS), image_size=64))
    model.head.bias.assign(np.arange(len(WORDS), 0, -1, dtype=np.float32))  # cat > dog > ... whatever the image.
    model.head.kernel.assign(np.zeros(model.head.kernel.shape, np.float32))
    directory = str(tmp_path_factory.mktemp("predict") / "export")
    serving.export(model, WORDS, directory, 72, 64, top_k=3)
    return directory


def wsl_predict(*argv):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", "wsl_tf.cli.predict", *argv], capture_output=True, text=True,
                          env=env)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "a.jpg").write_bytes(image_bytes(80, 60, seed=1))
    (tmp_path / "b.png").write_bytes(image_bytes(40, 40, fmt="PNG", seed=2))
    (tmp_path / "notes.txt").write_text("not an image")
    return [str(tmp_path / n) for n in ("a.jpg", "notes.txt", "b.png", "missing.jpg")]


def test_json_lines_answer_every_image_and_name_each_bad_file(export_dir, files):
    result = wsl_predict(f"--model={export_dir}", "--format=json", *files)
    assert result.returncode == 0 and result.stderr == ""
    lines = {entry["file"]: entry for entry in map(json.loads, result.stdout.splitlines())}
    assert lines[files[0]]["words"] == lines[files[2]]["words"] == ["cat", "dog", "car"]
    assert lines[files[0]]["scores"] == pytest.approx([8.0, 7.0, 6.0])
    assert lines[files[1]] == {"file": files[1], "error": "not an image (it does not decode)"}
    assert lines[files[3]]["error"].startswith("cannot read: ")


def test_the_table_is_a_line_per_file(export_dir, files):
    result = wsl_predict(f"--model={os.path.join(export_dir, 'saved_model')}", files[0], files[1])
    assert result.stdout.splitlines() == [f"{files[0]}: cat 8.000, dog 7.000, car 6.000",
                                          f"{files[1]}: not an image (it does not decode)"]


def test_the_users_own_words_are_ranked_and_unknown_ones_named(export_dir, files):
    result = wsl_predict(f"--model={export_dir}", "--format=json", "--words=road,zebra,dog,sea", files[0])
    assert result.stderr.strip() == "wsl-predict: not in the dictionary, left out: zebra"
    (line,) = map(json.loads, result.stdout.splitlines())
    assert line["words"] == ["dog", "sea", "road"] and line["scores"] == pytest.approx([7.0, 4.0, 1.0])


def test_a_directory_without_a_model_is_one_line(tmp_path, files):
    result = wsl_predict(f"--model={tmp_path}", files[0])
    assert result.returncode == 1
    assert result.stderr.strip() == f"wsl-predict: error: --model={tmp_path}: no SavedModel there (wsl-export writes one)"
