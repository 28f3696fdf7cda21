"""wsl-predict on the shared run's export: a table or JSON lines, bad files named, the user's own words."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_command
from wsl_tf.cli import predict

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


@pytest.fixture
def files(tmp_path):
    """Two real images, a text file, a truncated JPEG and a missing file."""
    for name in ("crow.png", "grace_hopper.jpg", "truncated.jpg"):
        shutil.copy(os.path.join(DATA, name), tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    return [str(tmp_path / n) for n in ("crow.png", "notes.txt", "grace_hopper.jpg", "missing.jpg", "truncated.jpg")]


def served(export_dir, paths):
    """serving_default's words and scores for the files, called directly: what wsl-predict must print."""
    signature = tf.saved_model.load(os.path.join(export_dir, "saved_model")).signatures["serving_default"]
    out = signature(images=tf.constant([open(p, "rb").read() for p in paths]))
    return [
        ([w.decode() for w in words], scores.tolist())
        for words, scores in zip(out["words"].numpy(), out["scores"].numpy())
    ]


def test_json_lines_answer_every_image_and_name_each_bad_file(tiny_run, files, capsys):
    assert run_command(predict, f"--model={tiny_run.export}", "--format=json", *files) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    lines = {entry["file"]: entry for entry in map(json.loads, captured.out.splitlines())}
    (crow_words, crow_scores), (photo_words, photo_scores) = served(tiny_run.export, [files[0], files[2]])
    assert lines[files[0]]["words"] == crow_words and lines[files[2]]["words"] == photo_words
    assert len(crow_words) == 10 and lines[files[0]]["scores"] == pytest.approx(crow_scores, abs=1e-6)
    assert lines[files[1]] == {"file": files[1], "error": "not an image (it does not decode)"}
    assert lines[files[3]]["error"].startswith("cannot read: ")
    assert lines[files[4]] == {"file": files[4], "error": "not an image (it does not decode)"}


def test_the_table_is_a_line_per_file(tiny_run, files, capsys):
    assert (
        run_command(predict, f"--model={os.path.join(tiny_run.export, 'saved_model')}", "--top_k=3", files[0], files[1])
        == 0
    )
    ((words, scores),) = served(tiny_run.export, [files[0]])
    shown = ", ".join(f"{w} {s:.3f}" for w, s in zip(words[:3], scores[:3]))
    assert capsys.readouterr().out.splitlines() == [
        f"{files[0]}: {shown}",
        f"{files[1]}: not an image (it does not decode)",
    ]


