"""The wsl-prepare job on a small JSONL corpus holding every kind of bad record."""

import collections
import filecmp
import json
import os

import pytest
import tensorflow as tf

from data_tools import preparer
from data_tools.sources import base
from data_tools.sources.jsonl import JsonlSource
from tests.helpers import image_bytes, png_claiming_size
from wsl_tf import fileio, records, text
from wsl_tf.vocab import Vocabulary

ANIMALS = ["dog", "cat", "horse", "bird", "fish", "cow", "sheep", "goat"]
PLACES = ["beach", "park", "city", "farm", "lake"]

BAD = {
    "bad/corrupt.jpg": (image_bytes(64, 64)[:300], "the dog", base.CORRUPT_IMAGE),
    "bad/format.jpg": (b"GIF89a but not really" * 3, "the cat", base.UNSUPPORTED_FORMAT),
    "bad/bomb.png": (png_claiming_size(50_000, 50_000), "the bird", base.TOO_MANY_PIXELS),
    "bad/empty_caption.jpg": (image_bytes(), "", base.EMPTY_TEXT),
    "bad/only_numbers.jpg": (image_bytes(), "2012 !!!", base.EMPTY_TEXT),
}


def caption(i: int) -> str:
    """Record i's text: two words in every record, then Zipf-ish animals and a place."""
    return " ".join(["The", "photo"] + ANIMALS[: i % len(ANIMALS)] + [PLACES[i % len(PLACES)]]) + f" #{i}"


def make_corpus(root, n=120):
    """n good records, the BAD ones, and broken lines."""
    lines = []
    for i in range(n):
        name = f"good/{i:04d}.jpg"
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(48, 40, seed=i))
        lines.append(json.dumps({"image": name, "text": caption(i)}))
    for name, (data, bad_caption, _) in BAD.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        lines.append(json.dumps({"image": name, "text": bad_caption}))
    lines.append(json.dumps({"image": "bad/missing.jpg", "text": "a missing horse"}))
    lines.append('{"image": "broken json')
    lines.append(b'{"image": "good/0000.jpg", "text": "caf\xe9", "key": "latin1"}'.decode("latin-1"))
    corpus = root / "corpus.jsonl"
    corpus.write_bytes("\n".join(lines).replace("caf\u00e9", "\udce9").encode("utf-8", "surrogateescape"))
    return str(corpus)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def options(out, **overrides):
    base_options = dict(
        output_dir=str(out),
        vocab_size=6,
        num_stopwords=2,
        image_size=32,
        num_shards=3,
        val_fraction=0.2,
        test_fraction=0.2,
        workers=0,
        chunk_size=16,
        progress=False,
    )
    return preparer.PrepareOptions(**{**base_options, **overrides})


def prepare(corpus, out, source=None, **overrides):
    return preparer.DatasetPreparer(source or JsonlSource(corpus), options(out, **overrides), log=lambda *_: None).run()


def read_split(out, split):
    rows = []
    for path in records.shard_paths(str(out), split):
        for serialized in tf.data.TFRecordDataset(path):
            rows.append({k: v.numpy() for k, v in records.parse_example(serialized).items()})
    return rows


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared")
    return out, prepare(corpus, out)


def test_every_bad_record_is_skipped_counted_and_listed(prepared):
    out, metadata = prepared
    expected = collections.Counter(reason for _, _, reason in BAD.values())
    expected.update({base.MISSING_FILE: 1, base.BAD_LINE: 1, base.UNDECODABLE_TEXT: 1})
    assert metadata["skipped"] == dict(expected)
    assert metadata["records_read"] == 120 + len(BAD) + 3
    listed = [line.split("\t") for line in (out / "skipped.tsv").read_text().splitlines()[1:]]
    assert collections.Counter(row[1] for row in listed) == expected
    assert {row[0] for row in listed if row[1] != base.BAD_LINE} == set(BAD) | {"bad/missing.jpg", "corpus.jsonl:128"}
    assert all(len(row) == 3 and row[2] for row in listed)


