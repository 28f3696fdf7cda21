"""wsl-embed on the shared run's export: a folder (recursive), a JSONL list, a prepared dataset's split; bad
images counted; one line for a model that is not an export."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import image_bytes, run_command
from wsl_tf import collection, records
from wsl_tf.cli import embed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_a_folder_is_embedded_recursively_keyed_by_its_paths(tiny_run, tmp_path, capsys):
    (tmp_path / "photos" / "cats").mkdir(parents=True)
    for i in range(3):
        (tmp_path / "photos" / "cats" / f"{i}.jpg").write_bytes(image_bytes(40, 30, seed=i))
    (tmp_path / "photos" / "top.png").write_bytes(image_bytes(30, 30, fmt="PNG", seed=9))
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    (tmp_path / "photos" / "notes.txt").write_text("not listed")
    out = tmp_path / "index"
    assert (
        run_command(
            embed,
            f"--model={tiny_run.export}",
            f"--input={tmp_path / 'photos'}",
            f"--output={out}",
            "--noprogress",
            "--shard_size=2",
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == (
        f"wrote {out}: 5 images in 3 shards, 1 without an embedding (listed in bad.tsv)"
    )
    index = collection.load_index(str(out))
    assert index.keys == ["broken.jpg", "cats/0.jpg", "cats/1.jpg", "cats/2.jpg", "top.png"]
    assert index.valid.tolist() == [False, True, True, True, True]
    assert index.manifest["export"]["path"] == tiny_run.export and index.manifest["embedding_dim"] == 512


def test_a_jsonl_list_and_a_prepared_split_are_embedded_in_their_order(tiny_run, tmp_path):
    (tmp_path / "a.png").write_bytes(image_bytes(30, 30, fmt="PNG", seed=1))
    (tmp_path / "list.jsonl").write_text(
        json.dumps({"image": "a.png", "text": "x", "key": "first"})
        + "\n"
        + json.dumps({"image": "gone.png", "text": "y", "key": "second"})
        + "\n"
    )
    assert (
        run_command(
            embed,
            f"--model={tiny_run.export}",
            f"--input={tmp_path / 'list.jsonl'}",
            f"--output={tmp_path / 'listed'}",
            "--noprogress",
            "--float16",
            "--nothumbnails",
        )
        == 0
    )
    listed = collection.load_index(str(tmp_path / "listed"))
    assert listed.keys == ["first", "second"] and listed.valid.tolist() == [True, False]
    assert listed.manifest["dtype"] == "float16" and [d["thumbnail"] for d in listed.details([0, 1])] == [b"", b""]
    assert (
        run_command(
            embed,
            f"--model={tiny_run.export}",
            f"--input={tiny_run.dataset}",
            "--split=test",
            f"--output={tmp_path / 'test'}",
            "--noprogress",
        )
        == 0
    )
    split = collection.load_index(str(tmp_path / "test"))
    keys = [
        records.parse_example(s)[records.KEY].numpy().decode()
        for s in tf.data.TFRecordDataset(records.shard_paths(tiny_run.dataset, "test"))
    ]
    assert split.keys == keys and split.valid.all() and np.isfinite(split.embeddings).all()


def test_a_model_that_is_not_an_export_and_a_dataset_without_a_split_are_one_line(tiny_run, tmp_path, capsys):
    assert run_command(embed, f"--model={tiny_run.workdir}", f"--input={tmp_path}", f"--output={tmp_path / 'i'}") == 1
    assert capsys.readouterr().err.strip() == (
        f"wsl-embed: error: --model={tiny_run.workdir}: not an export (no export.json there; wsl-export writes one)"
    )
    assert (
        run_command(embed, f"--model={tiny_run.export}", f"--input={tiny_run.dataset}", f"--output={tmp_path / 'i'}")
        == 1
    )
    assert capsys.readouterr().err.strip() == (
        f"wsl-embed: error: --input={tiny_run.dataset} is a prepared dataset: give --split=train, val or test"
    )


def test_index_builds_both_approximate_indexes_now_and_search_uses_them_without_building(tiny_run, tmp_path, capsys):
    from wsl_tf.cli import search

    (tmp_path / "photos").mkdir()
    for i in range(40):
        (tmp_path / "photos" / f"{i:02d}.png").write_bytes(image_bytes(32, 32, fmt="PNG", seed=i))
    out = tmp_path / "index"
    assert (
        run_command(
            embed,
            f"--model={tiny_run.export}",
            f"--input={tmp_path / 'photos'}",
            f"--output={out}",
            "--noprogress",
            "--index",
        )
        == 0
    )
    printed = capsys.readouterr().out
    for kind in collection.QUERY_KINDS:
        assert (out / collection.APPROXIMATE_FILE.format(kind=kind)).exists()
        assert f"built {out / collection.APPROXIMATE_FILE.format(kind=kind)}: " in printed
    info = json.loads((out / collection.APPROXIMATE_INFO).read_text())
    assert set(info) == set(collection.QUERY_KINDS)
    assert all(entry["recall_at_10"] >= collection.TARGET_RECALL for entry in info.values())
    firsts = []
    for mode in ("exact", "approximate"):
        assert (
            run_command(
                search,
                f"--index={out}",
                "--image=" + str(tmp_path / "photos" / "05.png"),
                f"--search={mode}",
                "--top=3",
                "--format=json",
            )
            == 0
        )
        captured = capsys.readouterr()
        assert "built" not in captured.err  # The cached index, not a new one.
        firsts.append(json.loads(captured.out.splitlines()[0])["key"])
    assert firsts == ["05.png", "05.png"]  # The image finds itself either way.


@pytest.mark.slow
def test_a_kill_9_mid_run_then_a_rerun_gives_the_files_of_an_uninterrupted_run(tiny_run, tmp_path):
    """wsl-embed as a process, killed with SIGKILL once its first shards are written, then run again."""
    (tmp_path / "photos").mkdir()
    for i in range(480):
        (tmp_path / "photos" / f"{i:03d}.png").write_bytes(image_bytes(40, 40, fmt="PNG", seed=i))

    def command(output):
        return [
            sys.executable,
            "-m",
            "wsl_tf.cli.embed",
            f"--model={tiny_run.export}",
            f"--input={tmp_path / 'photos'}",
            f"--output={output}",
            "--shard_size=32",
            "--batch_size=8",
            "--noprogress",
        ]

    env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"}
    whole = tmp_path / "whole"
    subprocess.run(command(whole), env=env, check=True, capture_output=True, timeout=600)
    killed = tmp_path / "killed"
    process = subprocess.Popen(command(killed), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(killed.glob("embeddings-*.tfrecord"))) < 2:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = sorted(p.name for p in killed.glob("embeddings-*.tfrecord"))
    assert 2 <= len(finished) < 15 and not (killed / collection.MANIFEST).exists()  # Killed mid-run.
    subprocess.run(command(killed), env=env, check=True, capture_output=True, timeout=600)
    names = sorted(p.name for p in whole.iterdir())
    assert (
        sorted(p.name for p in killed.iterdir()) == names and len(names) == 15 + 3
    )  # Shards, manifest, settings, bad.
    for name in names:
        assert (killed / name).read_bytes() == (whole / name).read_bytes(), name


def test_an_unknown_runner_and_pipeline_options_without_a_runner_are_named(tiny_run, tmp_path, capsys):
    common = [f"--model={tiny_run.export}", f"--input={tmp_path}", f"--output={tmp_path / 'index'}"]
    assert run_command(embed, *common, "--runner=Bogus") == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("--runner=Bogus: expected local or one of DirectRunner, DataflowRunner, FlinkRunner, SparkRunner")
    )
    assert not (tmp_path / "index").exists()
    assert run_command(embed, *common, "--", "--project=p") != 0
    assert "pipeline options need a Beam --runner" in capsys.readouterr().err
