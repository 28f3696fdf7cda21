"""What every command shares: --help with a description and the command's own flags, configs by installed name,
no TensorFlow noise."""

import importlib
import os
import subprocess
import sys

import pytest

from tests.helpers import run_command
from wsl_tf.cli import command

COMMANDS = {  # module: (program, flags it defines)
    "wsl_tf.cli.train": ("wsl-train", ("--config", "--workdir")),
    "wsl_tf.cli.demo": ("wsl-demo", ("--config", "--workdir")),
    "wsl_tf.cli.eval": ("wsl-eval", ("--workdir", "--experiments", "--transfer", "--test_images")),
    "wsl_tf.cli.export": ("wsl-export", ("--workdir", "--output", "--top_k")),
    "wsl_tf.cli.predict": ("wsl-predict", ("--model", "--format", "--words", "--top_k")),
    "wsl_tf.cli.prepare": ("wsl-prepare", ("--source", "--input", "--vocab_size", "--num_stopwords", "--workers")),
    "wsl_tf.cli.fetch_data": ("wsl-fetch-data", ("--corpora", "--[no]list")),
    "wsl_tf.cli.embed": ("wsl-embed", ("--model", "--input", "--output", "--[no]float16")),
    "wsl_tf.cli.search": ("wsl-search", ("--index", "--words", "--image", "--format")),
}


def run_module(module, *argv, env=None):
    env = env or {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("module", COMMANDS)
def test_help_is_a_description_and_the_commands_own_flags(module, capsys):
    program, own_flags = COMMANDS[module]
    assert run_command(importlib.import_module(module), "--help") == 0
    out = capsys.readouterr()
    assert out.err == ""
    description, flags_part = out.out.split("\nFlags:\n")
    assert description.startswith(f"{program}: ") and len(description.splitlines()) >= 3
    for flag in own_flags:
        assert f"\n  {flag}:" in "\n" + flags_part, flag
    for absl_flag in ("--flagfile", "--logtostderr", "--verbosity", "--only_check_args"):
        assert absl_flag not in flags_part
    assert "--helpfull" in out.out.splitlines()[-1]


def test_an_installed_config_is_named_alone_where_no_such_file_is(tmp_path, monkeypatch):
    installed = command.installed_configs_dir()
    monkeypatch.chdir(tmp_path)
    assert command.installed_configs() == ["cpu_small.py", "demo.py", "paper.py"]
    assert command.resolve_config("paper.py:alexnet,k=1000") == f"{installed}/paper.py:alexnet,k=1000"
    assert command.resolve_config("paper:googlenet") == f"{installed}/paper.py:googlenet"
    assert command.resolve_config("cpu_small.py") == f"{installed}/cpu_small.py"
    (tmp_path / "paper.py").write_text("def get_config(): ...\n")  # A file of that name where the command runs wins.
    assert command.resolve_config("paper.py:k=3") == "paper.py:k=3"
    assert command.resolve_config("mine/paper.py") == "mine/paper.py"  # A path is never looked up.
    assert command.resolve_config("nothing.py") == "nothing.py"
    assert command.resolve_config_flags(["wsl-train", "--config=cpu_small.py", "--config.seed=1", "x"]) == [
        "wsl-train",
        f"--config={installed}/cpu_small.py",
        "--config.seed=1",
        "x",
    ]


@pytest.mark.slow
def test_help_answers_without_importing_tensorflow():
    code = (
        "import sys; sys.argv = ['wsl-train', '--help']; import wsl_tf.cli.train as t\n"
        "try:\n    t.run()\nexcept SystemExit:\n    pass\n"
        "print('TF', [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "TF []"


@pytest.mark.slow
def test_a_command_that_imports_tensorflow_prints_none_of_its_start_up_lines(tmp_path):
    """wsl-train up to the missing dataset: TensorFlow and Keras are imported, and stderr is one line."""
    out = run_module(
        "wsl_tf.cli.train",
        "--config=cpu_small.py",
        f"--workdir={tmp_path}",
        f"--config.data.dir={tmp_path / 'missing'}",
    )
    assert out.returncode == 1
    assert out.stderr.startswith("wsl-train: error:") and out.stderr.count("\n") == 1, out.stderr


@pytest.mark.slow
def test_a_log_level_the_user_sets_wins(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    out = run_module(
        "wsl_tf.cli.train",
        "--config=cpu_small.py",
        f"--workdir={tmp_path}",
        f"--config.data.dir={tmp_path / 'missing'}",
        env=env,
    )
    assert out.returncode == 1 and out.stderr.count("\n") > 1  # TensorFlow's own lines come through.


def test_a_full_disk_is_one_line_whichever_layer_met_it_and_other_errors_stay_tracebacks(tmp_path, monkeypatch, capsys):
    """Injected at the write layer: the staged chunk's write raises what TensorFlow raises on ENOSPC."""
    import tensorflow as tf

    from wsl_tf import fileio
    from wsl_tf.cli import prepare

    (tmp_path / "list.jsonl").write_text('{"image": "a.png", "text": "cat"}\n')
    flags = [
        "--source=jsonl",
        f"--input={tmp_path / 'list.jsonl'}",
        f"--output_dir={tmp_path / 'out'}",
        "--workers=0",
        "--noprogress",
    ]
    wrapped = (
        "{{function_node __wrapped__WriteFile_device_/job:localhost}} "
        f"{tmp_path}/out/.staging/.chunk-000000.pickle.tmp-9f8ee33ae314; No space left on device [Op:WriteFile]"
    )

    def full(*_):
        raise tf.errors.ResourceExhaustedError(None, None, wrapped)

    monkeypatch.setattr(fileio, "write_bytes_atomic", full)
    assert run_command(prepare, *flags) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"wsl-prepare: error: no space left on the device ({tmp_path}/out/.staging/.chunk-000000.pickle.tmp-"
        "9f8ee33ae314; No space left on device). Nothing half-written is kept: free some space, then rerun the "
        "same command to go on from its last complete step"
    ]

    def out_of_memory(*_):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(fileio, "write_bytes_atomic", out_of_memory)
    with pytest.raises(tf.errors.ResourceExhaustedError, match="OOM"):
        run_command(prepare, *flags)


def test_what_a_user_can_fix_is_one_line_and_a_bug_keeps_its_traceback(capsys):
    from wsl_tf.errors import ConfigError, DataError

    for error in (ConfigError("train.logical_cpus=2: no"), DataError("/x: not a dataset directory")):

        def main(argv, error=error):
            raise error

        assert command.one_line_errors(main, "wsl-x")([]) == 1
        assert capsys.readouterr().err.splitlines() == [f"wsl-x: error: {error}"]

    def buggy(argv):
        raise ValueError("operands could not be broadcast together")  # numpy's, say: not the user's to fix.

    with pytest.raises(ValueError, match="broadcast"):
        command.one_line_errors(buggy, "wsl-x")([])
    assert capsys.readouterr().err == ""