def test_the_dictionary_counts_images_not_tokens_and_drops_stop_words_first(tmp_path, write_image):
    """Hand-counted: a word repeated in a caption counts once for that image."""
    captions = [
        "Dog dog DOG on the beach",
        "the cat and the dog",
        "The cat, the cat!",
        "the lake",
        "cat's toys at the lake",
    ]
    with open(tmp_path / "list.jsonl", "w") as handle:
        for i, text_of_image in enumerate(captions):
            write_image(f"{i}.jpg", seed=i)
            handle.write(json.dumps({"image": f"{i}.jpg", "text": text_of_image, "key": f"r{i}"}) + "\n")
    out = tmp_path / "out"
    metadata = prepare(
        str(tmp_path / "list.jsonl"),
        out,
        vocab_size=4,
        num_stopwords=1,
        val_fraction=0.0,
        test_fraction=0.0,
        num_shards=1,
    )
    # Images per word: the 5, cat 2, dog 2, lake 2, then and / at / beach / cats / on / toys 1 (ties alphabetical).
    # Tokens would give the 7, dog 4, cat 3: another order and other counts.
    assert (out / "stopwords.tsv").read_text() == "the\t5\n"
    assert (out / "vocab.tsv").read_text() == "cat\t2\ndog\t2\nlake\t2\nand\t1\n"
    assert metadata["vocab_size"] == 4 and metadata["num_stopwords"] == 1
    ids = {row[records.KEY].decode(): list(row[records.WORD_IDS]) for row in read_split(out, "train")}
    assert ids == {"r0": [1], "r1": [0, 1, 3], "r2": [0], "r3": [2], "r4": [2]}


def test_the_dictionary_counts_come_from_the_train_split_only(prepared):
    out, _ = prepared
    vocab = Vocabulary.load(str(out / "vocab.tsv"))
    per_split = {
        split: collections.Counter(w for row in read_split(out, split) for w in row[records.WORD_IDS])
        for split in records.SPLITS
    }
    assert list(vocab.counts) == [per_split["train"][i] for i in range(len(vocab))]
    assert per_split["val"] + per_split["test"]  # Val and test hold dictionary words, left out of the counts.


def test_shards_hold_the_dictionary_words_of_each_image(prepared, corpus):
    out, metadata = prepared
    vocab = Vocabulary.load(str(out / "vocab.tsv"))
    captions = {f"good/{i:04d}.jpg": caption(i) for i in range(120)}
    seen = 0
    for split in records.SPLITS:
        rows = read_split(out, split)
        assert len(rows) == metadata["images"][split]
        for row in rows:
            key = row[records.KEY].decode()
            source_image = open(os.path.join(os.path.dirname(corpus), key), "rb").read()
            assert records.split_of(records.image_identity(source_image), 0.2, 0.2) == split
            assert list(row[records.WORD_IDS]) == vocab.ids(text.words(captions[key]))
            assert tf.io.decode_jpeg(row[records.IMAGE]).shape == (32, 32, 3)
            seen += 1
    assert seen + metadata["train_images_dropped_without_target"] == 120
    pairs = sum(len(r[records.WORD_IDS]) for r in read_split(out, "train"))
    assert metadata["avg_targets_per_image"]["train"] == round(pairs / metadata["images"]["train"], 4)


def test_train_images_without_a_dictionary_word_are_dropped_and_counted(prepared):
    out, metadata = prepared
    assert metadata["train_images_dropped_without_target"] > 0
    assert all(len(r[records.WORD_IDS]) > 0 for r in read_split(out, "train"))
    kept_without = sum(len(r[records.WORD_IDS]) == 0 for s in ("val", "test") for r in read_split(out, s))
    assert kept_without == metadata["no_target_images"]["val"] + metadata["no_target_images"]["test"]


def test_shard_layout_and_names(prepared):
    out, metadata = prepared
    names = sorted(p for p in os.listdir(out) if p.endswith(".tfrecord"))
    assert names == sorted(n for ns in metadata["shards"].values() for n in ns)
    assert metadata["shards"]["train"] == [records.shard_name("train", i, 3) for i in range(3)]
    assert not os.path.exists(out / preparer.STAGING_DIR)


