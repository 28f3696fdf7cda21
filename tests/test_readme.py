"""The README's promises about setting up: two commands first, CI running the second verbatim, the demo's install
without Beam, the two test speeds registered."""

import configparser
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def setup_commands() -> list[str]:
    """The code blocks before the README's first prose line."""
    readme = open(os.path.join(REPO, "README.md")).read()
    head = readme.split("\n\n", 1)[1]
    blocks = []
    while head.startswith("```\n"):
        block, head = head[4:].split("\n```\n", 1)
        blocks.append(block)
        head = head.lstrip("\n")
    return blocks


def test_the_readme_starts_with_exactly_two_one_line_commands():
    demo, tests = setup_commands()
    assert "\n" not in demo and "\n" not in tests
    assert demo.endswith("&& .venv/bin/wsl-demo")
    assert tests.startswith("python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]' && ")
    assert '-m "not slow and not network"' in tests


def test_ci_runs_the_readmes_test_command_verbatim_then_the_rest():
    lines = [line for line in open(os.path.join(REPO, ".ci", "run")).read().splitlines()
             if line and not line.startswith(("#", "set ", "cd "))]
    assert lines == [setup_commands()[1], '.venv/bin/python -m pytest -q -n 2 --dist worksteal -m "slow or network"']


def test_the_demo_installs_without_beam_and_dev_brings_what_the_tests_use():
    demo = setup_commands()[0]
    assert "pip install -q -e . &&" in demo  # No extras.
    setup = configparser.ConfigParser()
    setup.read(os.path.join(REPO, "setup.cfg"))
    required = setup["options"]["install_requires"]
    assert "apache-beam" not in required and "pytest" not in required
    dev = setup["options.extras_require"]["dev"]
    assert all(name in dev for name in ("pytest", "pytest-xdist", "apache-beam"))
    assert setup["options"]["python_requires"] == ">=3.11,<3.13" and "3.11 or 3.12" in open(
        os.path.join(REPO, "README.md")).read()


def test_both_markers_are_registered_and_an_unregistered_one_is_refused(tmp_path):
    setup = configparser.ConfigParser()
    setup.read(os.path.join(REPO, "setup.cfg"))
    markers = dict(line.split(": ", 1) for line in setup["tool:pytest"]["markers"].strip().splitlines())
    assert set(markers) == {"slow", "network"}
    probe = tmp_path / "test_probe.py"
    probe.write_text("import pytest\n\n\n@pytest.mark.slwo\ndef test_a():\n    pass\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-c", os.path.join(REPO, "setup.cfg"), "--collect-only",
                             "-q", "-p", "no:cacheprovider", str(probe)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode != 0 and "'slwo' not found in `markers` configuration option" in result.stdout
