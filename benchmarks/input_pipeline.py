"""The training input pipeline against a bare decode + crop loop on the same images.

Real data: Open Clip Art prepared at 256 px (cached under --workdir). The
pipeline: uniform-per-word draws, byte-range reads, parse, decode, resize
(a no-op at 256), centre crop 224, standardise, batch 128. The limit: the
same train images' JPEG bytes held in memory, through the same decode, crop
and standardise, batched, with the same tf.data parallelism on the same
cores. Prints one JSON line:
{"bench": "input_pipeline", "images_per_s", "limit_images_per_s", "ratio"} (target >= 0.9).
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", os.path.join(tempfile.gettempdir(), "wsl_tf_bench_input"), "Prepared data cache.")
flags.DEFINE_integer("batches", 40, "Timed batches of 128, per measurement.")
flags.DEFINE_integer("repeats", 2, "Alternating timed runs of each; the best of each is reported.")


def prepared_dataset() -> str:
    from data_tools import corpora, preparer
    from data_tools.sources import SOURCES

    out = os.path.join(FLAGS.workdir, "openclipart256")
    source = SOURCES["openclipart"](corpora.fetch("openclipart", log=lambda *_: None))
    options = preparer.PrepareOptions(output_dir=out, vocab_size=1000, num_stopwords=50, image_size=256, progress=False)
    preparer.DatasetPreparer(source, options, log=lambda *_: None).run()
    return out


def rate(dataset, batches: int) -> float:
    iterator = iter(dataset)
    for _ in range(3):
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * 128 / (time.perf_counter() - started)


def main(argv):
    del argv
    import tensorflow as tf
    from wsl_tf.configs import paper

    from wsl_tf import records
    from wsl_tf.input import pipeline, preprocessing

    directory = prepared_dataset()
    config = paper.get_config().input
    images = [
        records.parse_example(s)[records.IMAGE].numpy()
        for s in tf.data.TFRecordDataset(records.shard_paths(directory, "train"))
    ]

    def bare():
        def crop(data):
            return preprocessing.preprocess(data, config.resize_size, config.crop_size)

        return (
            tf.data.Dataset.from_tensor_slices(images)
            .repeat()
            .map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(128, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE)
        )

    full, limit = [], []
    for _ in range(FLAGS.repeats):
        full.append(rate(pipeline.train_dataset(directory, config, 128), FLAGS.batches))
        limit.append(rate(bare(), FLAGS.batches))
    print(
        json.dumps(
            {
                "bench": "input_pipeline",
                "train_images": len(images),
                "image_size": 256,
                "crop": 224,
                "images_per_s": round(max(full), 1),
                "limit_images_per_s": round(max(limit), 1),
                "ratio": round(max(full) / max(limit), 3),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