def test_output_is_byte_identical_whatever_the_worker_count(prepared, corpus, tmp_path):
    out, _ = prepared
    prepare(corpus, tmp_path, workers=2)
    names = sorted(os.listdir(out))
    assert names == sorted(os.listdir(tmp_path))
    match, mismatch, errors = filecmp.cmpfiles(out, tmp_path, names, shallow=False)
    assert mismatch == [] and errors == []


class CrashingSource(JsonlSource):
    """Loads in-process and dies (like kill -9) after `crash_after` loads."""

    def __init__(self, path, crash_after=None):
        super().__init__(path)
        self._crash_after = crash_after
        self._loads = 0

    @property
    def loads(self):
        return self._loads

    def load(self, item):
        self._loads += 1
        if self._crash_after is not None and self._loads > self._crash_after:
            raise KeyboardInterrupt
        return super().load(item)


def with_duplicates(corpus: str) -> str:
    """The corpus and, after it, a line repeating an early line's key (another image and text), one repeating an
    early line's image and text under a new key, and one repeating that key again."""
    lines = open(corpus, "rb").read().decode("utf-8", "surrogateescape").split("\n")
    early = json.loads(lines[1])
    lines += [
        json.dumps({"image": "good/0002.jpg", "text": caption(2), "key": early["image"]}),
        json.dumps({"image": early["image"], "text": early["text"], "key": "copy-of-1"}),
        json.dumps({"image": "good/0003.jpg", "text": caption(3), "key": "copy-of-1"}),
    ]
    path = os.path.join(os.path.dirname(corpus), "duplicated.jsonl")  # Beside it: image paths are relative.
    with open(path, "wb") as handle:
        handle.write("\n".join(lines).encode("utf-8", "surrogateescape"))
    return path


@pytest.fixture(scope="module")
def duplicated_corpus(corpus):
    return with_duplicates(corpus)


def test_duplicates_are_skipped_counted_and_listed_also_across_a_resume(prepared, duplicated_corpus, tmp_path):
    _, metadata = prepared
    whole = prepare(duplicated_corpus, tmp_path / "whole")
    assert whole["skipped"]["duplicate_key"] == 2 and whole["skipped"]["duplicate"] == 1
    assert sum(whole["images"].values()) == sum(metadata["images"].values())  # Nothing new kept.
    listed = [line.split("\t")[:2] for line in (tmp_path / "whole" / "skipped.tsv").read_text().splitlines()]
    early = json.loads(open(duplicated_corpus, "rb").read().split(b"\n")[1])["image"]
    assert [early, "duplicate_key"] in listed and ["copy-of-1", "duplicate"] in listed
    assert ["copy-of-1", "duplicate_key"] in listed  # Its key was taken by the line skipped for its content.
    crashing = CrashingSource(duplicated_corpus, crash_after=40)  # The originals staged, the copies not yet.
    with pytest.raises(KeyboardInterrupt):
        prepare(duplicated_corpus, tmp_path / "resumed", source=crashing)
    prepare(duplicated_corpus, tmp_path / "resumed")
    names = sorted(os.listdir(tmp_path / "whole"))
    assert sorted(os.listdir(tmp_path / "resumed")) == names
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "whole", tmp_path / "resumed", names, shallow=False)
    assert mismatch == [] and errors == []


