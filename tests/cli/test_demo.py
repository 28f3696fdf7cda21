"""wsl-demo end to end on a tiny slice of real data: fetch, prepare, train, export, evaluate, report; rerun skips."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.helpers import run_command
from wsl_tf.cli import demo

TINY = [
    "--config.data.corpora=('tuxpaint','emoji')",
    "--config.data.max_records_each=120",
    "--config.data.num_shards=2",
    "--config.data.test_fraction=0.25",
    "--config.data.val_fraction=0.15",
    "--config.run.model.num_words=30",
    "--config.run.train.max_epochs=1",
    "--config.run.train.epoch_size=128",
    "--config.run.train.batch_size_per_replica=16",
    "--config.run.eval.val_images=32",
    "--config.run.eval.batch_size=32",
    "--config.run.eval.test_images=60",
    "--config.run.eval.transfer_images=120",
    "--config.run.eval.class_network_steps=5",
    # The slice's first 120 stamps are nearly all animals, its emoji few: too few folders for `categories`.
    "--config.run.eval.transfer=('fashion_mnist',)",
    "--config.run.eval.choice_epochs=1",
    "--config.run.eval.choice_epoch_size=32",
]


def wsl_demo(workdir):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "wsl_tf.cli.demo", f"--workdir={workdir}", *TINY],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )


@pytest.mark.slow
@pytest.mark.network
def test_the_demo_chain_leaves_a_model_a_report_and_pictures_and_a_rerun_gives_the_same_numbers(tmp_path):
    """Its own run: the wsl-demo process itself, end to end on a slice of the real stamps."""
    first = wsl_demo(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "run"
    assert (run / "export" / "saved_model" / "saved_model.pb").exists() and (run / "export" / "model.keras").exists()
    # The slice holds stamps and emoji; no record keeps a word of its own caption language's classic stop-word
    # list (English "car" stays, French "car", because, goes).
    from data_tools import corpora
    from data_tools.stopwords import StopwordLists

    keys = json.loads((tmp_path / "data" / "dataset.json").read_text())["fingerprint"]["source"]
    assert [source["name"] for source in keys["sources"]] == ["tuxpaint", "emoji"]
    classic = StopwordLists.load(corpora.fetch("stopwords"))
    kept = kept_words_by_language(tmp_path / "data")
    assert set(kept) == {"en", "fr"}, kept.keys()
    for language, words in kept.items():
        assert words and not words & classic.for_language(language), (language, words & classic.for_language(language))
    report = (run / "eval" / "report.md").read_text()
    for section in (
        "## Word prediction",
        "## Transfer learning",
        "## Word embeddings",
        "## Loss and sampling",
        "## Pictures",
    ):
        assert section in report
    sections = {part.splitlines()[0]: part for part in report.split("\n## ")[1:]}
    for title, part in sections.items():
        if title.startswith(("Word prediction", "Loss and sampling")):
            assert "n/a" not in part and re.search(r"\| 0\.\d{3} \|", part), part
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert set(metrics["pictures"]["files"]) == {"predictions", "top_images", "image_map", "word_map"}
    for picture in metrics["pictures"]["files"].values():
        assert (run / "eval" / picture).read_bytes()[:4] == b"\x89PNG"
        assert f"]({picture})" in report
    assert len(metrics["training_choices"]["runs"]) == 4
    out = first.stdout.splitlines()
    assert f"report: {run / 'eval' / 'report.md'}" in out
    table = out[out.index(f"report: {run / 'eval' / 'report.md'}") + 1 :]
    assert table[0].startswith("word prediction, test split, ") and table[1] == (
        "| model | precision@1 | precision@5 | precision@10 |"
    )  # The report's own table, as report.md has it.
    assert "\n".join(table[1:]) in report
    names = [
        line.split(" | ")[0].strip("| ")
        for line in table[3:]
        if line.startswith("| ") and not line.startswith("| ceiling")
    ]
    # The model (raw beside it where its prior weight is not 0), each baseline, and each baseline's prior-adjusted
    # form where its val-chosen weight is not 0.
    row = re.compile(
        r"this model( \(prior weight [\d.]+\))?|this model, raw scores|"
        r"(word frequency|features logistic regression|random network logistic regression)"
        r"( \+ prior \(weight [\d.]+\))?"
    )
    assert all(row.fullmatch(name) for name in names), names
    assert {row.fullmatch(name).group(2) for name in names} - {None} == {
        "word frequency",
        "features logistic regression",
        "random network logistic regression",
    }

    again = wsl_demo(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to train" in again.stdout + again.stderr and "already done" in again.stdout
    assert again.stdout.splitlines()[-len(table) :] == table  # The same numbers.


def kept_words_by_language(dataset_dir) -> dict[str, set[str]]:
    """caption language -> the dictionary words its records keep, read back from every split's TFRecords."""
    import tensorflow as tf

    from wsl_tf import records

    vocab = [line.split("\t")[0] for line in (dataset_dir / "vocab.tsv").read_text().splitlines()]
    kept: dict[str, set[str]] = {}
    for split in ("train", "val", "test"):
        for serialized in tf.data.TFRecordDataset(records.shard_paths(str(dataset_dir), split)):
            example = records.parse_example(serialized)
            language = example[records.LANGUAGE].numpy().decode()
            kept.setdefault(language, set()).update(vocab[i] for i in example[records.WORD_IDS].numpy())
    return kept


