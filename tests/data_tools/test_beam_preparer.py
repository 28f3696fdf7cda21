"""wsl-prepare --runner=DirectRunner (the Beam pipeline) gives the local job's dataset on the same input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from data_tools.sources.jsonl import JsonlSource
from tests.data_tools.test_preparer import corpus, duplicated_corpus, prepare  # noqa: F401 (fixtures)
from wsl_tf import records
from wsl_tf.input.index import TrainIndex


def split_records(out, split) -> set:
    rows = set()
    for path in records.shard_paths(str(out), split):
        for serialized in tf.data.TFRecordDataset(path):
            features = tf.io.parse_single_example(serialized, records.features())
            rows.add(
                (
                    features[records.KEY].numpy().decode(),
                    features[records.IMAGE].numpy(),
                    tuple(tf.sparse.to_dense(features[records.WORD_IDS]).numpy().tolist()),
                )
            )
    return rows


def indexed_records(out) -> list:
    """Every train index entry's (key, word ids), read at its offset in its shard as the samplers read."""
    index = TrainIndex.load(os.path.join(out, records.TRAIN_INDEX_FILE))
    shards = records.shard_paths(str(out), "train")
    words_of = {}
    for word in range(index.num_words):
        for record in index.records_of(word):
            words_of.setdefault(int(record), []).append(word)
    found = []
    for record in range(index.num_records):
        with open(shards[index.shard[record]], "rb") as handle:
            handle.seek(int(index.offset[record]))
            serialized = handle.read(int(index.length[record]))
        features = tf.io.parse_single_example(serialized, records.features())
        ids = sorted(tf.sparse.to_dense(features[records.WORD_IDS]).numpy().tolist())
        assert ids == words_of[record]
        found.append((features[records.KEY].numpy().decode(), tuple(ids)))
    return sorted(found)


@pytest.mark.slow
def test_direct_runner_writes_the_local_jobs_dataset(duplicated_corpus, tmp_path):  # noqa: F811
    """On a corpus with duplicates too: Beam keeps the earliest of each, as the local job does."""
    local = tmp_path / "local"
    prepare(duplicated_corpus, local)
    beam = tmp_path / "beam"
    command = [
        sys.executable,
        "-m",
        "wsl_tf.cli.prepare",
        "--runner=DirectRunner",
        "--source=jsonl",
        f"--input={duplicated_corpus}",
        f"--output_dir={beam}",
        "--vocab_size=6",
        "--num_stopwords=2",
        "--image_size=32",
        "--num_shards=3",
        "--val_fraction=0.2",
        "--test_fraction=0.2",
        "--chunk_size=16",
        "--workers=0",
        "--",
        "--direct_num_workers=1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "with DirectRunner" in result.stdout

    assert (beam / "vocab.tsv").read_text() == (local / "vocab.tsv").read_text()
    assert (beam / "stopwords.tsv").read_text() == (local / "stopwords.tsv").read_text()
    ours, theirs = (json.loads((d / "dataset.json").read_text()) for d in (beam, local))
    assert ours == theirs  # Counts, skips, splits, shard names, fingerprint: all of it.
    assert ours["skipped_total"] >= 10 and ours["images"]["val"] > 0 and ours["images"]["test"] > 0
    assert (ours["skipped"]["duplicate_key"], ours["skipped"]["duplicate"]) == (2, 1)
    skipped = [sorted((d / "skipped.tsv").read_text().splitlines()) for d in (beam, local)]
    assert skipped[0] == skipped[1]
    for split in records.SPLITS:
        assert split_records(beam, split) == split_records(local, split), split
    assert indexed_records(str(beam)) == indexed_records(str(local))
    local_counts = TrainIndex.load(str(local / records.TRAIN_INDEX_FILE)).word_counts()
    np.testing.assert_array_equal(TrainIndex.load(str(beam / records.TRAIN_INDEX_FILE)).word_counts(), local_counts)
    assert not [name for name in os.listdir(beam) if ".tmp-" in name]


def test_a_runner_beam_does_not_know_is_a_clear_error(corpus, tmp_path):  # noqa: F811
    from data_tools import beam_preparer, preparer

    options = preparer.PrepareOptions(output_dir=str(tmp_path / "out"), workers=0, progress=False)
    with pytest.raises(preparer.PrepareError, match="--runner=SparkRuner: expected local or one of DirectRunner"):
        beam_preparer.run_pipeline(JsonlSource(corpus), options, "SparkRuner")