def test_an_image_filed_under_other_keys_with_other_captions_lands_in_its_originals_split(corpus, tmp_path):
    lines = open(corpus, "rb").read().decode("utf-8", "surrogateescape").split("\n")
    copies = [
        json.dumps({"image": f"good/{i:04d}.jpg", "text": f"another {ANIMALS[i % 8]} caption", "key": f"copy/{i}"})
        for i in range(60)
    ]
    path = tmp_path / "corpus" / "copies.jsonl"
    path.parent.mkdir()
    for i in range(120):  # Image paths are relative to the JSONL.
        (path.parent / "good").mkdir(exist_ok=True)
        (path.parent / f"good/{i:04d}.jpg").write_bytes(
            open(os.path.join(os.path.dirname(corpus), f"good/{i:04d}.jpg"), "rb").read()
        )
    path.write_text("\n".join(lines[:120] + copies))
    metadata = prepare(str(path), tmp_path / "out", test_fraction=0.3, val_fraction=0.3)
    assert metadata["skipped"].get("duplicate", 0) == 0  # Other words: not duplicates, kept.
    split_of_key = {
        row[records.KEY].decode(): split for split in records.SPLITS for row in read_split(tmp_path / "out", split)
    }
    # Both kept (a train image without a dictionary word is dropped).
    copied = [
        (f"good/{i:04d}.jpg", f"copy/{i}") for i in range(60) if {f"good/{i:04d}.jpg", f"copy/{i}"} <= set(split_of_key)
    ]
    assert len(copied) >= 40 and {split_of_key[o] for o, _ in copied} == {"train", "val", "test"}
    assert all(split_of_key[original] == split_of_key[copy] for original, copy in copied)


def test_rerun_after_a_crash_resumes_and_matches(prepared, corpus, tmp_path):
    out, _ = prepared
    crashing = CrashingSource(corpus, crash_after=40)
    with pytest.raises(KeyboardInterrupt):
        prepare(corpus, tmp_path, source=crashing)
    assert not any(n.endswith(".tfrecord") for n in os.listdir(tmp_path))
    assert not os.path.exists(tmp_path / "dataset.json")
    resumed = CrashingSource(corpus)
    prepare(corpus, tmp_path, source=resumed)
    assert resumed.loads == 120 + len(BAD) + 1 - 32  # The two chunks of 16 staged before the crash are not redone.
    match, mismatch, errors = filecmp.cmpfiles(out, tmp_path, sorted(os.listdir(out)), shallow=False)
    assert mismatch == [] and errors == []
    again = CrashingSource(corpus)
    prepare(corpus, tmp_path, source=again)
    assert again.loads == 0  # Complete already: nothing redone.


