"""The preparation's rules, as pure functions that both drivers call: the local job (data_tools/preparer.py)
and the Beam pipeline (data_tools/beam_preparer.py).

- the options and their checks (PrepareOptions), and what decides the
  staged records (fingerprint);
- a prepared record's split and list rule (split_record);
- the dictionary from the train word counts (dictionary);
- a record's example in its shard and the split's statistics (encode_record,
  empty_stats, add_stats);
- skipped.tsv's text and dataset.json's contents (skipped_tsv,
  dataset_metadata).

The drivers only schedule: which process runs a record, which shard it goes
to, how files are staged.
"""

import collections
import dataclasses
import json
import os
from collections.abc import Iterable

from data_tools import images, worker
from data_tools.sources import base
from data_tools.stopwords import RULES as STOPWORD_RULES
from data_tools.stopwords import StopwordLists
from wsl_tf import records
from wsl_tf.errors import DataError
from wsl_tf.vocab import Vocabulary

MAX_VOCAB_SIZE = 1_000_000


class PrepareError(DataError):
    """The job cannot run or produced nothing usable; the message says why."""


@dataclasses.dataclass(frozen=True)
class PrepareOptions:
    output_dir: str
    vocab_size: int = 1000
    num_stopwords: int = 500  # The paper's rule: drop the N most frequent words (after the lists, if any).
    stopwords: str = "frequent"  # "list": first drop each caption's language's listed stop words.
    stopword_lists: str | None = None  # With "list": the lists' folder (the corpus `stopwords`).
    vocab_path: str | None = None
    image_size: int = 256
    num_shards: int = 8
    val_fraction: float = 0.05
    test_fraction: float = 0.05
    workers: int = os.cpu_count() or 1
    chunk_size: int = 1024
    max_pixels: int = images.DEFAULT_MAX_PIXELS
    max_records: int = 0  # Read at most this many source items (0: all).
    progress: bool = True

    @classmethod
    def from_settings(cls, settings, name: str = "prepare", **given) -> "PrepareOptions":
        """The options of a config section (settings: {field: value}, e.g. configs/demo.py's data), given
        overriding; PrepareError naming every key that is not a field at once ({name}.KEY)."""
        fields = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(settings) - fields)
        if unknown:
            raise PrepareError(
                "; ".join(
                    f"{name}.{key}: no such setting (data_tools/preparation.py's PrepareOptions)" for key in unknown
                )
            )
        options = cls(**{**dict(settings), **given})
        options.validate()
        return options

    def validate(self) -> None:
        """PrepareError naming every option that cannot work, at once."""
        checks = [
            (bool(self.output_dir), "--output_dir is required"),
            (
                1 <= self.vocab_size <= MAX_VOCAB_SIZE,
                f"--vocab_size={self.vocab_size}: must be in [1, {MAX_VOCAB_SIZE}]",
            ),
            (self.num_stopwords >= 0, f"--num_stopwords={self.num_stopwords}: must be >= 0"),
            (
                self.stopwords in STOPWORD_RULES,
                f"--stopwords={self.stopwords}: expected one of {', '.join(STOPWORD_RULES)}",
            ),
            (
                self.stopwords != "list" or bool(self.stopword_lists) and os.path.isdir(self.stopword_lists),
                f"--stopwords=list needs the lists' folder (--stopword_lists={self.stopword_lists}: not a directory)",
            ),
            (16 <= self.image_size <= 4096, f"--image_size={self.image_size}: must be in [16, 4096]"),
            (self.num_shards >= 1, f"--num_shards={self.num_shards}: must be >= 1"),
            (0 <= self.val_fraction < 1, f"--val_fraction={self.val_fraction}: must be in [0, 1)"),
            (0 <= self.test_fraction < 1, f"--test_fraction={self.test_fraction}: must be in [0, 1)"),
            (
                self.val_fraction + self.test_fraction < 1,
                "--val_fraction + --test_fraction must be below 1, leaving a train split",
            ),
            (self.workers >= 0, f"--workers={self.workers}: must be >= 0 (0 runs in-process)"),
            (self.chunk_size >= 1, f"--chunk_size={self.chunk_size}: must be >= 1"),
            (self.max_pixels >= 1, f"--max_pixels={self.max_pixels}: must be >= 1"),
            (self.max_records >= 0, f"--max_records={self.max_records}: must be >= 0 (0: all)"),
        ]
        problems = [message for ok, message in checks if not ok]
        if problems:
            raise PrepareError("; ".join(problems))

    def shard_counts(self) -> dict[str, int]:
        """Train gets num_shards; val and test a proportional number, >= 1."""
        train_fraction = 1 - self.val_fraction - self.test_fraction
        return {
            "train": self.num_shards,
            "val": max(1, round(self.num_shards * self.val_fraction / train_fraction)),
            "test": max(1, round(self.num_shards * self.test_fraction / train_fraction)),
        }


