"""The exported SavedModel's serving_default against the same model fed by the input pipeline's preprocessing.

Real images: Tux Paint stamps (fetched by wsl-fetch-data), re-encoded as
256 px JPEGs. The model: the demo's narrow AlexNet (1/8 width, 64 px crops
of 72 px images, K = 100), exported as wsl-train exports it. Measured:
serving_default on batches of 1 and of 64 encoded images (decode, resize,
crop, standardise, scores, top words, in the SavedModel), and as the limit
the same Keras model called on the same images decoded and preprocessed by
`wsl_tf.input.preprocessing.preprocess` in a tf.data map outside the
SavedModel, batch 64. Prints one JSON line:
{"bench": "serving", "batch1_images_per_s", "batch64_images_per_s", "load_s", "limit_images_per_s", "ratio"}
(target: ratio = batch64 / limit >= 0.8).

Then the time `keras.models.load_model` takes on a large model's `.keras`
file (default: full-width AlexNet, K = 100,000, E = 4,096: 468 million
weights, 410 million of them the word layer's), best and median of
--load_repeats loads, with the process's peak RSS:
{"bench": "keras_load", "num_words", "embedding_dim", "file_gb", "load_s_best", "load_s_median"}.
A loaded model's word rows used to be drawn at random only to be
overwritten; run this script from an older checkout to time that.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import glob  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 256, "Distinct real images (re-encoded 256 px JPEGs).")
flags.DEFINE_integer("rounds", 6, "Batches of 64 per timing (batch 1: 64 x rounds / 4 calls).")
flags.DEFINE_integer("repeats", 3, "Alternating timings of each; the best of each is reported.")
flags.DEFINE_enum("measure", "all", ["all", "serving", "keras_load"], "Which measurements to run.")
flags.DEFINE_integer("load_words", 100_000, "K of the model whose .keras file is loaded.")
flags.DEFINE_float("load_width", 1.0, "Width multiplier of that AlexNet (1.0: E = 4,096).")
flags.DEFINE_integer("load_repeats", 3, "Loads timed.")


def real_jpegs(count: int) -> list[bytes]:
    from PIL import Image

    from data_tools import corpora

    root = corpora.fetch("tuxpaint", log=lambda *_: None)
    jpegs = []
    for path in sorted(glob.glob(os.path.join(root, "**", "*.png"), recursive=True))[:count]:
        image = Image.open(path).convert("RGBA").convert("RGB").resize((256, 256), Image.BILINEAR)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=90)
        jpegs.append(out.getvalue())
    return jpegs


def best_rate(run, images: int, repeats: int) -> float:
    run()  # Warm up: tracing, thread pools.
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return images / min(times)


def keras_load(num_words: int, width: float, repeats: int) -> dict:
    """Seconds to load a .keras file of a K-word AlexNet in this process (best and median of `repeats`)."""
    import gc
    import statistics

    import keras
    import ml_collections

    from wsl_tf.models import build_model

    config = ml_collections.ConfigDict(dict(name="alexnet", num_words=num_words, image_size=224, width=width))
    model = build_model(config)
    embedding_dim = model.embedding_dim
    path = os.path.join(tempfile.mkdtemp(prefix="wsl_tf_bench_load."), "model.keras")
    model.save(path)
    del model
    gc.collect()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        loaded = keras.models.load_model(path, safe_mode=True)
        times.append(time.perf_counter() - started)
        del loaded
        gc.collect()
    size_gb = os.path.getsize(path) / 1e9
    os.remove(path)
    return {
        "bench": "keras_load",
        "model": f"alexnet width {width}, 224 px",
        "num_words": num_words,
        "embedding_dim": embedding_dim,
        "file_gb": round(size_gb, 2),
        "load_s_best": round(min(times), 2),
        "load_s_median": round(statistics.median(times), 2),
    }


def main(argv):
    del argv
    if FLAGS.measure in ("all", "serving"):
        serving_throughput()
    if FLAGS.measure in ("all", "keras_load"):
        print(json.dumps(keras_load(FLAGS.load_words, FLAGS.load_width, FLAGS.load_repeats)), flush=True)


def serving_throughput():
    import tensorflow as tf
    from wsl_tf.configs import demo

    from wsl_tf import serving
    from wsl_tf.input import preprocessing
    from wsl_tf.models import build_model

    config = demo.get_config().run
    model = build_model(config.model)
    words = [f"w{i}" for i in range(config.model.num_words)]
    resize, crop = config.input.resize_size, config.input.crop_size
    directory = os.path.join(tempfile.mkdtemp(prefix="wsl_tf_bench_serving."), "export")
    serving.export(model, words, directory, resize, crop)
    started = time.perf_counter()
    serve = tf.saved_model.load(os.path.join(directory, "saved_model")).signatures["serving_default"]
    load_s = time.perf_counter() - started

    jpegs = real_jpegs(FLAGS.images)
    batches = [tf.constant([jpegs[(r * 64 + i) % len(jpegs)] for i in range(64)]) for r in range(FLAGS.rounds)]
    singles = [tf.constant([jpegs[i % len(jpegs)]]) for i in range(FLAGS.rounds * 16)]

    @tf.function
    def score(pixels):
        return tf.math.top_k(model(pixels, training=False), k=10)

    limit_dataset = (
        tf.data.Dataset.from_tensor_slices(tf.concat(batches, 0))
        .map(
            lambda b: preprocessing.preprocess(b, resize, crop), num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
        .batch(64)
        .prefetch(tf.data.AUTOTUNE)
    )

    def run_limit():
        for pixels in limit_dataset:
            score(pixels)

    def run_batch64():
        for images in batches:
            serve(images=images)

    def run_batch1():
        for images in singles:
            serve(images=images)

    batch64, limit, batch1 = [], [], []
    for _ in range(FLAGS.repeats):  # Alternate, so a noisy neighbour hits both alike.
        batch64.append(best_rate(run_batch64, 64 * FLAGS.rounds, 1))
        limit.append(best_rate(run_limit, 64 * FLAGS.rounds, 1))
        batch1.append(best_rate(run_batch1, len(singles), 1))
    print(
        json.dumps(
            {
                "bench": "serving",
                "model": "alexnet width 1/8, 64 px crops, K = 100",
                "images": "Tux Paint stamps as 256 px JPEGs",
                "batch1_images_per_s": round(max(batch1), 1),
                "batch64_images_per_s": round(max(batch64), 1),
                "load_s": round(load_s, 2),
                "limit_images_per_s": round(max(limit), 1),
                "ratio": round(max(batch64) / max(limit), 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    app.run(main)