def test_a_full_disk_while_shards_are_written_leaves_no_half_written_shard_and_the_rerun_matches(
    prepared, corpus, tmp_path, monkeypatch
):
    """ENOSPC injected at the write layer: the shard writer fails as TensorFlow's does on a full disk."""
    out, _ = prepared
    writer_class, writes = tf.io.TFRecordWriter, []

    class FillingWriter(writer_class):
        def write(self, record):
            writes.append(len(record))
            if len(writes) > 50:
                raise tf.errors.ResourceExhaustedError(None, None, "shard.tmp; No space left on device")
            super().write(record)

    monkeypatch.setattr(tf.io, "TFRecordWriter", FillingWriter)
    with pytest.raises(tf.errors.ResourceExhaustedError):
        prepare(corpus, tmp_path)
    left = sorted(os.listdir(tmp_path))
    assert [n for n in left if n.endswith(".tfrecord") or fileio.is_temporary(n)] == []
    assert "dataset.json" not in left and preparer.STAGING_DIR in left  # The staged chunks are kept for the rerun.
    (tmp_path / ".train-00000-of-00003.tfrecord.tmp-0123456789ab").write_bytes(b"half")  # As kill -9 leaves one.
    monkeypatch.setattr(tf.io, "TFRecordWriter", writer_class)
    prepare(corpus, tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted(os.listdir(out))
    match, mismatch, errors = filecmp.cmpfiles(out, tmp_path, sorted(os.listdir(out)), shallow=False)
    assert mismatch == [] and errors == []


def test_staging_of_other_options_is_discarded(corpus, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        prepare(corpus, tmp_path, source=CrashingSource(corpus, crash_after=40))
    prepare(corpus, tmp_path, image_size=24)
    row = read_split(tmp_path, "train")[0]
    assert tf.io.decode_jpeg(row[records.IMAGE]).shape == (24, 24, 3)


def test_fewer_shards_on_rerun_removes_the_old_ones(corpus, tmp_path):
    prepare(corpus, tmp_path, num_shards=5)
    prepare(corpus, tmp_path, num_shards=2)
    assert len(records.shard_paths(str(tmp_path), "train")) == 2


def test_max_records_reads_only_the_first_items(corpus, tmp_path):
    metadata = prepare(corpus, tmp_path, max_records=50)
    assert metadata["records_read"] == 50 and metadata["skipped_total"] == 0


def test_reusing_a_vocabulary(prepared, corpus, tmp_path):
    out, _ = prepared
    metadata = prepare(corpus, tmp_path, vocab_path=str(out / "vocab.tsv"), vocab_size=2)
    assert (tmp_path / "vocab.tsv").read_text() == (out / "vocab.tsv").read_text()
    assert metadata["vocab_size"] == 6 and metadata["vocab_from"] == str(out / "vocab.tsv")


def test_a_jsonl_of_other_field_names_names_the_fields_expected_and_found_and_lists_every_line(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(json.dumps({"file_name": f"{i}.png", "caption": "a cat"}) + "\n" for i in range(3)) + "[1, 2]\n"
    )
    out = tmp_path / "out"
    with pytest.raises(preparer.PrepareError) as raised:
        prepare(str(corpus), out)
    assert str(raised.value) == (
        "no usable records in --input (4 read, all skipped: {'bad_line': 4}); the first, c.jsonl:1: bad_line: "
        'expected an object with an "image" path and a "text" caption (found fields: caption, file_name); each is '
        f"listed in {out / 'skipped.tsv'}"
    )
    lines = (out / "skipped.tsv").read_text().splitlines()
    assert lines[0] == "key\treason\tdetail" and [line.split("\t")[0] for line in lines[1:]] == [
        "c.jsonl:1",
        "c.jsonl:2",
        "c.jsonl:3",
        "c.jsonl:4",
    ]
    assert lines[4].endswith("(found a JSON list)") and sorted(os.listdir(out)) == ["skipped.tsv"]


def test_zero_usable_records_is_an_error(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"image": "nope.jpg", "text": "x"}\n')
    with pytest.raises(preparer.PrepareError, match=r"no usable records.*missing_file"):
        prepare(str(corpus), tmp_path / "out")
    assert not os.path.exists(tmp_path / "out" / "dataset.json")


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"vocab_size": 0}, "--vocab_size=0"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "below 1"),
        ({"num_shards": 0}, "--num_shards=0"),
        ({"image_size": 8}, "--image_size=8"),
        ({"workers": -1}, "--workers=-1"),
        ({"vocab_path": "/nonexistent/vocab.tsv"}, "--vocab: cannot read"),
    ],
)
def test_bad_options_are_named(corpus, tmp_path, overrides, message):
    with pytest.raises(preparer.PrepareError, match=message):
        prepare(corpus, tmp_path, **overrides)


def test_the_summary_says_which_images_without_a_dictionary_word_were_left_out(corpus, tmp_path):
    said = []
    metadata = preparer.DatasetPreparer(JsonlSource(corpus), options(tmp_path / "out"), log=said.append).run()
    lines = {line.split(":")[0].strip(): line for line in said if line.startswith("  ")}
    train, val = metadata["no_target_images"]["train"], metadata["no_target_images"]["val"]
    assert train > 0
    assert lines["train"].endswith(f"; {train} more had no dictionary word and were left out")
    assert f"  train: {metadata['images']['train']} images," in lines["train"]
    assert lines["val"].endswith(f"; {val} of them have no dictionary word (kept, as held-out data)")


def test_the_records_bar_has_a_total_and_an_eta(corpus, tmp_path, capsys):
    lines = sum(1 for line in open(corpus, "rb") if line.strip())
    preparer.DatasetPreparer(JsonlSource(corpus), options(tmp_path / "out", progress=True), log=lambda *_: None).run()
    bar = [part for part in capsys.readouterr().err.split("\r") if part.startswith("records:")][-1]
    assert f" {lines}/{lines} [" in bar and "100%" in bar
    capsys.readouterr()
    preparer.DatasetPreparer(
        JsonlSource(corpus), options(tmp_path / "capped", progress=True, max_records=50), log=lambda *_: None
    ).run()
    first = [part for part in capsys.readouterr().err.split("\r") if part.startswith("records:")][0]
    assert first.startswith("records:   0%") and "0/50 [" in first  # A total from the start, so an ETA.