@dataclasses.dataclass
class ChunkSummary:
    """What stage 1 remembers of a chunk besides its records."""

    items: int
    kept: int
    skipped: list  # [key, reason, detail]
    train_word_counts: dict


def small_dictionary_warning(
    distinct_words: int, num_stopwords: int, vocab_size: int, requested_size: int
) -> str | None:
    """One line when the stop words take more than half of the train split's distinct words, or the
    dictionary ends smaller than asked for (a small corpus under the paper's 500 stop words), with the
    --num_stopwords that would keep more words; else None."""
    if num_stopwords <= distinct_words / 2 and vocab_size >= requested_size:
        return None
    head = (
        f"wsl-prepare: warning: the dictionary has {vocab_size} words (--vocab_size={requested_size}): the train split"
    )
    if num_stopwords == 0:
        return f"{head} has only {distinct_words} distinct words; add data for more"
    dropped = min(num_stopwords, distinct_words)
    if vocab_size >= requested_size:  # Full, but its words are what is left once most words went as stop words.
        return (
            f"{head} has {distinct_words} distinct words and --num_stopwords={num_stopwords} drops the most "
            f"common {dropped}, more than half of them; --num_stopwords={distinct_words // 2} or lower keeps "
            f"them under half"
        )
    fewer = max(0, distinct_words - requested_size)  # The most stop words that still leave a full dictionary.
    kept = min(requested_size, distinct_words - fewer)
    hint = f"--num_stopwords={fewer} would keep {kept}" if fewer < num_stopwords else "add data for more"
    if fewer < num_stopwords and kept < requested_size:
        hint += ", and more data more"
    return (
        f"{head} has {distinct_words} distinct words and --num_stopwords={num_stopwords} drops the most common "
        f"{dropped} of them; {hint}"
    )


def fingerprint(source: base.Source, options: PrepareOptions, lists: StopwordLists | None = None) -> dict:
    """Everything that decides the staged records; staging is reused only if equal."""
    return {
        "source": source.describe(),
        "split_rule": records.SPLIT_RULE,
        "stopwords": options.stopwords
        if lists is None
        else {"rule": options.stopwords, "lists_sha256": lists.fingerprint()},
        "image_size": options.image_size,
        "max_pixels": options.max_pixels,
        "val_fraction": options.val_fraction,
        "test_fraction": options.test_fraction,
        "chunk_size": options.chunk_size,
        "max_records": options.max_records,
    }


def dataset_fingerprint(source: base.Source, options: PrepareOptions, lists: StopwordLists | None = None) -> dict:
    """Everything that decides a finished dataset (dataset.json's fingerprint): a rerun with an equal one has
    nothing to do."""
    return {
        **fingerprint(source, options, lists),
        "schema_version": records.SCHEMA_VERSION,
        "vocab_size": options.vocab_size,
        "num_stopwords": options.num_stopwords,
        "vocab_path": options.vocab_path,
        "shards": options.shard_counts(),
    }


