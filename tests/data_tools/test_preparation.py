"""The preparation's rules, which the local and the Beam drivers both call: split and list rule, dictionary,
record encoding and statistics, skipped.tsv; and the local job writing a dataset on a filesystem that is not
local disk."""

import collections
import json
import os
import uuid

import pytest
import tensorflow as tf

from data_tools import preparation
from data_tools.preparation import ChunkSummary, PrepareError, PrepareOptions
from data_tools.stopwords import StopwordLists
from data_tools.worker import PreparedRecord
from wsl_tf import records
from wsl_tf.vocab import Vocabulary

OPTIONS = PrepareOptions(output_dir="unused", vocab_size=3, num_stopwords=1, val_fraction=0.3, test_fraction=0.3)


def test_a_record_gets_its_images_split_and_loses_its_languages_listed_stop_words():
    lists = StopwordLists({"en": frozenset({"the", "a"}), "fr": frozenset({"le"})})
    for i in range(40):
        identity = records.image_identity(f"source image {i}".encode())
        record = PreparedRecord(f"k{i}", b"img", ("the", "dog", "le"), identity, "en")
        split, kept = preparation.split_record(record, OPTIONS, lists)
        assert split == records.split_of(identity, 0.3, 0.3)
        assert kept.words == ("dog", "le") and kept.key == record.key  # Only English's list applies.
        assert preparation.split_record(record, OPTIONS, None)[1] == record


def test_every_copy_of_an_image_lands_in_one_split_whatever_its_key_or_caption():
    import hashlib

    assert records.image_identity(b"abc") == hashlib.sha256(b"abc").hexdigest()
    for i in range(30):
        source_image = f"drawing {i}".encode()
        copies = [
            PreparedRecord(f"folder{j}/drawing{i}", b"img", (f"word{j}",), records.image_identity(source_image))
            for j in range(5)
        ]
        assert len({preparation.split_record(copy, OPTIONS, None)[0] for copy in copies}) == 1
    # The rule is in the fingerprint, so staging or a dataset split by another rule is not reused.
    assert preparation.fingerprint(_Source(), OPTIONS)["split_rule"] == records.SPLIT_RULE


class _Source:
    def describe(self):
        return {"name": "test"}


def test_the_dictionary_is_the_vocabularys_rule_on_the_counts_and_says_when_it_is_small():
    counts = collections.Counter({"the": 9, "dog": 5, "cat": 4, "sun": 2, "moon": 1})
    lines = []
    vocab, stopwords = preparation.dictionary(counts, OPTIONS, log=lines.append)
    expected = Vocabulary.from_counts(counts, 3, 1)
    assert (vocab.words, stopwords.words) == (expected[0].words, expected[1].words)
    assert list(vocab.words) == ["dog", "cat", "sun"] and lines == []
    # Beam's counts come as (word, count) pairs; the same dictionary.
    assert preparation.dictionary(sorted(counts.items()), OPTIONS)[0].words == vocab.words
    small = preparation.dictionary({"dog": 2, "cat": 1}, OPTIONS, log=lines.append)[0]
    assert len(small) == 1 and len(lines) == 1 and "the dictionary has 1 words (--vocab_size=3)" in lines[0]
    fixed = Vocabulary(("x", "y"), (3, 2))
    assert preparation.dictionary({}, OPTIONS, fixed)[0] is fixed
    with pytest.raises(PrepareError, match="the train split is empty"):
        preparation.dictionary({}, OPTIONS)


def test_a_record_without_a_dictionary_word_is_dropped_from_train_and_counted_in_every_split():
    vocab = Vocabulary(("dog", "cat"), (5, 4))
    stats = preparation.empty_stats()
    with_words = PreparedRecord("a", b"img", ("cat", "sun", "dog"), "id-a", "en")
    serialized, ids = preparation.encode_record(with_words, "train", vocab, stats)
    assert ids == [0, 1] and serialized == records.make_example("a", b"img", [0, 1], "en")  # In id order.
    without = PreparedRecord("b", b"img", ("sun",), "id-b")
    assert preparation.encode_record(without, "train", vocab, stats) is None
    kept = preparation.encode_record(without, "val", vocab, stats)
    assert kept == (records.make_example("b", b"img", []), [])
    assert stats["train"] == {"images": 1, "pairs": 2, "no_target": 1}
    assert stats["val"] == {"images": 1, "pairs": 0, "no_target": 1}
    total = preparation.empty_stats()
    preparation.add_stats(total, "train", stats["train"])
    preparation.add_stats(total, "train", stats["train"])
    assert total["train"] == {"images": 2, "pairs": 4, "no_target": 2}


