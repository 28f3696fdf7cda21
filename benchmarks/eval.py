"""Evaluation speed: feature extraction against the bare forward, and the embedding searches at K = 100,000.

Features: `wsl_tf.eval.transfer.extract` (the path wsl-eval runs: transfer
preprocessing in a tf.data map, then the model) on Fashion-MNIST images,
against the same model's forward on the same batches already preprocessed in
memory; for the demo's narrow AlexNet (64 px, 2,000 images) and for the
paper's AlexNet (224 px, 256 images), one JSON line each, the second with
the embedding timings. Embeddings: 2,000 analogy questions
(3CosAdd over all K rows) plus 2,000 translation queries (`wsl_tf.eval.embeddings`)
on random rows, K = 100,000, E = 4,096, against one numpy product of a
[4,000, 4,096] by [4,096, 100,000] matrix. Prints one JSON line:
{"bench": "eval", "features_images_per_s", "forward_limit_images_per_s", "features_ratio", "embeddings_s",
 "matmul_limit_s", "embeddings_ratio"} (targets: features_ratio >= 0.9, embeddings_ratio <= 2).
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 2000, "Fashion-MNIST images for the narrow model's feature timing.")
flags.DEFINE_integer("paper_images", 256, "Fashion-MNIST images for the paper AlexNet's feature timing.")
flags.DEFINE_integer("words", 100_000, "K, rows of the word matrix.")
flags.DEFINE_integer("dim", 4096, "E, the embedding size.")
flags.DEFINE_integer("queries", 2000, "Analogy questions, and translation queries.")
flags.DEFINE_integer("repeats", 3, "Timings of each; the best is reported.")


def best_seconds(run, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main(argv):
    del argv
    import ml_collections
    import numpy as np
    import tensorflow as tf
    from wsl_tf.configs import demo

    from data_tools import corpora
    from wsl_tf.eval import embeddings, transfer
    from wsl_tf.models import build_model

    def feature_rates(model_config, count):
        model = build_model(model_config)
        size = model_config.image_size
        labelled = transfer.fashion_mnist(corpora.fetch("fashion_mnist", log=lambda *_: None), count)
        batches = list(transfer.pixel_batches(labelled.images, size, 64))
        forward = tf.function(lambda pixels: model.embed(pixels, training=False))

        def run_forward():
            for pixels in batches:
                forward(pixels).numpy()

        run_forward()
        transfer.extract(model, labelled.images[:128], size, progress=False)  # Warm up the traced step.
        forward_s = best_seconds(run_forward, FLAGS.repeats)
        features_s = best_seconds(lambda: transfer.extract(model, labelled.images, size, progress=False), FLAGS.repeats)
        return {
            "images": count,
            "features_images_per_s": round(count / features_s, 1),
            "forward_limit_images_per_s": round(count / forward_s, 1),
            "features_ratio": round(forward_s / features_s, 3),
        }

    narrow = demo.get_config().run.model
    print(
        json.dumps(
            {"bench": "eval", "model": "alexnet width 1/8, 64 px (demo)", **feature_rates(narrow, FLAGS.images)}
        ),
        flush=True,
    )
    full = ml_collections.ConfigDict(dict(narrow))
    full.update({"image_size": 224, "width": 1.0, "num_words": 1000})
    features = feature_rates(full, FLAGS.paper_images)

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(FLAGS.words)]
    vectors = embeddings.WordEmbeddings(words, rng.standard_normal((FLAGS.words, FLAGS.dim), dtype=np.float32))
    questions = [tuple(words[i] for i in rng.choice(FLAGS.words, 4, replace=False)) for _ in range(FLAGS.queries)]
    chosen = rng.choice(FLAGS.words, 2 * FLAGS.queries, replace=False)
    pairs = [(words[a], words[b]) for a, b in zip(chosen[: FLAGS.queries], chosen[FLAGS.queries :])]

    def search():
        embeddings.analogy_accuracy(vectors, questions)
        embeddings.translation_precision(vectors, pairs)

    left = rng.standard_normal((2 * FLAGS.queries, FLAGS.dim), dtype=np.float32)
    embeddings_s = best_seconds(search, FLAGS.repeats)
    matmul_s = best_seconds(lambda: left @ vectors.unit.T, FLAGS.repeats)
    print(
        json.dumps(
            {
                "bench": "eval",
                "model": "alexnet 224 px (paper)",
                **features,
                "k": FLAGS.words,
                "e": FLAGS.dim,
                "embeddings_s": round(embeddings_s, 2),
                "matmul_limit_s": round(matmul_s, 2),
                "embeddings_ratio": round(embeddings_s / matmul_s, 3),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