class Duplicates:
    """Which prepared records (after split_record's list rule) repeat an earlier one of the collection, in input
    order: the same key, or the same image bytes and words under another key. The first is kept; a later one is
    a Skip. A record skipped for its key leaves its content unseen, so the Beam pipeline, which groups by key and
    then by content and keeps the earliest of each group, skips the same records."""

    def __init__(self):
        self.keys: set[str] = set()
        self.contents: set[bytes] = set()

    @staticmethod
    def content(record: worker.PreparedRecord) -> bytes:
        """A digest of the image bytes and the words."""
        import hashlib

        return hashlib.sha256(record.image + b"\0" + "\n".join(record.words).encode("utf-8")).digest()

    def restore(self, staged: Iterable[worker.PreparedRecord], skipped: Iterable[list]) -> None:
        """What an earlier run of the same job already saw: its staged (kept) records, and the keys of the records
        it skipped for their content (those keys count as taken, as check counts them)."""
        for record in staged:
            self.check(record)
        self.keys.update(key for key, reason, _ in skipped if reason == base.DUPLICATE)

    def check(self, record: worker.PreparedRecord) -> base.Skip | None:
        """None for a record seen for the first time (now remembered), else why it is a duplicate."""
        if record.key in self.keys:
            return base.Skip(record.key, base.DUPLICATE_KEY, "the key of an earlier record")
        self.keys.add(record.key)
        digest = self.content(record)
        if digest in self.contents:
            return base.Skip(record.key, base.DUPLICATE, "the image and words of an earlier record")
        self.contents.add(digest)
        return None


def split_record(
    record: worker.PreparedRecord, options: PrepareOptions, lists: StopwordLists | None
) -> tuple[str, worker.PreparedRecord]:
    """(its split, drawn from its image's identity, and the record without its language's listed stop words
    when the rule is "list")."""
    if lists is not None:
        record = dataclasses.replace(record, words=lists.drop(record.words, record.language))
    return records.split_of(record.identity, options.val_fraction, options.test_fraction), record


def dictionary(train_word_counts, options: PrepareOptions, fixed: Vocabulary | None = None, log=print):
    """(vocabulary, stop words): the paper's dictionary from the train split's word counts ({word: count} or
    (word, count) pairs), or the fixed vocab.tsv given with --vocab; a line in the log when it ends small."""
    if fixed is not None:
        return fixed, Vocabulary((), ())
    counts = collections.Counter(dict(train_word_counts))
    if not counts:
        raise PrepareError("the train split is empty: lower --val_fraction/--test_fraction or add data")
    vocab, stopwords = Vocabulary.from_counts(counts, options.vocab_size, options.num_stopwords)
    warning = small_dictionary_warning(len(counts), options.num_stopwords, len(vocab), options.vocab_size)
    if warning:
        log(warning)
    return vocab, stopwords


def empty_stats() -> dict:
    """Each split's images, image-word pairs and images without a dictionary word: zero."""
    return {s: {"images": 0, "pairs": 0, "no_target": 0} for s in records.SPLITS}


def add_stats(total: dict, split: str, stats: dict) -> None:
    for name, value in stats.items():
        total[split][name] += value


def encode_record(
    record: worker.PreparedRecord, split: str, vocab: Vocabulary, stats: dict
) -> tuple[bytes, list[int]] | None:
    """(the record's serialized tf.train.Example, its dictionary word ids), counted into stats[split]; None for
    a train record without a dictionary word (dropped: it has no target); val and test keep theirs, counted."""
    ids = vocab.ids(record.words)
    if not ids:
        stats[split]["no_target"] += 1
        if split == "train":
            return None
    stats[split]["images"] += 1
    stats[split]["pairs"] += len(ids)
    return records.make_example(record.key, record.image, ids, record.language), ids


def skip_counts(summaries: list[ChunkSummary]) -> collections.Counter:
    """How many records were skipped for each reason."""
    return collections.Counter(reason for s in summaries for _, reason, _ in s.skipped)


