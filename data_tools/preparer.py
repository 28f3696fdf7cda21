"""The wsl-prepare job: one raw collection in, one dataset directory out.

Three stages, each restartable:

1. Records. The source is scanned in order and cut into chunks of
   `chunk_size` items; worker processes load, clean and re-encode each item.
   A finished chunk is written to `.staging/` (records, then a JSON summary of
   its skips and training word counts, the summary last): a rerun after a
   crash skips the chunks already there.
2. Vocabulary. The chunks' training word counts are summed and the paper's
   dictionary built (or an existing vocab.tsv is reused with `vocab_path`).
   With `stopwords="list"` each record first loses the stop words of its
   caption's language (data_tools/stopwords.py), as its chunk is staged.
3. Shards. The staged records are mapped to word ids and dealt round-robin,
   in input order, into each split's shards; the train split's index (each
   record's place in its shard, each word's records: see
   wsl_tf/input/index.py) is written alongside for the samplers. Shards are written under
   temporary names and renamed into place; dataset.json is written last, so
   its presence means the directory is complete.

Results come back from the workers in input order, so the same input and
options give byte-identical output whatever the number of workers.
"""

import collections
import contextlib
import dataclasses
import itertools
import json
import multiprocessing
import os
import pickle
import shutil
import threading
import time
from collections.abc import Iterator

from tqdm import tqdm

from data_tools import images, worker
from data_tools.sources import base
from data_tools.stopwords import RULES as STOPWORD_RULES
from data_tools.stopwords import StopwordLists
from wsl_tf import fileio, records
from wsl_tf.vocab import Vocabulary, VocabularyError
from wsl_tf.errors import DataError

STAGING_DIR = ".staging"
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

    def validate(self) -> None:
        checks = [
            (bool(self.output_dir), "--output_dir is required"),
            (1 <= self.vocab_size <= MAX_VOCAB_SIZE,
             f"--vocab_size={self.vocab_size}: must be in [1, {MAX_VOCAB_SIZE}]"),
            (self.num_stopwords >= 0, f"--num_stopwords={self.num_stopwords}: must be >= 0"),
            (self.stopwords in STOPWORD_RULES,
             f"--stopwords={self.stopwords}: expected one of {', '.join(STOPWORD_RULES)}"),
            (self.stopwords != "list" or bool(self.stopword_lists) and os.path.isdir(self.stopword_lists),
             f"--stopwords=list needs the lists' folder (--stopword_lists={self.stopword_lists}: not a directory)"),
            (16 <= self.image_size <= 4096, f"--image_size={self.image_size}: must be in [16, 4096]"),
            (self.num_shards >= 1, f"--num_shards={self.num_shards}: must be >= 1"),
            (0 <= self.val_fraction < 1, f"--val_fraction={self.val_fraction}: must be in [0, 1)"),
            (0 <= self.test_fraction < 1, f"--test_fraction={self.test_fraction}: must be in [0, 1)"),
            (self.val_fraction + self.test_fraction < 1,
             "--val_fraction + --test_fraction must be below 1, leaving a train split"),
            (self.workers >= 0, f"--workers={self.workers}: must be >= 0 (0 runs in-process)"),
            (self.chunk_size >= 1, f"--chunk_size={self.chunk_size}: must be >= 1"),
            (self.max_pixels >= 1, f"--max_pixels={self.max_pixels}: must be >= 1"),
            (self.max_records >= 0, f"--max_records={self.max_records}: must be >= 0 (0: all)"),
        ]
        for ok, message in checks:
            if not ok:
                raise PrepareError(message)

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


def small_dictionary_warning(distinct_words: int, num_stopwords: int, vocab_size: int,
                             requested_size: int) -> str | None:
    """One line when the stop words take more than half of the train split's distinct words, or the
    dictionary ends smaller than asked for (a small corpus under the paper's 500 stop words); else None."""
    if num_stopwords <= distinct_words / 2 and vocab_size >= requested_size:
        return None
    return (f"wsl-prepare: warning: the dictionary has {vocab_size} words (--vocab_size={requested_size}): the "
            f"train split has {distinct_words} distinct words and --num_stopwords={num_stopwords} drops the most "
            f"common {min(num_stopwords, distinct_words)} of them; lower --num_stopwords or add data")


