"""The word layer's training step: all K words against the batch's words only.

For K in {1,000, 10,000, 100,000}, E = 4,096, batch 128 (one uniformly drawn
word per image, as the paper's sampler gives), SGD with momentum 0.9: forward,
backward (to the weights and the embeddings) and update, compiled with
tf.function, best of three timing windows. "full" is a softmax over all K words with a dense update;
"sampled" is WordLayer on the batch's words with SparseMomentumSGD's lazy
row updates (the paper's uncorrected in-batch layer); "corrected" is the same
with the sampling correction the trainer applies (StepWords: each step
gathers its words' log-inclusion and subtracts it from their logits). Each
(K, mode) runs in its own process so that peak RSS is its own. Prints one
JSON line per K:
{"bench": "head", "K", "full_ms", "sampled_ms", "corrected_ms", "ratio", "full_images_per_s",
"sampled_images_per_s", "corrected_images_per_s", "peak_rss_mb", "full_peak_rss_mb"}.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("num_words", ["1000", "10000", "100000"], "Values of K.")
flags.DEFINE_integer("embedding_dim", 4096, "E.")
flags.DEFINE_integer("batch_size", 128, "Images per step.")
flags.DEFINE_enum("mode", None, ["full", "sampled", "corrected"], "Internal: time one mode in this process.")
flags.DEFINE_integer("k", None, "Internal: K for --mode.")


def time_one(mode: str, k: int) -> dict:
    import tensorflow as tf

    from wsl_tf.input.sampling import uniform_word_inclusion
    from wsl_tf.models import MultiClassLogisticLoss, WordLayer, full_targets
    from wsl_tf.train.optimizers import SparseMomentumSGD
    from wsl_tf.train.word_rows import StepWords, batch_word_logits, fill_normal_rows

    head = WordLayer(k, random_rows=False)  # Drawn block by block, as the trainer does.
    head.build((None, FLAGS.embedding_dim))
    fill_normal_rows(head.kernel, head.init_stddev)
    optimizer = SparseMomentumSGD(0.01, momentum=0.9)
    optimizer.build(head.trainable_variables)
    loss_fn = MultiClassLogisticLoss()
    inclusion = uniform_word_inclusion(k, FLAGS.batch_size) if mode == "corrected" else None
    words = StepWords(k, "in_batch", loss_fn.word_statistics(inclusion))

    @tf.function
    def step(embeddings, labels):
        with tf.GradientTape() as tape:
            tape.watch(embeddings)
            if mode == "full":
                loss = loss_fn(full_targets(labels, k), head(embeddings))
            else:
                classes, targets = words.classes_and_targets({"labels": labels})
                loss = loss_fn(targets, batch_word_logits(head, embeddings, classes), words.statistics(classes))
        grads = tape.gradient(loss, [embeddings, *head.trainable_variables])
        optimizer.apply_gradients(zip(grads[1:], head.trainable_variables))
        return loss, grads[0]

    batches = [
        (
            tf.random.normal((FLAGS.batch_size, FLAGS.embedding_dim)),
            tf.random.uniform((FLAGS.batch_size, 1), 0, k, tf.int32),
        )
        for _ in range(4)
    ]
    for b in batches[:2]:
        step(*b)[0].numpy()
    repeats = 3 if mode == "full" and k >= 10000 else 30
    windows = []
    for _ in range(3):  # The best of three windows: the least disturbed by the rest of the machine.
        started = time.perf_counter()
        for i in range(repeats):
            step(*batches[i % len(batches)])[0].numpy()
        windows.append((time.perf_counter() - started) / repeats * 1000)
    ms = min(windows)
    return {"ms": ms, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(mode: str, k: int) -> dict:
    command = [
        sys.executable,
        __file__,
        f"--mode={mode}",
        f"--k={k}",
        f"--embedding_dim={FLAGS.embedding_dim}",
        f"--batch_size={FLAGS.batch_size}",
    ]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    if FLAGS.mode:
        print(json.dumps(time_one(FLAGS.mode, FLAGS.k)))
        return
    for k in map(int, FLAGS.num_words):
        times = {mode: measure(mode, k) for mode in ("full", "sampled", "corrected")}
        print(
            json.dumps(
                {
                    "bench": "head",
                    "K": k,
                    "E": FLAGS.embedding_dim,
                    "batch": FLAGS.batch_size,
                    **{f"{mode}_ms": round(t["ms"], 2) for mode, t in times.items()},
                    "ratio": round(times["full"]["ms"] / times["sampled"]["ms"], 1),
                    **{f"{mode}_images_per_s": round(FLAGS.batch_size / t["ms"] * 1000) for mode, t in times.items()},
                    "peak_rss_mb": round(times["sampled"]["peak_rss_mb"]),
                    "corrected_peak_rss_mb": round(times["corrected"]["peak_rss_mb"]),
                    "full_peak_rss_mb": round(times["full"]["peak_rss_mb"]),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    app.run(main)
