"""wsl-prepare throughput on a real corpus against the bare image work it does.

The limit is a plain process pool doing only read + decode + resize + JPEG
encode of the same images on the same number of cores; wsl-prepare adds the
source scan, text rules, staging, vocabulary and shard writing. Both timings
include starting their worker processes; TensorFlow is imported before either
starts (a once-per-process cost of seconds that does not grow with the data).
Prints one JSON line: {"bench": "prepare", "images_per_s", "limit_images_per_s", "ratio"}.
Then the same records through the Beam pipeline on DirectRunner in
multi-process mode with as many workers (data_tools/beam_preparer.py):
{"bench": "prepare_beam", "runner": "DirectRunner", "images_per_s", "local_images_per_s", "ratio_to_local"}.

  python benchmarks/prepare.py --corpus=openclipart --records=6000
"""

import json
import multiprocessing
import os
import tempfile
import time

from absl import app, flags

from data_tools import corpora, images, preparer
from data_tools.sources import SOURCES, base

FLAGS = flags.FLAGS
flags.DEFINE_enum("corpus", "openclipart", ["openclipart", "tuxpaint"], "Real corpus to prepare.")
flags.DEFINE_integer("records", 6000, "Source items to process.")
flags.DEFINE_integer("image_size", 256, "Stored image size (paper: 256).")
flags.DEFINE_integer("workers", os.cpu_count(), "Worker processes, for both measurements.")
flags.DEFINE_integer("repeats", 2, "Timed runs of each; the best of each is reported.")
flags.DEFINE_bool("beam", True, "Also time the Beam pipeline on DirectRunner.")


_image_size = 256  # Set in each limit worker by _init.


def _init(size):
    global _image_size
    _image_size = size


def _encode_file(path: str) -> int:
    try:
        with open(path, "rb") as handle:
            return len(images.encode_image(handle.read(), _image_size))
    except base.SkipRecord:
        return 0


def image_paths(source, count):
    paths = []
    for item in source.scan():
        if len(paths) == count:
            break
        if isinstance(item, base.Skip):
            continue
        paths.append(getattr(item, "png_path", None) or getattr(item, "image_path", None) or item.svg_path)
    return paths


def time_limit(paths) -> float:
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with context.Pool(FLAGS.workers, initializer=_init, initargs=(FLAGS.image_size,)) as pool:
        pool.map(_encode_file, paths, chunksize=4)
    return time.perf_counter() - started


def time_prepare(source, runner: str = "local") -> float:
    """Seconds wsl-prepare takes on FLAGS.records items: the local job, or the Beam pipeline on `runner`."""
    from data_tools import beam_preparer

    with tempfile.TemporaryDirectory() as out:
        options = preparer.PrepareOptions(
            output_dir=out,
            vocab_size=1000,
            num_stopwords=50,
            image_size=FLAGS.image_size,
            workers=FLAGS.workers,
            max_records=FLAGS.records,
            progress=False,
        )
        started = time.perf_counter()
        if runner == "local":
            preparer.DatasetPreparer(source, options, log=lambda *_: None).run()
        else:
            beam_preparer.run_pipeline(
                source,
                options,
                runner,
                ["--direct_running_mode=multi_processing", f"--direct_num_workers={FLAGS.workers}"],
                log=lambda *_: None,
            )
        return time.perf_counter() - started


def main(argv):
    del argv
    root = corpora.fetch(FLAGS.corpus, log=lambda *_: None)
    source = SOURCES[FLAGS.corpus](root)
    paths = image_paths(source, FLAGS.records)
    for path in paths:  # Warm the page cache so both runs read from memory.
        with open(path, "rb") as handle:
            handle.read()

    import tensorflow  # noqa: F401  (see the module docstring)

    limit_seconds, prepare_seconds = [], []
    for _ in range(FLAGS.repeats):  # Alternate the two; keep each one's best.
        limit_seconds.append(time_limit(paths))
        prepare_seconds.append(time_prepare(source))
    limit_seconds, prepare_seconds = min(limit_seconds), min(prepare_seconds)

    result = {
        "bench": "prepare",
        "corpus": FLAGS.corpus,
        "records": len(paths),
        "workers": FLAGS.workers,
        "image_size": FLAGS.image_size,
        "images_per_s": round(len(paths) / prepare_seconds, 1),
        "limit_images_per_s": round(len(paths) / limit_seconds, 1),
        "ratio": round(limit_seconds / prepare_seconds, 3),
    }
    print(json.dumps(result))
    if FLAGS.beam:
        beam_seconds = min(time_prepare(source, "DirectRunner") for _ in range(FLAGS.repeats))
        print(
            json.dumps(
                {
                    "bench": "prepare_beam",
                    "runner": "DirectRunner",
                    "corpus": FLAGS.corpus,
                    "records": len(paths),
                    "workers": FLAGS.workers,
                    "images_per_s": round(len(paths) / beam_seconds, 1),
                    "local_images_per_s": result["images_per_s"],
                    "ratio_to_local": round(prepare_seconds / beam_seconds, 3),
                }
            )
        )


if __name__ == "__main__":
    app.run(main)