def nothing_usable(summaries: list[ChunkSummary], skipped_file: str) -> PrepareError:
    """The error of a job whose every record was skipped: how many, why, the first one's reason in full, and
    where the rest are listed."""
    rows = [row for s in summaries for row in s.skipped]
    first = f"; the first, {rows[0][0]}: {rows[0][1]}: {rows[0][2]}" if rows else ""
    return PrepareError(
        f"no usable records in --input ({sum(s.items for s in summaries)} read, all skipped: "
        f"{dict(skip_counts(summaries)) or 'none found'}){first}; each is listed in {skipped_file}"
    )


def skipped_tsv(summaries: list[ChunkSummary]) -> str:
    """skipped.tsv: a header, then every skipped record of the summaries, its reason and detail."""

    def clean(value):
        return str(value).replace("\t", " ").replace("\n", " ")

    return "".join(
        ["key\treason\tdetail\n"] + ["\t".join(clean(v) for v in row) + "\n" for s in summaries for row in s.skipped]
    )


def dataset_metadata(
    source: base.Source,
    options: PrepareOptions,
    lists: StopwordLists | None,
    summaries: list[ChunkSummary],
    vocab: Vocabulary,
    stopwords: Vocabulary,
    stats: dict,
) -> dict:
    """dataset.json's contents: the summaries' counts, the dictionary's sizes and each split's stats."""
    skipped = skip_counts(summaries)
    return {
        "schema_version": records.SCHEMA_VERSION,
        "source": source.describe(),
        "split_rule": records.SPLIT_RULE,
        "vocab_size": len(vocab),
        "requested_vocab_size": options.vocab_size,
        "num_stopwords": len(stopwords),
        "stopword_rule": options.stopwords,
        "stopword_list_sizes": lists.sizes() if lists else None,
        "vocab_from": options.vocab_path,
        "image_size": options.image_size,
        "records_read": sum(s.items for s in summaries),
        "skipped": dict(sorted(skipped.items())),
        "skipped_total": sum(skipped.values()),
        "images": {s: stats[s]["images"] for s in records.SPLITS},
        "pairs": {s: stats[s]["pairs"] for s in records.SPLITS},
        "avg_targets_per_image": {
            s: round(stats[s]["pairs"] / stats[s]["images"], 4) if stats[s]["images"] else 0.0 for s in records.SPLITS
        },
        "no_target_images": {s: stats[s]["no_target"] for s in records.SPLITS},
        "train_images_dropped_without_target": stats["train"]["no_target"],
        "max_words_per_image": stats["max_words_per_image"],
        "train_index": records.TRAIN_INDEX_FILE,
        "splits": {
            "val_fraction": options.val_fraction,
            "test_fraction": options.test_fraction,
            "rule": f"{records.SPLIT_RULE}, as hex, through sha256('split' NUL it): lowest test_fraction -> test, "
            "next val_fraction -> val",
        },
        "shards": {s: [records.shard_name(s, i, n) for i in range(n)] for s, n in options.shard_counts().items()},
        "fingerprint": json.loads(json.dumps(dataset_fingerprint(source, options, lists))),
    }


def split_warnings(metadata: dict, options: PrepareOptions) -> list[str]:
    """One line for each held-out split that is empty or too small to measure on (records.MIN_USEFUL_HELD_OUT_IMAGES
    images with a dictionary word), naming the flag that gives it more; a split asked to be empty is not warned of."""
    lines = []
    for split, fraction in (("val", options.val_fraction), ("test", options.test_fraction)):
        labelled = metadata["images"][split] - metadata["no_target_images"][split]
        if fraction == 0 or labelled >= records.MIN_USEFUL_HELD_OUT_IMAGES:
            continue
        use = "wsl-train validates on it after every epoch" if split == "val" else "wsl-eval measures on it"
        lines.append(
            f"wsl-prepare: warning: the {split} split has {labelled} images with a dictionary word "
            f"({use}; fewer than {records.MIN_USEFUL_HELD_OUT_IMAGES} move its figures by chance): "
            f"raise --{split}_fraction={fraction:g} or add data"
        )
    return lines
