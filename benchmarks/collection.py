"""wsl-embed and wsl-search, measured (issue 30's targets).

- embed: `collection.write_index` (what wsl-embed runs: serving_default in
  batches of 64, each image's TFRecord example and thumbnail, shards) against
  a bare loop calling serving_default on the same encoded images in the same
  process, batches of 64 (decode and batching inside serving_default in both);
  target: at least 0.9 of the bare loop's images/s.
- search: exact word queries (collection.word_query_scores + top_k, as
  wsl-search runs them) over N synthetic embeddings (E = 512), ms per query;
  target: under 50 ms at 100,000; and the peak memory of searching 1,000,000 (float16, as
  `wsl-embed --float16` stores them), target under 2 GB.

- approximate: the faiss index wsl-search builds above 1,000,000 images, over
  --approximate_at clustered float16 embeddings: its recall@10 against exact
  search on 200 queries it was not tuned on (target >= 0.95) and its query
  time beside exact search's.

Prints JSON lines: {"bench": "collection_embed", "images", "bare_images_per_s", "embed_images_per_s", "ratio"}
and {"bench": "collection_search", "embeddings", "ms_per_word_query", "rss_mb"}. Best of --repeats.
- process: wsl-search itself, as a process, over an on-disk index of --process_at images: its peak memory
  (target under 2 GB at 1,000,000) for exact search, the first approximate search (which builds the faiss
  index) and the next.
"""

import json
import os
import resource
import sys
import tempfile
import time

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("export", None, "An export (the demo's: WORKDIR/run/export).", required=True)
flags.DEFINE_string(
    "dataset", None, "A prepared dataset whose test split is embedded (the demo's WORKDIR/data).", required=True
)
flags.DEFINE_integer("images", 1024, "Test images embedded.")
flags.DEFINE_list("embeddings", ["100000", "1000000"], "Index sizes searched.")
flags.DEFINE_integer("repeats", 3, "Timings of each; the best is reported.")
flags.DEFINE_integer("approximate_at", 1_000_000, "Embeddings the approximate index is measured on (0: not).")
flags.DEFINE_integer(
    "process_at",
    1_000_000,
    "Images of an on-disk float16 index (of --export) that wsl-search runs over as a process, its peak memory "
    "measured: exact, approximate (building its index) and approximate again (cached) (0: not).",
)
flags.DEFINE_string("scratch", None, "Where the on-disk index is written (default: the system's temporary folder).")


def main(argv):
    del argv
    import itertools

    import tensorflow as tf

    from data_tools.collection_inputs import DatasetSplitInput
    from wsl_tf import collection

    signatures = tf.saved_model.load(os.path.join(FLAGS.export, "saved_model")).signatures
    images = list(itertools.islice(DatasetSplitInput(FLAGS.dataset, "test").images(), FLAGS.images))
    serve = signatures["serving_default"]
    serve(images=tf.constant([data for _, data in images[:64]]))  # Warm up both paths alike.
    times = {"bare": [], "embed": [], "without_thumbnails": []}
    for _ in range(FLAGS.repeats):
        started = time.perf_counter()
        for start in range(0, len(images), 64):
            out = serve(images=tf.constant([data for _, data in images[start : start + 64]]))
            out["embedding"].numpy()
        times["bare"].append(time.perf_counter() - started)
        for name, thumbnails in (("embed", True), ("without_thumbnails", False)):
            with tempfile.TemporaryDirectory() as out_dir:
                started = time.perf_counter()
                collection.write_index(
                    signatures,
                    images,
                    out_dir,
                    collection.export_identity(FLAGS.export),
                    batch_size=64,
                    progress=False,
                    thumbnails=thumbnails,
                )
                times[name].append(time.perf_counter() - started)
    rates = {name: len(images) / min(seconds) for name, seconds in times.items()}
    print(
        json.dumps(
            {
                "bench": "collection_embed",
                "images": len(images),
                **{f"{name}_images_per_s": round(rate, 1) for name, rate in rates.items()},
                "ratio": round(rates["embed"] / rates["bare"], 3),
                "ratio_without_thumbnails": round(rates["without_thumbnails"] / rates["bare"], 3),
            }
        )
    )
    rng = np.random.default_rng(0)
    vectors, biases = rng.normal(size=(1, 512)).astype(np.float32), np.zeros(1, np.float32)
    for count in map(int, FLAGS.embeddings):
        embeddings = np.empty((count, 512), np.float16)  # As wsl-embed --float16 stores them, drawn in parts.
        for start in range(0, count, 65536):
            part = embeddings[start : start + 65536]
            part[:] = rng.standard_normal(part.shape, dtype=np.float32)
        valid = np.ones(count, bool)
        index = collection.CollectionIndex([], valid, embeddings, {})  # As load_index gives it.
        collection.top_k(collection.word_query_scores(index.searchable(), vectors, biases), valid, 10)
        times = []
        for _ in range(FLAGS.repeats):
            started = time.perf_counter()
            collection.top_k(collection.word_query_scores(index.searchable(), vectors, biases), valid, 10)
            times.append(time.perf_counter() - started)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            json.dumps(
                {
                    "bench": "collection_search",
                    "embeddings": count,
                    "ms_per_word_query": round(1000 * min(times), 1),
                    "rss_mb": round(rss),
                }
            )
        )
        del embeddings, index
    if FLAGS.approximate_at:
        approximate_search(FLAGS.approximate_at)
    if FLAGS.process_at:
        search_process(FLAGS.process_at)


