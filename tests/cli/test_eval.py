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
                image_bytes(40, 40, fmt="PNG", seed=i + 10 * (folder == "red"))
            )
    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    assert (
        run_command(
            eval_command,
            f"--workdir={workdir}",
            "--experiments=transfer",
            f"--transfer=folder:{tmp_path / 'pets'}",
            "--noprogress",
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {workdir}/eval/metrics.json and report.md"
    metrics = json.loads(open(os.path.join(workdir, "eval", "metrics.json")).read())
    pets = metrics["transfer"]["folder:pets"]
    assert pets["images"] == 12 and pets["floors"]["class_label_network"]["unavailable"].startswith(
        "fashion_mnist could not be fetched: apt-get download dataset-fashion-mnist (is Debian's registry "
        "reachable?): apt-get is not installed on this machine. By hand: "
    )
    assert not os.listdir(tmp_path / "cache")  # Nothing half-fetched.


def test_a_directory_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert run_command(eval_command, f"--workdir={tmp_path}", "--experiments=transfer") == 1
    assert capsys.readouterr().err == (
        f"wsl-eval: error: {tmp_path} is not a run directory: no config.json (wsl-train writes it)\n"
    )


def test_an_unknown_experiment_is_one_line(tiny_run, capsys):
    assert run_command(eval_command, f"--workdir={tiny_run.workdir}", "--experiments=word_predictions") == 1
    assert capsys.readouterr().err.startswith("wsl-eval: error: eval.experiments: unknown word_predictions; known: ")


def test_every_bad_eval_setting_is_named_at_once_before_any_work(tiny_run, tmp_path, capsys):
    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    assert (
        run_command(
            eval_command,
            f"--workdir={workdir}",
            "--experiments=word_predictions",
            "--config.eval.test_images=0",
            "--config.eval.transfer=('pets',)",
        )
        == 1
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("wsl-eval: error: ")
    for named in (
        "eval.test_images=0: must be >= 1",
        "eval.experiments: unknown word_predictions",
        "eval.transfer: 'pets': expected fashion_mnist",
    ):
        assert named in err
    assert not os.path.exists(os.path.join(workdir, "eval"))  # Nothing was evaluated.


def test_a_short_flag_writes_the_eval_key_of_its_name_and_a_disagreeing_pair_is_refused(tiny_run, tmp_path, capsys):
    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    common = (f"--workdir={workdir}", "--experiments=word_prediction", "--baseline_train_images=64", "--noprogress")
    assert run_command(eval_command, *common, "--config.eval.test_images=37") == 0
    by_key = json.loads(open(os.path.join(workdir, "eval", "metrics.json")).read())
    assert run_command(eval_command, *common, "--test_images=37") == 0
    by_alias = json.loads(open(os.path.join(workdir, "eval", "metrics.json")).read())
    assert by_key["settings"]["test_images"] == by_alias["settings"]["test_images"] == 37
    assert by_key["settings"]["baseline_train_images"] == 64
    assert by_key["word_prediction"]["precision_at_1"] == by_alias["word_prediction"]["precision_at_1"]
    capsys.readouterr()
    assert run_command(eval_command, *common, "--test_images=37", "--config.eval.test_images=40") == 1
    assert "--test_images=37 and --config.eval.test_images=40 disagree" in capsys.readouterr().err


def test_an_eval_key_that_does_not_exist_is_one_line(tiny_run, capsys):
    assert run_command(eval_command, f"--workdir={tiny_run.workdir}", "--config.eval.test_imgs=5") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "test_imgs" in err
