"""A whole training step of the real run barely depends on K.

Builds the run as wsl-train does (`TrainingRun` from the run section of
configs/demo.py: 1/8-width AlexNet, E = 512, 64 px, EASGD over 2 logical
CPUs, 32 images per replica) and times one step per call of `run_steps` (elastic exchanges
included, every tau steps) on synthetic batches with one uniformly drawn
word per image and the config's extra negatives (head.negatives uniform word
ids a step, as the pipeline adds them), at K = 1,000 and K = 100,000, each in its own process; best
of three timing windows. --backbone and --width put another net in the
demo's place (e.g. --backbone=resnet50 --width=1 --steps=10; the image size
stays 64 px). Prints one JSON line:
{"bench": "train_step", "backbone", "width", "ms_k1000", "ms_k100000", "images_per_s_k1000",
"images_per_s_k100000", "ratio"} (target: ratio <= 1.15).

Then, at K = 1,000, images/s as the trainer's loop steps: `run_steps` over a
log window and one fetch of its losses, with train.log_every_steps = 1 and
= 100 (and 100 with train.steps_per_loop = 10), each in its own process:
{"bench": "train_step_log_every", "images_per_s_log1", "images_per_s_log100",
"images_per_s_log100_loop10", "ratio_log100_over_log1"} (target: the ratio >= 1 on CPU).
"""

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

FLAGS = flags.FLAGS


def define_flags():
    """Defined only when run as a script: benchmarks/easgd.py imports this module for its helpers."""
    flags.DEFINE_string("optimizer", "easgd", "easgd or sgd.")
    flags.DEFINE_string("backbone", "alexnet", "A key of wsl_tf.models.BACKBONES.")
    flags.DEFINE_float("width", 0.125, "The backbone's width multiplier (the demo's AlexNet: 1/8).")
    flags.DEFINE_boolean("log_window", True, "Also time the trainer's loop at log windows 1 and 100 (AlexNet).")
    flags.DEFINE_integer("steps", 40, "Timed steps per window.")
    flags.DEFINE_integer("k", None, "Internal: time one K in this process.")
    flags.DEFINE_integer("log_every", None, "Internal: time the loop with this log window in this process.")
    flags.DEFINE_integer("steps_per_loop", 1, "Internal: steps per compiled call, with --log_every.")


# Shared with benchmarks/easgd.py: the run as wsl-demo configures it, and batches shaped like the pipeline's.
def best_of(fit, repeats: int):
    """(the fastest of repeats calls' seconds, the last call's result): the other benchmarks' timer."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - started)
    return min(times), result


def demo_run_config(num_words: int, optimizer: str = "easgd", backbone: str = "alexnet", width: float = 0.125):
    """The run section of configs/demo.py (1/8-width AlexNet, 64 px, EASGD over 2 logical CPUs) at K words.

    backbone, width: another net in the AlexNet's place, at its default dropout.
    """
    from wsl_tf.configs import demo

    config = demo.get_config().run
    config.model.num_words = num_words
    config.optimizer.name = optimizer
    if (backbone, width) != ("alexnet", 0.125):
        config.model.update({"name": backbone, "width": width, "dropout": None})
    return config


def demo_run(config):
    """The TrainingRun wsl-train builds for the config (its sampling-corrected loss included), with the inclusion
    of the synthetic batches below: one uniformly drawn word per image, and the config's extra negatives."""
    from wsl_tf.input.sampling import uniform_word_inclusion
    from wsl_tf.models import MultiClassLogisticLoss
    from wsl_tf.train.training_run import TrainingRun, prepare_process

    inclusion = uniform_word_inclusion(
        config.model.num_words, config.train.batch_size_per_replica, config.head.negatives
    )
    prepare_process(config)
    return TrainingRun(config, MultiClassLogisticLoss(), inclusion=inclusion)


