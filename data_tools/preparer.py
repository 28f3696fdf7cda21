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
import threading
import time
from collections.abc import Iterator

from tqdm import tqdm

from data_tools import preparation, worker
from data_tools.preparation import (  # noqa: F401
    MAX_VOCAB_SIZE,
    ChunkSummary,
    PrepareError,
    PrepareOptions,
    fingerprint,
    small_dictionary_warning,
)
from data_tools.sources import base
from data_tools.stopwords import StopwordLists
from wsl_tf import fileio, records
from wsl_tf.vocab import Vocabulary, VocabularyError

STAGING_DIR = ".staging"


class _Staging:
    """The `.staging/` directory of stage 1: one records file + summary per chunk.

    Records are pickled: staging is this job's own short-lived data, and a
    pickle costs the single main process far less than building and then
    re-parsing protos.
    """

    def __init__(self, output_dir: str, params: dict):
        self.dir = os.path.join(output_dir, STAGING_DIR)
        params_path = os.path.join(self.dir, "params.json")
        if fileio.exists(params_path) and json.loads(fileio.read_text(params_path)) != params:
            fileio.remove_tree(self.dir)
        fileio.makedirs(self.dir)
        fileio.remove_stale_temporaries(self.dir)
        if not fileio.exists(params_path):
            fileio.write_text_atomic(params_path, json.dumps(params, sort_keys=True))

    def records_path(self, index: int) -> str:
        return os.path.join(self.dir, f"chunk-{index:06d}.pickle")

    def summary_path(self, index: int) -> str:
        return os.path.join(self.dir, f"chunk-{index:06d}.json")

    def is_done(self, index: int) -> bool:
        return fileio.exists(self.summary_path(index))

    def chunk_indices(self) -> list[int]:
        names = sorted(n for n in fileio.listdir(self.dir) if n.startswith("chunk-") and n.endswith(".json"))
        return [int(n[len("chunk-") : -len(".json")]) for n in names]

    def write(self, index: int, records: list, summary: ChunkSummary) -> None:
        fileio.write_bytes_atomic(self.records_path(index), pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
        fileio.write_text_atomic(self.summary_path(index), json.dumps(dataclasses.asdict(summary), sort_keys=True))

    def summary(self, index: int) -> ChunkSummary:
        return ChunkSummary(**json.loads(fileio.read_text(self.summary_path(index))))

    def read(self, index: int) -> list[tuple[str, worker.PreparedRecord]]:
        return pickle.loads(fileio.read_bytes(self.records_path(index)))

    def remove(self) -> None:
        fileio.remove_tree(self.dir)


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
        self.fingerprint = preparation.dataset_fingerprint(source, options, self.stopword_lists)
        self.fixed_vocab = self._load_vocab() if options.vocab_path else None

    def _load_vocab(self) -> Vocabulary:
        try:
            return Vocabulary.load(self.options.vocab_path)
        except VocabularyError as error:
            raise PrepareError(f"--vocab: {error}") from None

    def run(self) -> dict:
        """Prepare the dataset directory; return the contents of dataset.json."""
        out = self.options.output_dir
        fileio.makedirs(out)
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
            skipped_file = os.path.join(out, records.SKIPPED_FILE)
            fileio.write_text_atomic(skipped_file, preparation.skipped_tsv(summaries))
            raise preparation.nothing_usable(summaries, skipped_file)
        vocab, stopwords = self._stage_vocab(summaries)
        vocab.save(os.path.join(out, records.VOCAB_FILE))
        stopwords.save(os.path.join(out, records.STOPWORDS_FILE))
        split_stats = self._stage_shards(staging, vocab, kept)
        metadata = preparation.dataset_metadata(
            self.source, self.options, self.stopword_lists, summaries, vocab, stopwords, split_stats
        )
        fileio.write_text_atomic(os.path.join(out, records.SKIPPED_FILE), preparation.skipped_tsv(summaries))
        fileio.write_json_atomic(os.path.join(out, records.METADATA_FILE), metadata, sort_keys=True)
        staging.remove()
        self._log_summary(metadata, read_stats, time.monotonic() - started)
        return metadata

    def completed_metadata(self) -> dict | None:
        """dataset.json's contents if OUTPUT_DIR is already complete for this source and these options, else None."""

        path = os.path.join(self.options.output_dir, records.METADATA_FILE)
        if not fileio.exists(path):
            return None
        metadata = json.loads(fileio.read_text(path))
        if metadata.get("fingerprint") != json.loads(json.dumps(self.fingerprint)):
            return None
        all_there = all(
            fileio.exists(os.path.join(self.options.output_dir, name))
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

        self.duplicates = preparation.Duplicates()
        for index in staging.chunk_indices():  # What an earlier run staged counts as seen.
            self.duplicates.restore((record for _, record in staging.read(index)), staging.summary(index).skipped)
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
            if not isinstance(result, base.Skip):
                split, result = preparation.split_record(result, self.options, self.stopword_lists)
                result = self.duplicates.check(result) or result
            if isinstance(result, base.Skip):
                skipped.append([result.key, result.reason, result.detail])
                continue
            if split == "train":
                counts.update(result.words)
            kept.append((split, result))
        summary = ChunkSummary(len(results), len(kept), skipped, dict(sorted(counts.items())))
        staging.write(index, kept, summary)

    # Stage 2 ---------------------------------------------------------------

    def _stage_vocab(self, summaries: list[ChunkSummary]) -> tuple[Vocabulary, Vocabulary]:
        counts = collections.Counter()
        for summary in summaries:
            counts.update(summary.train_word_counts)
        return preparation.dictionary(counts, self.options, self.fixed_vocab, self.log)

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
        stats = preparation.empty_stats()
        bar = tqdm(total=total, desc="shards", unit="rec", disable=not self.options.progress)
        try:
            for index_of_chunk in staging.chunk_indices():
                for split, record in staging.read(index_of_chunk):
                    bar.update(1)
                    shard = stats[split]["images"] % counts[split]  # Round-robin, in input order.
                    encoded = preparation.encode_record(record, split, vocab, stats)
                    if encoded is None:
                        continue
                    serialized, ids = encoded
                    writers[split][shard].write(serialized)
                    if split == "train":
                        index.add(shard, len(serialized), ids)
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
        for line in preparation.split_warnings(metadata, self.options):
            self.log(line)