def test_skipped_tsv_has_one_clean_line_per_skipped_record():
    summaries = [
        ChunkSummary(3, 1, [["k1", "bad_image", "cannot\tdecode\nit"]], {}),
        ChunkSummary(2, 1, [["k2", "no_text", ""]], {}),
    ]
    assert preparation.skipped_tsv(summaries) == "key\treason\tdetail\nk1\tbad_image\tcannot decode it\nk2\tno_text\t\n"
    assert preparation.skip_counts(summaries) == {"bad_image": 1, "no_text": 1}


def test_the_local_job_writes_the_same_dataset_on_a_filesystem_that_is_not_local(tmp_path, monkeypatch):
    from data_tools.preparer import STAGING_DIR, DatasetPreparer
    from data_tools.sources.jsonl import JsonlSource
    from tests.helpers import prepare_jsonl_dataset

    settings = dict(vocab_size=12, num_stopwords=0, image_size=32, num_shards=2, chunk_size=8)
    words = [
        "dog",
        "cat",
        "sun",
        "moon",
        "tree",
        "boat",
        "rain",
        "snow",
        "bird",
        "fish",
        "star",
        "road",
        "lake",
        "leaf",
        "rock",
    ]
    local = prepare_jsonl_dataset(tmp_path, 40, words, image_px=40, **settings)
    monkeypatch.chdir(tmp_path)  # Where a path written as if local would land, as ./ram:/...
    before = sorted(os.listdir(tmp_path))
    remote = f"ram://wsl_tf_test_{uuid.uuid4().hex[:8]}/data"
    options = PrepareOptions(output_dir=remote, workers=0, progress=False, **settings)
    metadata = DatasetPreparer(JsonlSource(str(tmp_path / "list.jsonl")), options, log=lambda *_: None).run()
    assert sorted(os.listdir(tmp_path)) == before  # Nothing landed on local disk.
    assert metadata == json.loads((tmp_path / "data" / "dataset.json").read_text())
    assert sorted(tf.io.gfile.listdir(remote)) == sorted(os.listdir(local))  # Staging removed, as locally.
    assert STAGING_DIR not in os.listdir(local)
    for name in os.listdir(local):
        assert tf.io.gfile.GFile(f"{remote}/{name}", "rb").read() == (tmp_path / "data" / name).read_bytes(), name
    again = DatasetPreparer(JsonlSource(str(tmp_path / "list.jsonl")), options, log=lambda *_: None)
    assert again.completed_metadata() == metadata  # A rerun finds it complete there.


def test_every_bad_option_is_named_at_once_and_a_config_section_may_hold_only_options():
    with pytest.raises(PrepareError) as raised:
        PrepareOptions(output_dir="out", vocab_size=0, num_shards=0, val_fraction=1.5).validate()
    assert str(raised.value).split("; ") == [
        "--vocab_size=0: must be in [1, 1000000]",
        "--num_shards=0: must be >= 1",
        "--val_fraction=1.5: must be in [0, 1)",
        "--val_fraction + --test_fraction must be below 1, leaving a train split",
    ]
    options = PrepareOptions.from_settings({"vocab_size": 50, "image_size": 64}, "data", output_dir="out")
    assert (options.vocab_size, options.image_size, options.output_dir) == (50, 64, "out")
    with pytest.raises(PrepareError, match=r"^data\.corpus: no such setting .*; data\.vocab: no such setting"):
        PrepareOptions.from_settings({"vocab": 50, "corpus": "x", "image_size": 64}, "data", output_dir="out")


def test_a_held_out_split_too_small_to_measure_on_is_warned_of_unless_asked_to_be_empty():
    metadata = {"images": {"train": 900, "val": 40, "test": 0}, "no_target_images": {"train": 0, "val": 10, "test": 0}}
    lines = preparation.split_warnings(metadata, PrepareOptions(output_dir="out", val_fraction=0.05, test_fraction=0.1))
    assert lines == [
        "wsl-prepare: warning: the val split has 30 images with a dictionary word (wsl-train validates on it after "
        "every epoch; fewer than 100 move its figures by chance): raise --val_fraction=0.05 or add data",
        "wsl-prepare: warning: the test split has 0 images with a dictionary word (wsl-eval measures on it; fewer "
        "than 100 move its figures by chance): raise --test_fraction=0.1 or add data",
    ]
    assert preparation.split_warnings(metadata, PrepareOptions(output_dir="out", test_fraction=0.0))[1:] == []
    metadata["images"]["val"] = 110
    assert preparation.split_warnings(metadata, PrepareOptions(output_dir="out", test_fraction=0.0)) == []
