"""wsl-train as a user runs it, at K = 1,000 and K = 100,000 words: images/s of the training loop.

Writes 2,400 random 64 px images whose captions hold 56 words of their own
and 8 of 200 shared ones (a vocabulary of over 100,000 words in the train
split), prepares them
with wsl-prepare's library (K = 100,000, no stop words), then runs the
`wsl-train` command (a subprocess, as a user would) with configs/cpu_small.py
moved to the demo's setting: EASGD over 2 logical CPUs, 32 images per
replica (global batch 64), tau 4, the 1/8-width AlexNet at 64 px. It reads
the loop's images/s (elastic exchanges included; evaluation and checkpoint
writing excluded) of the second epoch from the run's history.json, and the
wall time of the whole command. Prints one JSON line:
{"bench": "train_throughput", "images_per_s_k1000", "images_per_s_k100000", "ratio"}
(target: ratio >= 0.85).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", os.path.join(tempfile.gettempdir(), "wsl_tf_bench_throughput"), "Data and runs.")
flags.DEFINE_integer("images", 2400, "Images in the dataset.")
flags.DEFINE_integer("words_per_image", 56, "Distinct words in each caption.")
flags.DEFINE_integer("epoch_size", 4096, "Images per epoch.")


COMMON = 200  # Words 0-199 are shared by many captions; the rest appear once each.


def word(n: int) -> str:
    letters = []
    for _ in range(4):
        n, r = divmod(n, 26)
        letters.append(chr(ord("a") + r))
    return "w" + "".join(letters)


def prepare(root: str) -> str:
    from PIL import Image

    from data_tools import preparer
    from data_tools.sources.jsonl import JsonlSource

    out = os.path.join(root, "data")
    if os.path.exists(os.path.join(out, "dataset.json")):
        return out
    rng = np.random.default_rng(0)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "list.jsonl"), "w") as handle:
        for i in range(FLAGS.images):
            Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(os.path.join(root, f"{i}.png"))
            first = COMMON + i * FLAGS.words_per_image
            common = rng.choice(COMMON, size=8, replace=False)  # So val images hold dictionary words too.
            text = " ".join(word(n) for n in [*common, *range(first, first + FLAGS.words_per_image)])
            handle.write(json.dumps({"image": f"{i}.png", "text": text, "key": f"k{i}"}) + "\n")
    options = preparer.PrepareOptions(
        output_dir=out, vocab_size=100_000, num_stopwords=0, image_size=64, num_shards=4, progress=False
    )
    metadata = preparer.DatasetPreparer(
        JsonlSource(os.path.join(root, "list.jsonl")), options, log=lambda *_: None
    ).run()
    assert metadata["vocab_size"] == 100_000, metadata["vocab_size"]
    return out


def train(data: str, k: int) -> dict:
    workdir = os.path.join(FLAGS.workdir, f"run_k{k}")
    shutil.rmtree(workdir, ignore_errors=True)
    command = [
        os.path.join(os.path.dirname(sys.executable), "wsl-train"),
        f"--config={REPO}/configs/cpu_small.py",
        f"--workdir={workdir}",
        f"--config.data.dir={data}",
        f"--config.model.num_words={k}",
        "--config.train.devices=()",
        "--config.train.logical_cpus=2",
        "--config.train.deterministic=False",
        "--config.train.batch_size_per_replica=32",
        f"--config.train.epoch_size={FLAGS.epoch_size}",
        "--config.train.max_epochs=2",
        "--config.train.checkpoint_every_steps=100000",
        "--config.optimizer.tau=4",
        "--config.eval.val_images=64",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, text=True)
    from wsl_tf.run_directory import RunDirectory

    history = RunDirectory(workdir).read_history()
    return {"images_per_s": history[-1]["train_images_per_s"], "wall_s": time.perf_counter() - started}


def main(argv):
    del argv
    data = prepare(os.path.join(FLAGS.workdir, "dataset"))
    results = {k: train(data, k) for k in (1000, 100_000)}
    print(
        json.dumps(
            {
                "bench": "train_throughput",
                "images": FLAGS.images,
                "global_batch": 64,
                "replicas": 2,
                "images_per_s_k1000": results[1000]["images_per_s"],
                "images_per_s_k100000": results[100_000]["images_per_s"],
                "wall_s_k1000": round(results[1000]["wall_s"], 1),
                "wall_s_k100000": round(results[100_000]["wall_s"], 1),
                "ratio": round(results[100_000]["images_per_s"] / results[1000]["images_per_s"], 3),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
