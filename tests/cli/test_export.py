"""wsl-export: the shared run exported elsewhere with another top_k; errors in one line naming what is missing."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import run_command
from wsl_tf.cli import export


def test_a_run_is_exported_elsewhere_with_another_top_k(tiny_run, tmp_path, capsys):
    out = tmp_path / "elsewhere"
    assert run_command(export, f"--workdir={tiny_run.workdir}", f"--output={out}", "--top_k=3") == 0
    assert capsys.readouterr().out == f"exported {out} (model.keras, saved_model/)\n"
    info = json.loads((out / "export.json").read_text())
    assert info["top_k"] == 3 and info["checkpoint"] == tf.train.latest_checkpoint(
        os.path.join(tiny_run.workdir, "checkpoints")
    )
    images = [
        open(os.path.join(os.path.dirname(__file__), "..", "data", name), "rb").read()
        for name in ("crow.png", "grace_hopper.jpg")
    ]
    ours = tf.saved_model.load(str(out / "saved_model")).signatures["serving_default"](images=tf.constant(images))
    runs = tf.saved_model.load(os.path.join(tiny_run.export, "saved_model")).signatures["serving_default"](
        images=tf.constant(images)
    )
    assert ours["words"].shape == (2, 3)
    np.testing.assert_array_equal(ours["words"].numpy(), runs["words"].numpy()[:, :3])


def test_a_directory_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert run_command(export, f"--workdir={tmp_path}") == 1
    assert capsys.readouterr().err == (
        f"wsl-export: error: {tmp_path} is not a run directory: no config.json (wsl-train writes it)\n"
    )


def test_a_run_without_a_checkpoint_is_one_line(tmp_path, capsys):
    (tmp_path / "config.json").write_text("{}")
    assert run_command(export, f"--workdir={tmp_path}", f"--output={tmp_path / 'out'}") == 1
    assert (
        capsys.readouterr().err == f"wsl-export: error: {tmp_path}: no checkpoint yet in {tmp_path / 'checkpoints'}\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_missing_flag_is_one_line(capsys):
    assert run_command(export) == 2
    assert capsys.readouterr().err == (
        "wsl-export: error: flag --workdir=None: Flag --workdir must have a value other than None.\n"
    )


@pytest.mark.slow
def test_the_installed_command_exports(tiny_run, tmp_path):
    """The console script's module as a process: the entry point, its exit status and its one line."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, "-m", "wsl_tf.cli.export", f"--workdir={tiny_run.workdir}", f"--output={tmp_path / 'out'}"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert result.stdout == f"exported {tmp_path / 'out'} (model.keras, saved_model/)\n"
    assert (tmp_path / "out" / "saved_model" / "saved_model.pb").exists()