# wsl-search run as its command runs, reporting at exit its own peak resident memory (VmHWM: of this process's
# memory alone; a forked child's ru_maxrss can carry its parent's).
PEAK_OF_SEARCH = """
import atexit, runpy, sys
def peak():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    sys.stderr.write("peak_kb=" + line.split()[1] + "\\n")
atexit.register(peak)
sys.argv = ["wsl-search", *sys.argv[1:]]
runpy.run_module("wsl_tf.cli.search", run_name="__main__")
"""


def search_process(count: int, clusters: int = 2000) -> None:
    """wsl-search as a user runs it, over an index wsl-embed --float16 --nothumbnails would write for `count`
    images of --export (clustered synthetic embeddings, ten words each): wall seconds and the process's peak RSS
    (its VmHWM) for an exact word query, the first approximate one (which builds and caches its index) and the
    next (cached)."""
    import shutil
    import subprocess

    from wsl_tf import collection, records

    directory = tempfile.mkdtemp(dir=FLAGS.scratch, prefix="wsl_search_bench_")
    try:
        export = collection.export_identity(FLAGS.export)
        dim, shard = export["embedding_dim"], 4096
        rng = np.random.default_rng(3)
        centres = (rng.standard_normal((clusters, dim)) * 2).astype(np.float32)
        words, scores = np.array([f"w{i}".encode() for i in range(10)]), -np.arange(10, dtype=np.float32)
        collection.start_index(directory, export, "float16", shard, False)
        counts = []
        for number, start in enumerate(range(0, count, shard)):
            size = min(shard, count - start)
            rows = centres[rng.integers(0, clusters, size)] + rng.standard_normal((size, dim), dtype=np.float32)
            records.write_shard(
                os.path.join(directory, collection.SHARD_PATTERN.format(number)),
                (
                    # Records as wsl-embed --float16 --nothumbnails writes them, for a model's answer of each row.
                    collection.image_record(
                        f"photos/{start + i:07d}.jpg",
                        b"",
                        {"valid": True, "embedding": rows[i], "words": words, "scores": scores},
                        "float16",
                        thumbnails=False,
                    )
                    for i in range(size)
                ),
            )
            counts.append(size)
        collection.finish_index(directory, export, "float16", shard, counts, dict.fromkeys(range(len(counts)), []))
        word = open(os.path.join(FLAGS.export, "saved_model", "assets", "words.txt")).readline().strip()
        for mode in ("exact", "approximate", "approximate"):
            arguments = [f"--index={directory}", f"--words={word}", f"--search={mode}", "--top=10", "--format=json"]
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", PEAK_OF_SEARCH, *arguments], capture_output=True, text=True, check=False
            )
            if result.returncode:
                raise RuntimeError(result.stderr[-2000:])
            peak_kb = int(result.stderr.split("peak_kb=")[-1].split()[0])
            print(
                json.dumps(
                    {
                        "bench": "collection_search_process",
                        "images": count,
                        "search": mode,
                        "seconds": round(time.perf_counter() - started, 1),
                        "peak_rss_mb": round(peak_kb / 1024),
                    }
                )
            )
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def approximate_search(count: int, dim: int = 512, clusters: int = 2000) -> None:
    """The approximate index (as wsl-search builds it) over `count` clustered float16 embeddings: build seconds,
    the recall@10 it was tuned to, recall@10 on 200 other queries, and ms per query beside exact search's."""
    from wsl_tf import collection

    rng = np.random.default_rng(2)
    centres = (rng.standard_normal((clusters, dim)) * 2).astype(np.float32)
    embeddings = np.empty((count, dim), np.float16)
    for start in range(0, count, 65536):
        part = embeddings[start : start + 65536]
        part[:] = centres[rng.integers(0, clusters, len(part))] + rng.standard_normal(part.shape, dtype=np.float32)
    index = collection.CollectionIndex([], np.ones(count, bool), embeddings, {})
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        approximate = collection.approximate_index(index, directory, "words", log=lambda *_: None)
        build_s = time.perf_counter() - started
        tuned = json.loads(open(os.path.join(directory, collection.APPROXIMATE_INFO)).read())["words"]
    queries = (rng.standard_normal((200, dim)) * embeddings[:65536].astype(np.float32).std(0)).astype(np.float32)
    searchable = index.searchable()
    exact_times, approximate_times, recalls = [], [], []
    for query in queries:
        started = time.perf_counter()
        exact = collection.top_k(collection.word_query_scores(searchable, query[None], np.zeros(1)), index.valid, 10)
        exact_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = collection.approximate_top_k(approximate, query, 10)[0]
        approximate_times.append(time.perf_counter() - started)
        recalls.append(len(set(exact[0].tolist()) & set(found.tolist())) / 10)
    print(
        json.dumps(
            {
                "bench": "collection_approximate",
                "embeddings": count,
                "lists": tuned["lists"],
                "probes": tuned["probes"],
                "build_s": round(build_s, 1),
                "tuned_recall_at_10": round(tuned["recall_at_10"], 3),
                "recall_at_10": round(float(np.mean(recalls)), 3),
                "approximate_ms": round(1000 * float(np.median(approximate_times)), 2),
                "exact_ms": round(1000 * float(np.median(exact_times)), 1),
                "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
