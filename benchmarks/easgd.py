"""EASGD against synchronous SGD at K = 1,000 and K = 100,000: speed and bytes sent across replicas.

Both runs are built as wsl-train builds them (`TrainingRun` from the run
section of configs/demo.py: 1/8-width AlexNet, E = 512, 64 px, 2 logical
CPUs, 32 images per replica) with tau = 10, and stepped one step per call of `run_steps` on
synthetic batches (one uniformly drawn word per image; the input pipeline is
not measured), each (K, mode) in its own process. Bytes are what each run
itself counts as handed to cross-replica sums: synchronous SGD all-reduces
every gradient every step (the word layers' as IndexedSlices: rows and
indices); EASGD's exchange sends the dense weights and each replica's own
changed word rows every tau steps. Prints one JSON line per K:
{"bench": "easgd", "K", "easgd_images_per_s", "sync_images_per_s",
"easgd_bytes_per_image", "sync_bytes_per_image", "bytes_ratio"}.
Targets at K = 100,000: bytes_ratio (sync / EASGD) >= 5, EASGD at least as fast.
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_integer("steps", 40, "Timed steps per window (a multiple of tau).")
flags.DEFINE_integer("tau", 10, "EASGD communication period.")
flags.DEFINE_list("num_words", ["1000", "100000"], "Values of K.")
flags.DEFINE_integer("k", None, "Internal: measure one K in this process.")
flags.DEFINE_string("mode", None, "Internal: easgd or sgd.")


def measure(k: int, mode: str) -> dict:
    from benchmarks.train_step import demo_run, demo_run_config, synthetic_batches

    config = demo_run_config(k, mode)
    config.optimizer.tau = FLAGS.tau
    run = demo_run(config)
    run.start()
    batches = synthetic_batches(run, k)
    for _ in range(2 * FLAGS.tau):  # Trace the step and the exchange.
        run.run_steps(batches, 1).numpy()
    best, sent = 0.0, 0.0
    for _ in range(3):
        before = run.reduced_bytes()
        started = time.perf_counter()
        for _ in range(FLAGS.steps):
            run.run_steps(batches, 1).numpy()
        best = max(best, FLAGS.steps * run.global_batch_size / (time.perf_counter() - started))
        sent = (run.reduced_bytes() - before) / (FLAGS.steps * run.global_batch_size)
    return {
        "images_per_s": best,
        "bytes_per_image": sent,
        "replicas": run.replicas,
        "global_batch": run.global_batch_size,
    }


def main(argv):
    del argv
    if FLAGS.k:
        print(json.dumps(measure(FLAGS.k, FLAGS.mode)))
        return
    for k in (int(n) for n in FLAGS.num_words):
        results = {}
        for mode in ("sgd", "easgd"):
            command = [
                sys.executable,
                __file__,
                f"--k={k}",
                f"--mode={mode}",
                f"--steps={FLAGS.steps}",
                f"--tau={FLAGS.tau}",
            ]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            results[mode] = json.loads(result.stdout.strip().splitlines()[-1])
        easgd, sync = results["easgd"], results["sgd"]
        print(
            json.dumps(
                {
                    "bench": "easgd",
                    "K": k,
                    "replicas": easgd["replicas"],
                    "tau": FLAGS.tau,
                    "global_batch": easgd["global_batch"],
                    "easgd_images_per_s": round(easgd["images_per_s"], 1),
                    "sync_images_per_s": round(sync["images_per_s"], 1),
                    "easgd_bytes_per_image": round(easgd["bytes_per_image"], 1),
                    "sync_bytes_per_image": round(sync["bytes_per_image"], 1),
                    "bytes_ratio": round(sync["bytes_per_image"] / easgd["bytes_per_image"], 2),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    app.run(main)