def fingerprint(source: base.Source, options: PrepareOptions, lists: StopwordLists | None = None) -> dict:
    """Everything that decides the staged records; staging is reused only if equal."""
    return {
        "source": source.describe(),
        "stopwords": options.stopwords if lists is None else {"rule": options.stopwords,
                                                              "lists_sha256": lists.fingerprint()},
        "image_size": options.image_size,
        "max_pixels": options.max_pixels,
        "val_fraction": options.val_fraction,
        "test_fraction": options.test_fraction,
        "chunk_size": options.chunk_size,
        "max_records": options.max_records,
    }


class _Staging:
    """The `.staging/` directory of stage 1: one records file + summary per chunk.

    Records are pickled: staging is this job's own short-lived data, and a
    pickle costs the single main process far less than building and then
    re-parsing protos.
    """

    def __init__(self, output_dir: str, params: dict):
        self.dir = os.path.join(output_dir, STAGING_DIR)
        params_path = os.path.join(self.dir, "params.json")
        if os.path.exists(params_path):
            with open(params_path) as handle:
                if json.load(handle) != params:
                    shutil.rmtree(self.dir)
        os.makedirs(self.dir, exist_ok=True)
        fileio.remove_stale_temporaries(self.dir)
        if not os.path.exists(params_path):
            fileio.write_text_atomic(params_path, json.dumps(params, sort_keys=True))

    def records_path(self, index: int) -> str:
        return os.path.join(self.dir, f"chunk-{index:06d}.pickle")

    def summary_path(self, index: int) -> str:
        return os.path.join(self.dir, f"chunk-{index:06d}.json")

    def is_done(self, index: int) -> bool:
        return os.path.exists(self.summary_path(index))

    def chunk_indices(self) -> list[int]:
        names = sorted(n for n in os.listdir(self.dir) if n.startswith("chunk-") and n.endswith(".json"))
        return [int(n[len("chunk-"):-len(".json")]) for n in names]

    def write(self, index: int, records: list, summary: ChunkSummary) -> None:
        fileio.write_bytes_atomic(
            self.records_path(index), pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL)
        )
        fileio.write_text_atomic(
            self.summary_path(index), json.dumps(dataclasses.asdict(summary), sort_keys=True)
        )

    def summary(self, index: int) -> ChunkSummary:
        with open(self.summary_path(index)) as handle:
            return ChunkSummary(**json.load(handle))

    def read(self, index: int) -> list[tuple[str, worker.PreparedRecord]]:
        with open(self.records_path(index), "rb") as handle:
            return pickle.load(handle)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _chunks(items: Iterator, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _map_in_order(task: worker.RecordTask, items: Iterator, workers: int) -> Iterator:
    """prepare_record over (index, item) pairs, results in input order.

    With workers > 0 a spawn pool does the work; at most a bounded number of
    items are in flight, so a source of large items (tar shards) is not read
    into memory ahead of the writers.
    """
    if workers == 0:
        for index, item in items:
            yield index, worker.prepare_record(item, task)
        return
    inflight = threading.Semaphore(64 + 8 * workers)
    stop = threading.Event()
    indices = collections.deque()

    def tasks():  # Consumed by the pool's feeder thread.
        for index, item in items:
            while not inflight.acquire(timeout=0.2):
                if stop.is_set():
                    return
            indices.append(index)
            yield item

    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=worker.init_worker, initargs=(task,))
    try:
        for result in pool.imap(worker.prepare_record, tasks(), chunksize=4):
            inflight.release()
            yield indices.popleft(), result
    finally:
        stop.set()
        pool.terminate()
        pool.join()


