"""The uniform-per-word sampler at K = 1,000, 10,000 and 100,000 on 1,000,000 records.

Synthetic train shards of 1,000,000 records with tiny (8 x 8) JPEGs, so that
the sampler's own cost dominates; each record has 1-12 words drawn from a Zipf
distribution over K (about 6.5 a record, as the paper's 6.81 at K = 100,000).
The shards are written once (cached under --workdir) and read once before
each measurement, so every K meets a warm page cache; each K gets its own
index and runs in its own process, so its set-up time and peak RSS are its
own. Measured: the full training pipeline (draw, byte-range read, parse,
decode, crop, standardise, batch 128). Prints one JSON line per K,
{"bench": "sampler", "K", "setup_s", "peak_rss_mb", "samples_per_s"}, then
{"bench": "sampler", "ratio_100k_1k"} (targets: ratio >= 0.8, peak RSS under
2,000 MB at K = 100,000).

A million words: `--num_words=100000,1000000 --records=1540000` (about 10
million image-word pairs; at K = 1,000,000 most of the Zipf tail has no
image, and the sampler draws among the words that have one) adds
{"bench": "sampler", "ratio_1m_100k"} (targets: >= 0.8, peak RSS under 4 GB).
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import io  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("records", 1_000_000, "Train records.")
flags.DEFINE_list("num_words", ["1000", "10000", "100000"], "Values of K.")
flags.DEFINE_string("workdir", os.path.join(tempfile.gettempdir(), "wsl_tf_bench_sampler"), "Cache of shards.")
flags.DEFINE_integer("batches", 300, "Timed batches of 128.")
flags.DEFINE_integer("k", None, "Internal: measure one K in this process.")

NUM_SHARDS = 8


def tiny_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


def write_shards(root: str, n: int) -> dict:
    """The shards (shared by every K) and each record's (shard, offset, length)."""
    import tensorflow as tf

    from wsl_tf import records
    from wsl_tf.input.index import RECORD_FOOTER_BYTES, RECORD_HEADER_BYTES

    done = os.path.join(root, "shards.npz")
    if os.path.exists(done):
        return dict(np.load(done))
    image = tiny_jpeg()
    shard, offset, length = np.empty(n, np.int32), np.empty(n, np.int64), np.empty(n, np.int32)
    positions = [0] * NUM_SHARDS
    writers = [
        tf.io.TFRecordWriter(os.path.join(root, records.shard_name("train", i, NUM_SHARDS))) for i in range(NUM_SHARDS)
    ]
    for r in range(n):
        s = r % NUM_SHARDS
        data = records.make_example(f"r{r}", image, [])
        writers[s].write(data)
        shard[r], offset[r], length[r] = s, positions[s] + RECORD_HEADER_BYTES, len(data)
        positions[s] += RECORD_HEADER_BYTES + len(data) + RECORD_FOOTER_BYTES
    for w in writers:
        w.close()
    arrays = {"shard": shard, "offset": offset, "length": length}
    np.savez(done, **arrays)
    return arrays


def make_dataset(root: str, k: int, n: int) -> str:
    """A dataset directory for K: links to the shards, a Zipf word index, dataset.json."""
    from wsl_tf import records

    directory = os.path.join(root, f"k{k}")
    if os.path.exists(os.path.join(directory, records.METADATA_FILE)):
        return directory
    os.makedirs(directory, exist_ok=True)
    located = write_shards(root, n)
    rng = np.random.default_rng(k)
    per_record = rng.integers(1, 13, size=n)
    pair_records = np.repeat(np.arange(n), per_record)
    ranks = 1.0 / np.arange(1, k + 1)
    pair_words = rng.choice(k, size=len(pair_records), p=ranks / ranks.sum())
    pairs = np.unique(pair_words.astype(np.int64) * n + pair_records)  # Sorted by word, then record.
    words, word_records = pairs // n, (pairs % n).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(words, minlength=k))]).astype(np.int64)
    np.savez(
        os.path.join(directory, records.TRAIN_INDEX_FILE), word_offsets=offsets, word_records=word_records, **located
    )
    names = [records.shard_name("train", i, NUM_SHARDS) for i in range(NUM_SHARDS)]
    for name in names:
        if not os.path.exists(os.path.join(directory, name)):
            os.symlink(os.path.join(root, name), os.path.join(directory, name))
    metadata = {
        "schema_version": records.SCHEMA_VERSION,
        "shards": {"train": names},
        "train_index": records.TRAIN_INDEX_FILE,
        "max_words_per_image": 12,
        "pairs": {"train": int(len(pairs))},
    }
    with open(os.path.join(directory, records.METADATA_FILE), "w") as handle:
        json.dump(metadata, handle)
    return directory


def warm_page_cache(directory: str) -> None:
    """Read every shard once, so that no K is measured against a cold disk cache."""
    for name in sorted(os.listdir(directory)):
        if name.endswith(".tfrecord"):
            with open(os.path.join(directory, name), "rb") as handle:
                while handle.read(1 << 24):
                    pass


def measure(directory: str) -> dict:
    from wsl_tf.configs import paper

    from wsl_tf.input import pipeline

    warm_page_cache(directory)
    config = paper.get_config().input
    config.update({"resize_size": 8, "crop_size": 8})
    started = time.perf_counter()
    iterator = iter(pipeline.train_dataset(directory, config, 128))
    next(iterator)
    setup = time.perf_counter() - started
    for _ in range(20):
        next(iterator)
    started = time.perf_counter()
    for _ in range(FLAGS.batches):
        next(iterator)
    rate = FLAGS.batches * 128 / (time.perf_counter() - started)
    return {
        "setup_s": round(setup, 3),
        "samples_per_s": round(rate),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main(argv):
    del argv
    os.makedirs(FLAGS.workdir, exist_ok=True)
    if FLAGS.k:
        print(json.dumps(measure(os.path.join(FLAGS.workdir, f"k{FLAGS.k}"))))
        return
    rates = {}
    for k in map(int, FLAGS.num_words):
        directory = make_dataset(FLAGS.workdir, k, FLAGS.records)
        with np.load(os.path.join(directory, "train-index.npz")) as index:
            pairs = len(index["word_records"])
        run = subprocess.run(
            [sys.executable, __file__, f"--k={k}", f"--workdir={FLAGS.workdir}", f"--batches={FLAGS.batches}"],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(run.stdout.strip().splitlines()[-1])
        rates[k] = result["samples_per_s"]
        print(json.dumps({"bench": "sampler", "K": k, "records": FLAGS.records, "pairs": pairs, **result}), flush=True)
    if 1000 in rates and 100000 in rates:
        print(json.dumps({"bench": "sampler", "ratio_100k_1k": round(rates[100000] / rates[1000], 3)}))
    if 100000 in rates and 1000000 in rates:
        print(json.dumps({"bench": "sampler", "ratio_1m_100k": round(rates[1000000] / rates[100000], 3)}))


if __name__ == "__main__":
    app.run(main)
