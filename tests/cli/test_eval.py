"""wsl-eval as a user runs it, in this process: an image-folder transfer that needs no corpus, and its errors."""

import json
import os
import shutil

from tests.helpers import image_bytes, run_command
from wsl_tf.cli import eval as eval_command


def test_a_folder_transfer_runs_with_no_registry_and_writes_strict_json(tiny_run, tmp_path, monkeypatch, capsys):
    """--transfer=folder:DIR --experiments=transfer where apt-get fails: only the class-label floor, which needs
    Fashion-MNIST, is left out, in one line."""
    monkeypatch.setenv("PATH", str(tmp_path / "no_tools"))  # No apt-get, no pip: any fetch would fail.
    monkeypatch.setenv("WSL_TF_CACHE", str(tmp_path / "cache"))
    for folder in ("red", "blue"):
        (tmp_path / "pets" / folder).mkdir(parents=True)
        for i in range(6):
            (tmp_path / "pets" / folder / f"{i}.png").write_bytes(
                image_bytes(40, 40, fmt="PNG", seed=i + 10 * (folder == "red")))
    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    assert run_command(eval_command, f"--workdir={workdir}", "--experiments=transfer",
                       f"--transfer=folder:{tmp_path / 'pets'}", "--noprogress") == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {workdir}/eval/metrics.json and report.md"
    metrics = json.loads(open(os.path.join(workdir, "eval", "metrics.json")).read())
    pets = metrics["transfer"]["folder:pets"]
    assert pets["images"] == 12 and pets["floors"]["class_label_network"]["unavailable"].startswith(
        "fashion_mnist could not be fetched: apt-get download dataset-fashion-mnist (is Debian's registry "
        "reachable?): apt-get is not installed on this machine. By hand: ")
    assert not os.listdir(tmp_path / "cache")  # Nothing half-fetched.


def test_a_directory_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert run_command(eval_command, f"--workdir={tmp_path}", "--experiments=transfer") == 1
    assert capsys.readouterr().err == (f"wsl-eval: error: {tmp_path} is not a run directory: no config.json "
                                       f"(wsl-train writes it)\n")


def test_an_unknown_experiment_is_one_line(tiny_run, capsys):
    assert run_command(eval_command, f"--workdir={tiny_run.workdir}", "--experiments=word_predictions") == 1
    assert capsys.readouterr().err.startswith("wsl-eval: error: --experiments: unknown word_predictions; known: ")