@pytest.mark.parametrize("ranking", [None, "balanced", "natural"])
def test_the_users_own_words_are_ranked_and_unknown_ones_named(tiny_run, files, capsys, ranking):
    """With --words the default ranking is balanced: the word layer's scores plus (prior weight - 1) times the
    log word frequency, as the .keras model holds them; natural adds the prior weight times it."""
    import keras

    import wsl_tf.models  # noqa: F401 (registers the classes)

    flag = [f"--ranking={ranking}"] if ranking else []
    assert (
        run_command(
            predict, f"--model={tiny_run.export}", "--format=json", "--words=sea,zebra,dog,car", *flag, files[0]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert captured.err.strip() == "wsl-predict: not in the dictionary, left out: zebra"
    (line,) = map(json.loads, captured.out.splitlines())
    signatures = tf.saved_model.load(os.path.join(tiny_run.export, "saved_model")).signatures
    embedding = signatures["serving_default"](images=tf.constant([open(files[0], "rb").read()]))["embedding"]
    model = keras.models.load_model(os.path.join(tiny_run.export, "model.keras"))
    ids = signatures["word_vectors"](words=tf.constant(["sea", "dog", "car"]))["ids"].numpy()
    weight = float(model.prior_weight.numpy()) - (0.0 if ranking == "natural" else 1.0)
    expected = (
        embedding.numpy() @ model.head.kernel.numpy()[ids].T
        + model.head.bias.numpy()[ids]
        + weight * model.log_prior.numpy()[ids]
    )[0]
    order = np.argsort(-expected, kind="stable")
    assert line["words"] == [["sea", "dog", "car"][i] for i in order]
    assert line["scores"] == pytest.approx(expected[order].tolist(), abs=1e-5)


@pytest.mark.parametrize("output", ["table", "json"])
def test_answers_and_error_lines_come_in_the_order_the_files_were_given(tiny_run, files, capsys, output):
    assert run_command(predict, f"--model={tiny_run.export}", f"--format={output}", *files) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(files)
    if output == "json":
        assert [json.loads(line)["file"] for line in lines] == files
    else:
        assert all(line.startswith(f"{name}: ") for line, name in zip(lines, files))


def test_words_go_through_the_text_rules_and_a_word_beyond_the_models_k_is_told_apart(
    tiny_run, files, tmp_path, capsys
):
    """The export's run has a dictionary of more words than the model's K (here one more, iguana)."""
    export = tmp_path / "export"
    shutil.copytree(tiny_run.export, export)
    info = json.loads((export / "export.json").read_text())
    run = tmp_path / "run"
    run.mkdir()
    dictionary = open(os.path.join(tiny_run.workdir, "vocab.tsv")).read()
    (run / "vocab.tsv").write_text(dictionary + "iguana\t1\n")
    (export / "export.json").write_text(json.dumps({**info, "run": str(run)}))
    assert (
        run_command(predict, f"--model={export}", "--format=json", "--words=Sea,DOG,zebra,iguana,sea,big dog", files[0])
        == 0
    )
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "wsl-predict: --words: Sea is sea under the text rules",
        "wsl-predict: --words: DOG is dog under the text rules",
        "wsl-predict: --words: 'big dog' is 2 words under the text rules (big, dog): left out; give one word at a time",
        f"wsl-predict: beyond the model's {info['num_words']} words (in its dataset's dictionary), left out: iguana",
        "wsl-predict: not in the dictionary, left out: zebra",
    ]
    assert sorted(json.loads(captured.out)["words"]) == ["dog", "sea"]


def test_a_run_directory_given_as_the_model_names_its_export(tiny_run, files, capsys):
    assert run_command(predict, f"--model={tiny_run.workdir}", files[0]) == 1
    assert capsys.readouterr().err.strip() == (
        f"wsl-predict: error: --model={tiny_run.workdir}: a run directory, "
        f"not an export: its export is --model={tiny_run.export}"
    )


def test_only_bad_files_exit_1_without_reaching_the_network(tiny_run, files, capsys):
    """Every file bad: each named, status 1 (an all-bad batch is answered without running the network)."""
    assert run_command(predict, f"--model={tiny_run.export}", files[1], files[4]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{files[1]}: not an image (it does not decode)",
        f"{files[4]}: not an image (it does not decode)",
    ]


def test_a_directory_without_a_model_is_one_line(tmp_path, files, capsys):
    assert run_command(predict, f"--model={tmp_path}", files[0]) == 1
    assert capsys.readouterr().err.strip() == (
        f"wsl-predict: error: --model={tmp_path}: no SavedModel there (wsl-export writes one)"
    )


@pytest.mark.slow
def test_the_installed_command_answers(tiny_run, files):
    """The console script's module as a process: JSON lines on stdout, nothing on stderr."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "wsl_tf.cli.predict", f"--model={tiny_run.export}", "--format=json", files[0], files[1]],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["words"] == served(tiny_run.export, [files[0]])[0][0] and "error" in lines[1]


def test_a_decompression_bomb_is_one_line_and_the_other_files_are_answered(tiny_run, files, tmp_path, capsys):
    from tests.helpers import png_bomb

    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(30_000))
    assert run_command(predict, f"--model={tiny_run.export}", "--format=json", files[0], str(bomb), files[2]) == 0
    lines = {entry["file"]: entry for entry in map(json.loads, capsys.readouterr().out.splitlines())}
    assert lines[str(bomb)] == {
        "file": str(bomb),
        "error": "too large: 30000 x 30000 pixels, over the export's limit of 50,000,000 (not decoded)",
    }
    (crow_words, _), (photo_words, _) = served(tiny_run.export, [files[0], files[2]])
    assert lines[files[0]]["words"] == crow_words and lines[files[2]]["words"] == photo_words


def test_an_export_missing_a_file_is_one_line_naming_it(tiny_run, files, tmp_path, capsys):
    export = tmp_path / "export"
    shutil.copytree(tiny_run.export, export)
    (export / "saved_model" / "variables" / "variables.index").unlink()
    assert run_command(predict, f"--model={export}", files[0]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"wsl-predict: error: --model={export}: the SavedModel in {export / 'saved_model'} does not load ("
    ), err
    assert "variables" in err[0] and err[0].endswith("; export it again (wsl-export)")
