"""The README's promises: two commands first, CI running the second verbatim, the demo's install without Beam,
the two test speeds registered, and the quickstart on one's own images run as written."""

import ast
import configparser
import os
import subprocess
import sys

import pytest

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
    lines = [
        line
        for line in open(os.path.join(REPO, ".ci", "run")).read().splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert lines == [
        setup_commands()[1],
        ".venv/bin/ruff check . && .venv/bin/ruff format --check .",
        "command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install "
        "-y -qq chromium >/dev/null; }",
        '.venv/bin/python -m pytest -q -n 2 --dist worksteal -m "slow or network"',
    ]


def test_the_demo_installs_without_beam_and_dev_brings_what_the_tests_use():
    demo = setup_commands()[0]
    assert "pip install -q -e . &&" in demo  # No extras.
    setup = configparser.ConfigParser()
    setup.read(os.path.join(REPO, "setup.cfg"))
    required = setup["options"]["install_requires"]
    assert "apache-beam" not in required and "pytest" not in required
    dev = setup["options.extras_require"]["dev"]
    assert all(name in dev for name in ("pytest", "pytest-xdist", "apache-beam"))
    assert (
        setup["options"]["python_requires"] == ">=3.11,<3.13"
        and "3.11 or 3.12" in open(os.path.join(REPO, "README.md")).read()
    )


def test_both_markers_are_registered_and_an_unregistered_one_is_refused(tmp_path):
    setup = configparser.ConfigParser()
    setup.read(os.path.join(REPO, "setup.cfg"))
    markers = dict(line.split(": ", 1) for line in setup["tool:pytest"]["markers"].strip().splitlines())
    assert set(markers) == {"slow", "network"}
    probe = tmp_path / "test_probe.py"
    probe.write_text("import pytest\n\n\n@pytest.mark.slwo\ndef test_a():\n    pass\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-c",
            os.path.join(REPO, "setup.cfg"),
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            str(probe),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0 and "'slwo' not found in `markers` configuration option" in result.stdout


def readme_block(after: str, language: str = "") -> str:
    """The first code block (```LANGUAGE) after the heading `after`."""
    readme = open(os.path.join(REPO, "README.md")).read()
    return readme.split(after, 1)[1].split(f"```{language}\n", 1)[1].split("```", 1)[0]


def write_captioned_folder(root, images: int = 300):
    """ROOT/photos/*.jpg with a caption each, listed in ROOT/list.jsonl as the README's quickstart says; the
    first is photos/cat1.jpg, 'A black cat asleep on the sofa'. Drawn from a fixed seed: the
    10 most frequent words are the three function words and the seven colours, as --num_stopwords=10
    expects; beside them the
    real photos and drawings committed in tests/data, as they are (RGBA PNGs, a 512 x 600 JPEG)."""
    import json

    import numpy as np
    from PIL import Image

    colours = {
        "red": (200, 30, 30),
        "green": (30, 160, 40),
        "blue": (30, 60, 200),
        "yellow": (220, 210, 40),
        "black": (10, 10, 10),
        "white": (240, 240, 240),
        "orange": (240, 140, 20),
    }
    things = [
        "cat",
        "dog",
        "sofa",
        "car",
        "tree",
        "house",
        "boat",
        "bird",
        "flower",
        "road",
        "hill",
        "lake",
        "chair",
        "table",
        "lamp",
        "book",
        "cup",
        "shoe",
        "hat",
        "ball",
        "kite",
        "train",
        "bike",
        "bus",
        "fish",
        "horse",
        "cow",
        "sheep",
        "apple",
        "bread",
        "cake",
        "door",
        "window",
        "bridge",
        "tower",
        "river",
        "beach",
        "snow",
        "rain",
        "cloud",
        "moon",
        "star",
        "sun",
        "garden",
        "park",
        "street",
        "market",
        "shop",
        "clock",
        "phone",
        "piano",
        "guitar",
        "drum",
        "mask",
        "robot",
        "rocket",
        "plane",
        "ship",
        "truck",
        "tent",
        "fire",
        "stone",
        "leaf",
        "rose",
        "tulip",
        "grass",
        "forest",
        "field",
    ]
    rng = np.random.default_rng(0)
    (root / "photos").mkdir(parents=True)
    lines = []
    for i in range(images):
        name = "cat1.jpg" if i == 0 else f"photo{i}.jpg"
        colour = list(colours)[i % len(colours)]
        words = ["black", "cat", "sofa"] if i == 0 else [colour, *rng.choice(things, size=3, replace=False)]
        if i % 15 == 14 and "car" not in words:
            # car in about one caption in ten, more than most things and fewer than a colour, so that it
            # is one of the README's K = 50 words whatever the split draws.
            words[1] = "car"
        pixels = np.full((96, 96, 3), colours[words[0]], np.uint8)
        pixels[rng.integers(0, 60) :, rng.integers(0, 60) :] = rng.integers(0, 255, 3)
        Image.fromarray(pixels).save(root / "photos" / name, quality=90)
        text = (
            "A black cat asleep on the sofa"
            if i == 0
            else f"a {words[0]} {words[1]} with the {words[2]} and {words[3]}"
        )
        lines.append(json.dumps({"image": f"photos/{name}", "text": text}) + "\n")
    real = {
        "crow.png": "A black crow on the grass",
        "pengwin.png": "a cartoon penguin drawing",
        "grace_hopper.jpg": "Grace Hopper in her navy uniform",
    }
    for name, text in real.items():
        (root / "photos" / name).write_bytes(open(os.path.join(REPO, "tests", "data", name), "rb").read())
        lines.append(json.dumps({"image": f"photos/{name}", "text": text}) + "\n")
    (root / "list.jsonl").write_text("".join(lines))


@pytest.mark.slow
def test_the_readmes_quickstart_runs_verbatim_on_a_folder_of_images(tmp_path):
    """Every command of 'Your own images' as written, from the folder holding mine/; then its Keras script."""
    import json

    write_captioned_folder(tmp_path / "mine")
    commands = readme_block("## Your own images").replace("\\\n", " ").splitlines()
    commands = [line.strip() for line in commands if line.strip() and not line.startswith("#")]
    assert [c.split()[0] for c in commands] == ["wsl-prepare", "wsl-train", "wsl-predict", "wsl-predict", "wsl-eval"]
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    outputs = []
    for command in commands:
        result = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
        )
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout)
    top, chosen = outputs[2].strip(), outputs[3].strip()
    assert top.startswith("mine/photos/cat1.jpg: ") and len(top.split(", ")) == 10
    assert chosen.startswith("mine/photos/cat1.jpg: ") and sorted(
        w.split()[0] for w in chosen.split(": ")[1].split(", ")
    ) == ["car", "cat", "sofa"]
    metrics = json.loads((tmp_path / "mine" / "run" / "eval" / "metrics.json").read_text())
    assert (
        0.0 <= metrics["word_prediction"]["precision_at_1"] <= 1.0
        and (tmp_path / "mine" / "run" / "eval" / "report.md").exists()
    )
    (tmp_path / "script.py").write_text(readme_block("## Your own images", "python"))
    result = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = ast.literal_eval(result.stdout.strip().splitlines()[-1])  # A list of five words.
    assert len(printed) == 5 and all(isinstance(w, str) and w for w in printed)
    # Then 'Your collection': its commands as written, on the same folder and the run just trained.
    collection_commands = readme_block("## Your collection: embed it, search it").replace("\\\n", " ").splitlines()
    collection_commands = [line.split("  #")[0].strip() for line in collection_commands if line.strip()]
    assert [c.split()[0] for c in collection_commands] == ["wsl-embed", "wsl-search", "wsl-search", "wsl-search"]
    found = []
    for command in collection_commands:
        result = subprocess.run(
            command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1200
        )
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
        found.append(result.stdout.splitlines())
    manifest = json.loads((tmp_path / "mine" / "index" / "manifest.json").read_text())
    assert manifest["images"] == 303 and manifest["bad_images"] == 0  # The committed PNGs and JPEG too.
    assert len(found[1]) == 10 and found[2][0].split("\t")[:3] == [
        "1",
        "1.0000",
        "cat1.jpg",
    ]  # Keys: paths under --input.
    page = (tmp_path / "cat.html").read_text()
    assert page.count('src="data:image/jpeg;base64,') == 10
