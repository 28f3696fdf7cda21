"""A plain wheel install works outside the checkout: every command answers --help, configs travel along."""

import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = (
    "wsl-demo",
    "wsl-train",
    "wsl-export",
    "wsl-predict",
    "wsl-eval",
    "wsl-prepare",
    "wsl-fetch-data",
    "wsl-embed",
    "wsl-search",
)
SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "wsl_tf", "data_tools", "configs")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv holding only the wheel; the dependencies come from this environment's site-packages."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if os.path.isdir(os.path.join(REPO, name)) else shutil.copy
        copy(os.path.join(REPO, name), source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(root / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=root,
    )
    (wheel,) = (root / "dist").glob("wsl_tf-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (root / "work").mkdir()
    with open(os.path.join(site, "dependencies.pth"), "w") as handle:
        handle.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    shutil.rmtree(source)  # Nothing may come from a checkout.
    return venv, root / "work"


@pytest.mark.slow
def test_the_wheel_not_a_checkout_is_what_runs(installed):
    venv, workdir = installed
    code = (
        "import wsl_tf, wsl_tf.configs, data_tools; "
        "print(wsl_tf.__file__, wsl_tf.configs.__file__, data_tools.__file__)"
    )
    out = subprocess.run(
        [venv / "bin" / "python", "-c", code], check=True, capture_output=True, text=True, cwd=workdir
    ).stdout.split()
    assert all(path.startswith(str(venv)) for path in out), out
    assert out[1].endswith(os.path.join("wsl_tf", "configs", "__init__.py"))


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_answers_help_from_the_wheel(installed, command):
    venv, workdir = installed
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([venv / "bin" / command, "--help"], capture_output=True, text=True, cwd=workdir, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{command}: ") and "\nFlags:\n" in out.stdout
    assert out.stderr == ""


@pytest.mark.slow
def test_the_installed_small_config_trains_as_far_as_the_missing_dataset(installed):
    venv, workdir = installed
    config = os.path.join(
        os.path.dirname(
            subprocess.run(
                [venv / "bin" / "python", "-c", "import wsl_tf.configs; print(wsl_tf.configs.__file__)"],
                check=True,
                capture_output=True,
                text=True,
                cwd=workdir,
            ).stdout.strip()
        ),
        "cpu_small.py",
    )
    out = subprocess.run(
        [
            venv / "bin" / "wsl-train",
            f"--config={config}",
            f"--workdir={workdir / 'run'}",
            f"--config.data.dir={workdir / 'no_such_dataset'}",
        ],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "no_such_dataset" in out.stderr, out.stderr