class DatasetPreparer:
    """Runs the three stages for one source and one set of options."""

    def __init__(self, source: base.Source, options: PrepareOptions, log=print):
        options.validate()
        self.source = source
        self.options = options
        self.log = log
        self.stopword_lists = StopwordLists.load(options.stopword_lists) if options.stopwords == "list" else None
        self.fingerprint = fingerprint(source, options, self.stopword_lists)
        self.fingerprint.update(
            schema_version=records.SCHEMA_VERSION,
            vocab_size=options.vocab_size,
            num_stopwords=options.num_stopwords,
            vocab_path=options.vocab_path,
            shards=options.shard_counts(),
        )
        self.fixed_vocab = self._load_vocab() if options.vocab_path else None

    def _load_vocab(self) -> Vocabulary:
        try:
            return Vocabulary.load(self.options.vocab_path)
        except VocabularyError as error:
            raise PrepareError(f"--vocab: {error}") from None

    def run(self) -> dict:
        """Prepare the dataset directory; return the contents of dataset.json."""
        out = self.options.output_dir
        os.makedirs(out, exist_ok=True)
        fileio.remove_stale_temporaries(out)  # What a killed run left under temporary names.
        done = self.completed_metadata()
        if done is not None:
            self.log(f"{out} is already complete for these inputs and options; nothing to do.")
            return done
        staging = _Staging(out, fingerprint(self.source, self.options, self.stopword_lists))
        started = time.monotonic()
        read_stats = self._stage_records(staging)
        summaries = [staging.summary(i) for i in staging.chunk_indices()]
        kept = sum(s.kept for s in summaries)
        if kept == 0:
            staging.remove()
            raise PrepareError(
                f"no usable records in --input ({sum(s.items for s in summaries)} read, all skipped: "
                f"{dict(self._skip_counts(summaries)) or 'none found'})"
            )
        vocab, stopwords = self._stage_vocab(summaries)
        vocab.save(os.path.join(out, records.VOCAB_FILE))
        stopwords.save(os.path.join(out, records.STOPWORDS_FILE))
        split_stats = self._stage_shards(staging, vocab, kept)
        metadata = self.dataset_metadata(summaries, vocab, stopwords, split_stats)
        self.write_skipped(summaries)
        fileio.write_json_atomic(os.path.join(out, records.METADATA_FILE), metadata, sort_keys=True)
        staging.remove()
        self._log_summary(metadata, read_stats, time.monotonic() - started)
        return metadata

    def completed_metadata(self) -> dict | None:
        """dataset.json's contents if OUTPUT_DIR is already complete for this source and these options, else None."""

        path = os.path.join(self.options.output_dir, records.METADATA_FILE)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            metadata = json.load(handle)
        if metadata.get("fingerprint") != json.loads(json.dumps(self.fingerprint)):
            return None
        all_there = all(
            os.path.exists(os.path.join(self.options.output_dir, name))
            for names in metadata["shards"].values()
            for name in names
        )
        return metadata if all_there else None

    # Stage 1 ---------------------------------------------------------------

    def _stage_records(self, staging: _Staging) -> dict:
        options = self.options
        task = worker.RecordTask(self.source, options.image_size, options.max_pixels)
        sizes: dict[int, int] = {}
        pending: dict[int, list] = {}

        total = self.source.count() if options.progress else None
        if total is not None and options.max_records:
            total = min(total, options.max_records)
        bar = tqdm(desc="records", total=total, unit="rec", disable=not options.progress, smoothing=0.1)

        def work_items():
            items = self.source.scan()
            if options.max_records:
                items = itertools.islice(items, options.max_records)
            for index, chunk in enumerate(_chunks(items, options.chunk_size)):
                if staging.is_done(index):
                    if bar.total:  # Staged by an earlier run: not part of this run's work or ETA.
                        bar.total -= len(chunk)
                        bar.refresh()
                    continue
                sizes[index] = len(chunk)
                yield from ((index, item) for item in chunk)

        started = time.monotonic()
        processed = 0
        with bar:
            for index, result in _map_in_order(task, work_items(), options.workers):
                pending.setdefault(index, []).append(result)
                processed += 1
                bar.update(1)
                if len(pending[index]) == sizes[index]:
                    self._write_chunk(staging, index, pending.pop(index))
        return {"records": processed, "seconds": time.monotonic() - started}

    def _write_chunk(self, staging: _Staging, index: int, results: list) -> None:
        kept, skipped = [], []
        counts = collections.Counter()
        for result in results:
            if isinstance(result, base.Skip):
                skipped.append([result.key, result.reason, result.detail])
                continue
            if self.stopword_lists is not None:
                result = dataclasses.replace(result, words=self.stopword_lists.drop(result.words, result.language))
            split = records.split_of(result.key, self.options.val_fraction, self.options.test_fraction)
            if split == "train":
                counts.update(result.words)
            kept.append((split, result))
        summary = ChunkSummary(len(results), len(kept), skipped, dict(sorted(counts.items())))
        staging.write(index, kept, summary)

    # Stage 2 ---------------------------------------------------------------

    def _stage_vocab(self, summaries: list[ChunkSummary]) -> tuple[Vocabulary, Vocabulary]:
        if self.fixed_vocab is not None:
            return self.fixed_vocab, Vocabulary((), ())
        counts = collections.Counter()
        for summary in summaries:
            counts.update(summary.train_word_counts)
        if not counts:
            raise PrepareError("the train split is empty: lower --val_fraction/--test_fraction or add data")
        vocab, stopwords = Vocabulary.from_counts(counts, self.options.vocab_size, self.options.num_stopwords)
        warning = small_dictionary_warning(len(counts), self.options.num_stopwords, len(vocab), self.options.vocab_size)
        if warning:
            self.log(warning)
        return vocab, stopwords

    # Stage 3 ---------------------------------------------------------------

    def _stage_shards(self, staging: _Staging, vocab: Vocabulary, total: int) -> dict:
        import tensorflow as tf

        from wsl_tf.input.index import TrainIndexBuilder

        out = self.options.output_dir
        counts = self.options.shard_counts()
        final = {s: [os.path.join(out, records.shard_name(s, i, n)) for i in range(n)] for s, n in counts.items()}
        temps = {s: [fileio.temp_path_for(p) for p in paths] for s, paths in final.items()}
        writers = {s: [tf.io.TFRecordWriter(p) for p in paths] for s, paths in temps.items()}
        index = TrainIndexBuilder(counts["train"], len(vocab))
        stats = {s: {"images": 0, "pairs": 0, "no_target": 0} for s in records.SPLITS}
        bar = tqdm(total=total, desc="shards", unit="rec", disable=not self.options.progress)
        try:
            for index_of_chunk in staging.chunk_indices():
                for split, record in staging.read(index_of_chunk):
                    bar.update(1)
                    ids = vocab.ids(record.words)
                    if not ids:
                        stats[split]["no_target"] += 1
                        if split == "train":
                            continue
                    shard = stats[split]["images"] % counts[split]
                    serialized = records.make_example(record.key, record.image, ids, record.language)
                    writers[split][shard].write(serialized)
                    if split == "train":
                        index.add(shard, len(serialized), ids)
                    stats[split]["images"] += 1
                    stats[split]["pairs"] += len(ids)
            for split_writers in writers.values():
                for writer in split_writers:
                    writer.close()  # Where a full disk may surface: the writers buffer.
        except BaseException:  # No half-written shard stays behind.
            for writer in (w for split_writers in writers.values() for w in split_writers):
                with contextlib.suppress(Exception):
                    writer.close()
            for path in (p for paths in temps.values() for p in paths):
                if tf.io.gfile.exists(path):
                    tf.io.gfile.remove(path)
            raise
        finally:
            bar.close()
        index.save(os.path.join(out, records.TRAIN_INDEX_FILE))
        for split in records.SPLITS:
            for old in records.shard_paths(out, split):
                if old not in final[split]:
                    tf.io.gfile.remove(old)
            for temp, path in zip(temps[split], final[split]):
                fileio.commit(temp, path)
        stats["max_words_per_image"] = index.max_words_per_record
        return stats

    # Reports ---------------------------------------------------------------

    @staticmethod
    def _skip_counts(summaries) -> collections.Counter:
        return collections.Counter(reason for s in summaries for _, reason, _ in s.skipped)

    def write_skipped(self, summaries: list[ChunkSummary]) -> None:
        """skipped.tsv: every skipped record of the summaries, its reason and detail."""

        def clean(value):
            return str(value).replace("\t", " ").replace("\n", " ")

        lines = ["key\treason\tdetail\n"] + [
            "\t".join(clean(v) for v in row) + "\n" for s in summaries for row in s.skipped
        ]
        fileio.write_text_atomic(os.path.join(self.options.output_dir, records.SKIPPED_FILE), "".join(lines))

    def dataset_metadata(self, summaries: list[ChunkSummary], vocab: Vocabulary, stopwords: Vocabulary,
                         stats: dict) -> dict:
        """dataset.json's contents: the summaries' counts, the dictionary's sizes and each split's stats."""

        skipped = self._skip_counts(summaries)
        return {
            "schema_version": records.SCHEMA_VERSION,
            "source": self.source.describe(),
            "vocab_size": len(vocab),
            "requested_vocab_size": self.options.vocab_size,
            "num_stopwords": len(stopwords),
            "stopword_rule": self.options.stopwords,
            "stopword_list_sizes": self.stopword_lists.sizes() if self.stopword_lists else None,
            "vocab_from": self.options.vocab_path,
            "image_size": self.options.image_size,
            "records_read": sum(s.items for s in summaries),
            "skipped": dict(sorted(skipped.items())),
            "skipped_total": sum(skipped.values()),
            "images": {s: stats[s]["images"] for s in records.SPLITS},
            "pairs": {s: stats[s]["pairs"] for s in records.SPLITS},
            "avg_targets_per_image": {
                s: round(stats[s]["pairs"] / stats[s]["images"], 4) if stats[s]["images"] else 0.0
                for s in records.SPLITS
            },
            "no_target_images": {s: stats[s]["no_target"] for s in records.SPLITS},
            "train_images_dropped_without_target": stats["train"]["no_target"],
            "max_words_per_image": stats["max_words_per_image"],
            "train_index": records.TRAIN_INDEX_FILE,
            "splits": {
                "val_fraction": self.options.val_fraction,
                "test_fraction": self.options.test_fraction,
                "rule": "sha256('split' NUL key): lowest test_fraction -> test, next val_fraction -> val",
            },
            "shards": {
                s: [records.shard_name(s, i, n) for i in range(n)]
                for s, n in self.options.shard_counts().items()
            },
            "fingerprint": json.loads(json.dumps(self.fingerprint)),
        }

    def _log_summary(self, metadata: dict, read_stats: dict, seconds: float) -> None:
        rate = read_stats["records"] / read_stats["seconds"] if read_stats["seconds"] else 0.0
        self.log(
            f"wrote {self.options.output_dir} in {seconds:.1f}s "
            f"({read_stats['records']} records processed this run at {rate:.0f} rec/s)"
        )
        self.log(f"  vocabulary: {metadata['vocab_size']} words after {metadata['num_stopwords']} stop words")
        for split in records.SPLITS:
            images, without = metadata["images"][split], metadata["no_target_images"][split]
            line = f"  {split:5s}: {images} images, {metadata['avg_targets_per_image'][split]:.2f} targets/image"
            if split == "train":
                line += f"; {without} more had no dictionary word and were left out"
            else:
                line += f"; {without} of them have no dictionary word (kept, as held-out data)"
            self.log(line)
        skipped = ", ".join(f"{r}={n}" for r, n in metadata["skipped"].items()) or "none"
        self.log(f"  skipped: {metadata['skipped_total']} ({skipped}); listed in skipped.tsv")