def said_on_stderr(err: str) -> list[str]:
    """What the demo says on stderr, its progress bars (tqdm) aside."""
    return [
        line
        for line in err.replace("\r", "\n").splitlines()
        if line.strip() and not re.match(r"^[\w-]+: +\d+%\|", line)
    ]


def test_no_registry_says_what_to_fetch_by_hand_and_where(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text(
        '#!/bin/sh\necho "E: Failed to fetch http://deb.debian.org/x  Temporary failure '
        "resolving 'deb.debian.org'\" >&2\nexit 100\n"
    )
    (fake / "apt-get").chmod(0o755)
    cache = tmp_path / "cache"
    monkeypatch.setenv("WSL_TF_CACHE", str(cache))
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    assert run_command(demo, f"--workdir={tmp_path / 'demo'}", *TINY) == 1
    err = said_on_stderr(capsys.readouterr().err)
    assert len(err) == 1, err
    assert err[0].startswith(
        "wsl-demo: error: apt-get download tuxpaint-stamps-default (is Debian's registry "
        "reachable?) failed: E: Failed to fetch"
    ), err
    assert f"dpkg-deb -x FILE.deb {cache / 'tuxpaint'}" in err[0]
    assert f"touch {cache / 'tuxpaint'}/.complete" in err[0]
    assert not os.listdir(cache)  # Nothing half-fetched is left.


@pytest.mark.parametrize(
    "failure, status, message",
    [
        (OSError(28, "No space left on device", "x.tfrecord"), 1, "wsl-demo: error: no space left on the device"),
        (
            KeyboardInterrupt(),
            130,
            "wsl-demo: interrupted. Rerun the same command to resume: finished stages are kept "
            "and training goes on from its last checkpoint.",
        ),
    ],
)
def test_a_full_disk_and_an_interrupt_each_get_one_line(tmp_path, monkeypatch, capsys, failure, status, message):
    from data_tools import preparer
    from data_tools.sources.jsonl import JsonlSource

    (tmp_path / "list.jsonl").write_text("")
    monkeypatch.setattr(demo, "demo_source", lambda data: JsonlSource(str(tmp_path / "list.jsonl")))

    def run(self):
        raise failure

    monkeypatch.setattr(preparer.DatasetPreparer, "run", run)
    assert run_command(demo, f"--workdir={tmp_path / 'demo'}", *TINY) == status
    err = said_on_stderr(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith(message), err
    if status == 1:
        assert "needs about 1 GB" in err[0] and "--workdir on another disk" in err[0]
