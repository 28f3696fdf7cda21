"""wsl-train's command line: a misspelt flag, a bad config file or key in one line, a config installed with the
package found by its name alone. What the training program does: tests/train/test_trainer.py."""

import os

import pytest

from tests.helpers import run_command
from wsl_tf.cli import train as train_command

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_misspelt_config_flag_is_named_not_taken_for_a_missing_config(tmp_path, capsys):
    assert run_command(train_command, "--configs=cpu_small.py", f"--workdir={tmp_path / 'run'}") == 2
    assert capsys.readouterr().err.splitlines() == [
        "wsl-train: error: Unknown command line flag 'configs'. Did you mean: config ?"
    ]


@pytest.mark.parametrize(
    "argument, message",
    [
        (
            "--config.train.batchsize=3",
            "wsl-train: error: --config.train.batchsize: no such key in {config}; "
            "did you mean --config.train.batch_size_per_replica?",
        ),
        (
            "--config=/nonexistent/config.py",
            "wsl-train: error: --config=/nonexistent/config.py: no such file "
            "'/nonexistent/config.py', and no installed config of that name "
            "(installed: cpu_small.py, demo.py, paper.py)",
        ),
        (
            "--config=nonexistent.py:k=3",
            "wsl-train: error: --config=nonexistent.py:k=3: no such file "
            "'nonexistent.py', and no installed config of that name "
            "(installed: cpu_small.py, demo.py, paper.py)",
        ),
    ],
)
def test_a_bad_config_file_or_key_is_one_line_on_stderr(tmp_path, capsys, argument, message):
    config = f"{REPO}/configs/cpu_small.py"
    assert run_command(train_command, f"--config={config}", f"--workdir={tmp_path / 'run'}", argument) == 2
    assert capsys.readouterr().err.splitlines() == [message.format(config=config)]
    assert not (tmp_path / "run").exists()


def test_an_installed_config_is_found_by_its_name_alone(tmp_path, capsys, monkeypatch):
    """--config=cpu_small.py where no such file is: the installed one (wsl_tf.configs) is read."""
    monkeypatch.chdir(tmp_path)
    code = run_command(
        train_command,
        "--config=cpu_small.py",
        f"--workdir={tmp_path / 'run'}",
        f"--config.data.dir={tmp_path / 'no_such_dataset'}",
    )
    assert code == 1
    assert capsys.readouterr().err == (
        f"wsl-train: error: {tmp_path / 'no_such_dataset'} is not a dataset "
        f"directory: no dataset.json (run wsl-prepare)\n"
    )
    assert (
        run_command(
            train_command,
            "--config=paper.py:googlenet,k=7",
            f"--workdir={tmp_path / 'run'}",
            "--config.model.width=0.5",
            f"--config.data.dir={tmp_path / 'no_such_dataset'}",
        )
        == 1
    )
    assert train_command.FLAGS.config.model.name == "googlenet" and train_command.FLAGS.config.model.num_words == 7
