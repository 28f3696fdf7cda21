"""wsl-search over an index of the shared run's export: by words and by image against numpy, the gallery page,
one line for an unknown word only and for an index of another export."""

import base64
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import image_bytes, run_command
from wsl_tf import collection
from wsl_tf.cli import embed, search


@pytest.fixture(scope="module")
def index_dir(tiny_run, tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    (root / "photos").mkdir()
    for i in range(12):
        (root / "photos" / f"{i:02d}.png").write_bytes(image_bytes(40, 40, fmt="PNG", seed=i))
    (root / "photos" / "bad.jpg").write_bytes(b"no")
    assert (
        run_command(
            embed,
            f"--model={tiny_run.export}",
            f"--input={root / 'photos'}",
            f"--output={root / 'index'}",
            "--noprogress",
        )
        == 0
    )
    return str(root / "index")


def word_ranking(tiny_run, index_dir, words):
    """numpy: the mean of the words' e.w + b over the valid images, best first."""
    signatures = tf.saved_model.load(os.path.join(tiny_run.export, "saved_model")).signatures
    vectors = signatures["word_vectors"](words=tf.constant(words))
    index = collection.load_index(index_dir)
    scores = (index.embeddings @ vectors["vectors"].numpy().T + vectors["biases"].numpy()).mean(1)
    order = [r for r in np.argsort(-scores, kind="stable") if index.valid[r]]
    return [index.keys[r] for r in order], scores[order]


def test_words_rank_the_collection_as_the_word_layer_scores_it(tiny_run, index_dir, capsys):
    assert run_command(search, f"--index={index_dir}", "--words=Dog,sea", "--top=5", "--format=json") == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "wsl-search: --words: Dog is dog under the text rules"
    lines = [json.loads(line) for line in captured.out.splitlines()]
    keys, scores = word_ranking(tiny_run, index_dir, ["dog", "sea"])
    assert [line["key"] for line in lines] == keys[:5] and [line["rank"] for line in lines] == [1, 2, 3, 4, 5]
    assert [line["score"] for line in lines] == pytest.approx(scores[:5].tolist(), abs=1e-4)
    assert "bad.jpg" not in keys


def test_an_image_finds_itself_first(index_dir, capsys):
    query = os.path.join(os.path.dirname(index_dir), "photos", "07.png")
    assert run_command(search, f"--index={index_dir}", f"--image={query}", "--top=3") == 0
    first = capsys.readouterr().out.splitlines()[0].split("\t")
    assert first[0] == "1" and first[2] == "07.png" and float(first[1]) == pytest.approx(1.0, abs=1e-5)


def test_the_gallery_is_one_page_with_every_thumbnail_inline(index_dir, tmp_path, capsys):
    page = tmp_path / "dog.html"
    assert (
        run_command(search, f"--index={index_dir}", "--words=dog", "--top=4", "--format=html", f"--output={page}") == 0
    )
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<h1>words: dog</h1>" in text
    sources = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', text)
    assert len(sources) == 4 and all(base64.b64decode(s)[:2] == b"\xff\xd8" for s in sources)
    assert "http" not in text.replace("http://www.w3.org", "")  # Nothing fetched: it opens from disk.


def test_an_unknown_word_alone_and_an_index_of_another_export_are_one_line(tiny_run, index_dir, tmp_path, capsys):
    assert run_command(search, f"--index={index_dir}", "--words=zebra") == 1
    assert capsys.readouterr().err.splitlines() == [
        "wsl-search: not in the dictionary, left out: zebra",
        "wsl-search: error: --words: none of them is in the model's dictionary",
    ]
    other = tmp_path / "other"
    shutil.copytree(tiny_run.export, other)
    info = json.loads((other / "export.json").read_text())
    (other / "export.json").write_text(json.dumps({**info, "checkpoint": "elsewhere/ckpt-9"}))
    assert run_command(search, f"--index={index_dir}", f"--model={other}", "--words=dog") == 1
    assert "was made with another export" in capsys.readouterr().err


def test_approximate_search_finds_the_image_itself_and_prints_its_recall(index_dir, capsys):
    query = os.path.join(os.path.dirname(index_dir), "photos", "03.png")
    assert run_command(search, f"--index={index_dir}", f"--image={query}", "--top=3", "--search=approximate") == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].split("\t")[:3][1:] == ["1.0000", "03.png"]
    recall = json.loads(open(os.path.join(index_dir, "approximate.json")).read())["image"]["recall_at_10"]
    assert recall >= 0.95 and f"recall@10 against exact search {recall:.3f}" in captured.err
    assert run_command(search, f"--index={index_dir}", "--words=dog", "--search=approximate", "--format=json") == 0
    found = {line["key"]: line["score"] for line in map(json.loads, capsys.readouterr().out.splitlines())}
    exact = run_command(search, f"--index={index_dir}", "--words=dog", "--search=exact", "--top=12", "--format=json")
    every = {line["key"]: line["score"] for line in map(json.loads, capsys.readouterr().out.splitlines())}
    assert exact == 0 and "bad.jpg" not in found and len(set(found) & set(list(every)[:10])) >= 8  # Most of them.
    # The hits the 8-bit codes chose carry their exact scores, in exact order.
    assert list(found.values()) == sorted(found.values(), reverse=True)
    assert all(abs(score - every[key]) < 1e-4 for key, score in found.items())


