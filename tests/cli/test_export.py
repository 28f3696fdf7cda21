"""wsl-export's errors: one line naming what is missing. (A real run's export: tests/train/test_trainer.py.)"""

import os
import subprocess
import sys


def wsl_export(*argv):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", "wsl_tf.cli.export", *argv], capture_output=True, text=True, env=env)


def test_a_directory_that_is_not_a_run_is_one_line(tmp_path):
    result = wsl_export(f"--workdir={tmp_path}")
    assert result.returncode == 1
    assert result.stderr == f"wsl-export: error: {tmp_path} is not a run directory: no config.json (wsl-train writes it)\n"


def test_a_run_without_a_checkpoint_is_one_line(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    result = wsl_export(f"--workdir={tmp_path}", f"--output={tmp_path / 'out'}")
    assert result.returncode == 1
    assert result.stderr == f"wsl-export: error: {tmp_path}: no checkpoint yet in {tmp_path / 'checkpoints'}\n"
    assert not (tmp_path / "out").exists()