def synthetic_batches(run, num_words: int, distinct: int = 8):
    """An endless iterator of distributed batches like the input pipeline's: random images, one word each, and
    the config's extra negatives (head.negatives uniform word ids a batch)."""
    import tensorflow as tf

    size, negatives = run.config.model.image_size, run.config.head.negatives

    def dataset_fn(context):
        batch = context.get_per_replica_batch_size(run.global_batch_size)
        seed = context.input_pipeline_id
        images = tf.random.stateless_normal((distinct, batch, size, size, 3), (seed, 1))
        labels = tf.random.stateless_uniform((distinct, batch, 1), (seed, 2), 0, num_words, tf.int32)
        positions = tf.zeros((distinct, batch), tf.int64)
        batches = {"images": images, "labels": labels, "positions": positions}
        if negatives:
            batches["negatives"] = tf.random.stateless_uniform((distinct, negatives), (seed, 3), 0, num_words, tf.int32)
        return tf.data.Dataset.from_tensor_slices(batches).repeat()

    return run.distribute(dataset_fn)


def time_step(k: int) -> float:
    run = demo_run(demo_run_config(k, FLAGS.optimizer, FLAGS.backbone, FLAGS.width))
    run.start()
    batches = synthetic_batches(run, k)
    for _ in range(2 * run.config.optimizer.tau):  # Trace the step and the exchange.
        run.run_steps(batches, 1).numpy()
    windows = []
    for _ in range(3):  # The best of three windows: the least disturbed by the rest of the machine.
        started = time.perf_counter()
        for _ in range(FLAGS.steps):
            run.run_steps(batches, 1).numpy()
        windows.append((time.perf_counter() - started) / FLAGS.steps * 1000)
    return min(windows)


def loop_images_per_s(log_every: int, steps_per_loop: int, k: int = 1000, steps: int = 300) -> float:
    """Images/s of the trainer's loop: run_steps over windows of `log_every` steps, each window's losses fetched."""
    config = demo_run_config(k)
    config.train.update({"log_every_steps": log_every, "steps_per_loop": steps_per_loop})
    run = demo_run(config)
    run.start()
    batches = synthetic_batches(run, k)
    for window in (log_every, 2 * run.config.optimizer.tau):  # Trace the loop's call sizes and the exchange.
        run.run_steps(batches, window).numpy()
    windows = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(steps // log_every):
            run.run_steps(batches, log_every).numpy()
        windows.append(steps // log_every * log_every * run.global_batch_size / (time.perf_counter() - started))
    return max(windows)


def measure_in_subprocess(*args) -> dict:
    command = [sys.executable, __file__, *args]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


def main(argv):
    del argv
    if FLAGS.k:
        print(json.dumps({"ms": time_step(FLAGS.k)}))
        return
    if FLAGS.log_every:
        print(json.dumps({"images_per_s": loop_images_per_s(FLAGS.log_every, FLAGS.steps_per_loop)}))
        return
    ms = {
        k: measure_in_subprocess(
            f"--k={k}",
            f"--optimizer={FLAGS.optimizer}",
            f"--steps={FLAGS.steps}",
            f"--backbone={FLAGS.backbone}",
            f"--width={FLAGS.width}",
        )["ms"]
        for k in (1000, 100000)
    }
    images = demo_run_config(1000).train.batch_size_per_replica * 2
    print(
        json.dumps(
            {
                "bench": "train_step",
                "backbone": FLAGS.backbone,
                "width": FLAGS.width,
                "optimizer": FLAGS.optimizer,
                "replicas": 2,
                "image_size": 64,
                "ms_k1000": round(ms[1000], 1),
                "ms_k100000": round(ms[100000], 1),
                "images_per_s_k1000": round(images / ms[1000] * 1000, 1),
                "images_per_s_k100000": round(images / ms[100000] * 1000, 1),
                "ratio": round(ms[100000] / ms[1000], 3),
            }
        ),
        flush=True,
    )
    if not FLAGS.log_window:
        return
    rates = {
        name: measure_in_subprocess(f"--log_every={log_every}", f"--steps_per_loop={per_loop}")["images_per_s"]
        for name, log_every, per_loop in (("log1", 1, 1), ("log100", 100, 1), ("log100_loop10", 100, 10))
    }
    print(
        json.dumps(
            {
                "bench": "train_step_log_every",
                "k": 1000,
                "replicas": 2,
                "width": 0.125,
                **{f"images_per_s_{name}": round(rate, 1) for name, rate in rates.items()},
                "ratio_log100_over_log1": round(rates["log100"] / rates["log1"], 3),
            }
        )
    )


if __name__ == "__main__":
    define_flags()
    app.run(main)