COLOURS = {"red": (230, 20, 20), "green": (20, 200, 40), "blue": (30, 40, 230), "yellow": (240, 220, 10)}
COLOURS.update({"magenta": (220, 30, 220), "cyan": (20, 220, 230)})


def browser_screenshot(page, out, width=1100, height=900) -> np.ndarray:
    """Debian's chromium, headless, as this machine's closed network wants it: the page's pixels [H, W, 3]."""
    from PIL import Image

    profile = out.parent / "profile"
    command = [
        "/usr/bin/chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        f"--screenshot={out}",
        page.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and out.exists(), result.stderr[-2000:]
    return np.asarray(Image.open(out).convert("RGB"))


@pytest.mark.slow
def test_the_gallery_renders_in_a_real_browser_with_every_thumbnail(tiny_run, tmp_path):
    """wsl-embed then wsl-search --format=html on six images of one saturated colour each; chromium's screenshot
    of the page from disk shows six thumbnail-sized patches, one of each colour (a page whose images did not
    decode shows none)."""
    from PIL import Image
    from scipy import ndimage

    (tmp_path / "photos").mkdir()
    for name, rgb in COLOURS.items():
        Image.new("RGB", (48, 48), rgb).save(tmp_path / "photos" / f"{name}.png")
    index = tmp_path / "index"
    assert run_command(embed, f"--model={tiny_run.export}", f"--input={tmp_path / 'photos'}", f"--output={index}") == 0
    page = tmp_path / "page" / "dog.html"
    assert run_command(search, f"--index={index}", "--words=dog", "--top=6", "--format=html", f"--output={page}") == 0

    def thumbnails_shown(pixels) -> dict:
        found = {}
        for name, rgb in COLOURS.items():
            close = np.abs(pixels.astype(int) - np.array(rgb)).max(axis=2) <= 40  # JPEG moves a colour a little.
            labels, _ = ndimage.label(close)
            sizes = np.bincount(labels.ravel())[1:]
            found[name] = int((sizes >= 0.8 * 128 * 128).sum())  # The page draws each thumbnail 128 px square.
        return found

    assert thumbnails_shown(browser_screenshot(page, tmp_path / "shot.png")) == dict.fromkeys(COLOURS, 1)
    # The same page with its images' bytes damaged: the browser draws no thumbnail, and the check sees none.
    damaged = tmp_path / "page" / "damaged.html"
    damaged.write_text(re.sub(r'base64,[^"]{40}', "base64,AAAA", page.read_text()))
    assert thumbnails_shown(browser_screenshot(damaged, tmp_path / "damaged.png")) == dict.fromkeys(COLOURS, 0)
