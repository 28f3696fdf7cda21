"""What every command shares: --help with a description and the command's own flags, no TensorFlow noise."""

import os
import subprocess
import sys

import pytest

COMMANDS = {  # module: (program, flags it defines)
    "wsl_tf.cli.train": ("wsl-train", ("--config", "--workdir")),
    "wsl_tf.cli.demo": ("wsl-demo", ("--config", "--workdir")),
    "wsl_tf.cli.eval": ("wsl-eval", ("--workdir", "--experiments", "--transfer", "--test_images")),
    "wsl_tf.cli.export": ("wsl-export", ("--workdir", "--output", "--top_k")),
    "wsl_tf.cli.predict": ("wsl-predict", ("--model", "--format", "--words", "--top_k")),
    "data_tools.prepare": ("wsl-prepare", ("--source", "--input", "--vocab_size", "--num_stopwords", "--workers")),
    "data_tools.fetch": ("wsl-fetch-data", ("--corpora", "--[no]list")),
}


def run_module(module, *argv, env=None):
    env = env or {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("module", COMMANDS)
def test_help_is_a_description_and_the_commands_own_flags(module):
    program, own_flags = COMMANDS[module]
    out = run_module(module, "--help")
    assert out.returncode == 0 and out.stderr == ""
    description, flags_part = out.stdout.split("\nFlags:\n")
    assert description.startswith(f"{program}: ") and len(description.splitlines()) >= 3
    for flag in own_flags:
        assert f"\n  {flag}:" in "\n" + flags_part, flag
    for absl_flag in ("--flagfile", "--logtostderr", "--verbosity", "--only_check_args"):
        assert absl_flag not in flags_part
    assert "--helpfull" in out.stdout.splitlines()[-1]


def test_help_answers_without_importing_tensorflow():
    code = ("import sys; sys.argv = ['wsl-train', '--help']; import wsl_tf.cli.train as t\n"
            "try:\n    t.run()\nexcept SystemExit:\n    pass\n"
            "print('TF', [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "TF []"


def test_a_command_that_imports_tensorflow_prints_none_of_its_start_up_lines(tmp_path):
    """wsl-train up to the missing dataset: TensorFlow and Keras are imported, and stderr is one line."""
    out = run_module("wsl_tf.cli.train", f"--config={os.path.dirname(__file__)}/../../configs/cpu_small.py",
                     f"--workdir={tmp_path}", f"--config.data.dir={tmp_path / 'missing'}")
    assert out.returncode == 1
    assert out.stderr.startswith("wsl-train: error:") and out.stderr.count("\n") == 1, out.stderr


def test_a_log_level_the_user_sets_wins(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"}
    out = run_module("wsl_tf.cli.train", f"--config={os.path.dirname(__file__)}/../../configs/cpu_small.py",
                     f"--workdir={tmp_path}", f"--config.data.dir={tmp_path / 'missing'}", env=env)
    assert out.returncode == 1 and out.stderr.count("\n") > 1  # TensorFlow's own lines come through.
