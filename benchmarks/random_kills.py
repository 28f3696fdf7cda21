"""Kill -9 at random moments: do killed and rerun jobs end exactly where uninterrupted ones end?

Two jobs, each a user's commands run as separate processes:
  prepare  wsl-prepare with 2 worker processes on a generated JSONL corpus (random PNGs, captions of 12 words);
  train    wsl-train as the demo configures it (EASGD over 2 logical CPUs, dropout, deterministic ops, a 1/8
           AlexNet at 64 px, 3 epochs; it exports when it ends), then wsl-eval (word prediction) on the run:
           training, checkpoints, the export and the evaluation are all in the killable span.
Each job runs once uninterrupted (the reference; its wall time is T). Then, for each of --kills seeded
moments spread over [0, T) (one drawn uniformly in each of --kills equal slices), the job starts afresh in
its own directory, is killed with SIGKILL (its whole process group: workers too) at that moment, and is
rerun to the end with the same commands. Its outputs are then compared with the reference's:
  prepare  every file of the dataset directory byte-identical, nothing else left there;
  train    the same files; history, summary and the evaluation's metrics.json equal to the last bit
           (timings, paths and the rerun's own step count aside); every variable of the final checkpoint
           (the centre's weights, each replica's copy, EASGD's and the schedule's state) bit-identical; every
           file of the export byte-identical (model.keras entry by entry, its save date aside; export.json
           without the run's own path) but saved_model.pb, whose program is compared as TensorFlow's
           fingerprint.pb hashes it (regularized graph, signatures, object graph, checkpoint): its bytes hold
           the numbers the process gave its traced functions, and a resumed process has traced fewer;
and no temporary file anywhere. Where the killed run had committed work (staged chunks, a checkpoint), the
rerun must go on from it, not start over. A kill that comes after the job has ended (a run faster than the
reference) is counted as not landed and tried again at the same fraction of that run's time. Prints one
JSON line per job: {"bench": "random_kills", "job", "kills", "identical", "differing", "not_landed",
"with_committed_work", "went_on", "saved_model_pb_renumbered", "killed_in" (kills per command), "reference_s",
"moments_s", "differences"}.

  python benchmarks/random_kills.py --kills=20 --seed=0 --images=8000
"""

import os

USER_ENVIRONMENT = dict(os.environ)  # What the jobs run with: they log as they do for users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # This process only reads checkpoints.

import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zipfile  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from wsl_tf import fileio  # noqa: E402
from wsl_tf.run_directory import RunDirectory  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("kills", 20, "Kills per job.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the kill moments.")
flags.DEFINE_list("jobs", ["prepare", "train"], "Which jobs: prepare, train.")
flags.DEFINE_integer("images", 600, "Images of the generated corpus.", lower_bound=50)
flags.DEFINE_string("workdir", None, "Where the runs go (default: a new temporary directory, removed at the end).")
flags.DEFINE_integer("timeout", 900, "Seconds any one command may take.")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RENUMBERED = "saved_model.pb renumbered"  # A note: its bytes differ from the reference's, its program does not.
PROGRAMS = {"wsl_tf.cli.prepare": "wsl-prepare", "wsl_tf.cli.train": "wsl-train", "wsl_tf.cli.eval": "wsl-eval"}
WORDS = ["cat", "dog", "sun", "sea", "tree", "car", "boat", "bird", "fish", "house", "road", "hill"]


def make_corpus(root: str, count: int) -> str:
    """count random 192 px PNGs, each captioned with 1-3 of WORDS and a common word; the JSONL list's path."""
    from PIL import Image

    rng = np.random.default_rng(0)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "list.jsonl"), "w") as handle:
        for i in range(count):
            pixels = rng.integers(0, 256, size=(192, 192, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(os.path.join(root, f"{i}.png"))
            words = rng.choice(WORDS, size=rng.integers(1, 4), replace=False)
            handle.write(json.dumps({"image": f"{i}.png", "text": "the " + " ".join(words)}) + "\n")
    return os.path.join(root, "list.jsonl")


def prepare_commands(corpus: str, out: str) -> list[list[str]]:
    return [
        [
            sys.executable,
            "-m",
            "wsl_tf.cli.prepare",
            "--source=jsonl",
            f"--input={corpus}",
            f"--output_dir={out}/data",
            "--vocab_size=12",
            "--num_stopwords=1",
            "--image_size=64",
            "--num_shards=2",
            "--val_fraction=0.15",
            "--test_fraction=0.1",
            "--workers=2",
            "--chunk_size=25",
            "--noprogress",
        ]
    ]


def train_commands(dataset: str, out: str) -> list[list[str]]:
    run = f"{out}/run"
    return [
        [
            sys.executable,
            "-m",
            "wsl_tf.cli.train",
            f"--config={REPO}/configs/cpu_small.py",
            f"--workdir={run}",
            f"--config.data.dir={dataset}",
            "--config.model.num_words=12",
            "--config.train.max_epochs=3",
            "--config.train.devices=()",
            "--config.train.logical_cpus=2",
            "--config.train.checkpoint_every_steps=2",
        ],
        [
            sys.executable,
            "-m",
            "wsl_tf.cli.eval",
            f"--workdir={run}",
            "--experiments=word_prediction",
            "--test_images=60",
            "--baseline_train_images=200",
            "--class_network_steps=10",
            "--noprogress",
        ],
    ]


def run_chain(commands, log_dir: str, kill_at: float | None = None, timeout: float = 900) -> dict:
    """Run the commands one after another; with kill_at, SIGKILL whichever runs `kill_at` s after the start.

    Returns {"seconds", "killed": whether the kill landed, "failed": the failing command's stderr tail or None,
    and, after a kill, "command": the killed command's name}.
    """
    started = time.monotonic()
    os.makedirs(log_dir, exist_ok=True)
    for index, command in enumerate(commands):
        with (
            open(os.path.join(log_dir, f"{index}.out"), "a") as out,
            open(os.path.join(log_dir, f"{index}.err"), "a") as err,
        ):
            process = subprocess.Popen(
                command, stdout=out, stderr=err, cwd=REPO, env=USER_ENVIRONMENT, start_new_session=True
            )
            deadline = started + kill_at if kill_at is not None else None
            while process.poll() is None:
                if deadline is not None and time.monotonic() >= deadline:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    return {
                        "seconds": time.monotonic() - started,
                        "killed": True,
                        "failed": None,
                        "command": PROGRAMS[command[2]],
                    }
                if time.monotonic() - started > timeout:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    return {"seconds": time.monotonic() - started, "killed": False, "failed": "timed out"}
                time.sleep(0.01)
        if process.returncode != 0:
            with open(os.path.join(log_dir, f"{index}.err")) as handle:
                tail = handle.read()[-600:]
            return {
                "seconds": time.monotonic() - started,
                "killed": False,
                "failed": f"{os.path.basename(command[2])} exited {process.returncode}: {tail}",
            }
    return {"seconds": time.monotonic() - started, "killed": False, "failed": None}


def tree(root: str) -> dict[str, str]:
    """Relative path -> absolute path of every file under root."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            files[os.path.relpath(path, root)] = path
    return files


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def compare_dataset(ours: str, theirs: str) -> tuple[list[str], list[str]]:
    """(differences, notes) between two jobs' dataset directories (no differences: every file byte-identical, no
    other file)."""
    ours, theirs = os.path.join(ours, "data"), os.path.join(theirs, "data")
    mine, reference = tree(ours), tree(theirs)
    problems = [f"left behind: {n}" for n in fileio.temporaries_under(ours)]
    if sorted(mine) != sorted(reference):
        problems.append(f"files differ: {sorted(set(mine) ^ set(reference))[:5]}")
    problems += [
        f"bytes differ: {n}" for n in sorted(set(mine) & set(reference)) if _read(mine[n]) != _read(reference[n])
    ]
    return problems, []


def _without(value, drop: set):
    """value with the keys in `drop` removed at any depth."""
    if isinstance(value, dict):
        return {k: _without(v, drop) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_without(v, drop) for v in value]
    return value


def _json(path: str, drop: set, directory: str):
    text = _read(path).decode().replace(directory, "RUN")
    return _without(json.loads(text), drop)


def _checkpoint_differences(ours: str, theirs: str) -> list[str]:
    import tensorflow as tf

    latest = [tf.train.latest_checkpoint(RunDirectory(d).checkpoints) for d in (ours, theirs)]
    if None in latest or os.path.basename(latest[0]) != os.path.basename(latest[1]):
        return [f"latest checkpoints differ: {latest}"]
    readers = [tf.train.load_checkpoint(path) for path in latest]
    names = [sorted(reader.get_variable_to_shape_map()) for reader in readers]
    if names[0] != names[1]:
        return ["checkpoint variables differ"]
    differing = [
        n
        for n in names[0]
        if n != "_CHECKPOINTABLE_OBJECT_GRAPH"
        and np.asarray(readers[0].get_tensor(n)).tobytes() != np.asarray(readers[1].get_tensor(n)).tobytes()
    ]
    return [f"checkpoint variable differs: {n}" for n in differing[:5]]


def _keras_file_differences(ours: str, theirs: str) -> list[str]:
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
        if sorted(a.namelist()) != sorted(b.namelist()):
            return ["model.keras entries differ"]
        problems = []
        for name in a.namelist():
            x, y = a.read(name), b.read(name)
            if name == "metadata.json":
                x, y = (_without(json.loads(v), {"date_saved"}) for v in (x, y))
            if x != y:
                problems.append(f"model.keras: {name} differs")
        return problems


def _fingerprint(path: str) -> bytes:
    """A SavedModel's fingerprint as TensorFlow compares programs: the hashes of the regularized graph, the
    signatures, the object graph and the checkpoint; not the uuid it draws for every save, nor the checksum of
    saved_model.pb's bytes, which hold the numbers a process gave its traced functions (a resumed process has
    traced fewer functions before it exports, so the same graph's functions are numbered otherwise)."""
    from tensorflow.core.protobuf import fingerprint_pb2

    fingerprint = fingerprint_pb2.FingerprintDef.FromString(_read(path))
    fingerprint.ClearField("uuid")
    fingerprint.ClearField("saved_model_checksum")
    return fingerprint.SerializeToString(deterministic=True)


def compare_run(ours: str, theirs: str) -> tuple[list[str], list[str]]:
    """(differences, notes) between two training jobs' directories (run/: history, summary, checkpoint, export,
    eval); the note RENUMBERED when saved_model.pb's bytes differ but its program does not."""
    a, b = os.path.join(ours, "run"), os.path.join(theirs, "run")
    mine, reference = tree(a), tree(b)
    problems, notes = [f"left behind: {n}" for n in fileio.temporaries_under(a)], []

    # Event files are named by process: a resumed run has one per process (the run's, and evaluation's class-label
    # network's under eval/class_network/).
    def compared(names):
        return {n for n in names if RunDirectory.TENSORBOARD not in n.split(os.sep)}

    extra = sorted(compared(mine) ^ compared(reference))
    if extra:
        problems.append(f"files differ: {extra[:5]}")
    timings = {"train_images_per_s", "trained_steps", "seconds", "evaluation_seconds", "elapsed_s"}
    for name in (RunDirectory.HISTORY, RunDirectory.SUMMARY, f"{RunDirectory.EVAL}/{RunDirectory.METRICS}"):
        if name not in mine:
            problems.append(f"missing: {name}")
        elif _json(mine[name], timings, a) != _json(reference[name], timings, b):
            problems.append(f"differs: {name}")
    problems += _checkpoint_differences(a, b)
    export = RunDirectory.EXPORT + "/"
    exported = sorted(n for n in reference if n.startswith(export))
    if sorted(n for n in mine if n.startswith(export)) != exported:
        problems.append("export files differ")
    for name in exported:
        if name not in mine:
            continue
        if name.endswith("model.keras"):
            problems += _keras_file_differences(mine[name], reference[name])
        elif name.endswith("fingerprint.pb"):
            if _fingerprint(mine[name]) != _fingerprint(reference[name]):
                problems.append(f"differs: {name}")
        elif name.endswith("saved_model.pb"):
            if _read(mine[name]) != _read(reference[name]):
                notes.append(RENUMBERED)  # The program is compared through fingerprint.pb.
        elif name.endswith("export.json"):
            if _json(mine[name], set(), a) != _json(reference[name], set(), b):
                problems.append("differs: export/export.json")
        elif _read(mine[name]) != _read(reference[name]):
            problems.append(f"bytes differ: {name}")
    return problems, notes


def prepare_progress(out: str) -> bool:
    """Whether a killed wsl-prepare had committed staged chunks (its rerun must not redo them)."""
    staging = os.path.join(out, "data", ".staging")
    return os.path.isdir(staging) and any(n.startswith("chunk-") and n.endswith(".json") for n in os.listdir(staging))


def prepare_went_on(log_dir: str) -> bool:
    """Whether a wsl-prepare rerun went on from what was there: fewer records processed than the corpus has."""
    said = _read(os.path.join(log_dir, "0.out")).decode()
    if "already complete" in said:
        return True
    (wrote,) = [line for line in said.splitlines() if line.startswith("wrote ")]
    return int(wrote.split("(")[1].split()[0]) < FLAGS.images


def train_progress(out: str) -> bool:
    """Whether a killed wsl-train had committed a checkpoint (its rerun must resume from it)."""
    return os.path.exists(os.path.join(RunDirectory(os.path.join(out, "run")).checkpoints, "checkpoint"))


def train_went_on(log_dir: str) -> bool:
    """Whether a wsl-train rerun resumed from a checkpoint (or found the run finished) instead of starting over."""
    said = _read(os.path.join(log_dir, "0.out")).decode() + _read(os.path.join(log_dir, "0.err")).decode()
    return "resumed from" in said or "nothing to train" in said


def kill_moments(seed: int, kills: int, span: float) -> list[float]:
    """One moment drawn uniformly in each of `kills` equal slices of [0, span), in a seeded random order."""
    rng = np.random.default_rng(seed)
    moments = (np.arange(kills) + rng.uniform(size=kills)) / kills * span
    return [float(m) for m in rng.permutation(moments)]


@dataclasses.dataclass
class Job:
    """What is killed, and how its outcome is judged against the reference."""

    name: str
    commands: Callable[[str], list]  # The user's commands, writing under the directory.
    compare: Callable[[str, str], tuple]  # (this run, the reference) -> (differences, notes).
    committed_work: Callable[[str], bool]  # Whether a killed run had committed work...
    went_on: Callable[[str], bool]  # ...and whether the rerun (its log directory) went on from it, not started over.


def measure(job: Job, root: str, kills: int, seed: int, timeout: float) -> dict:
    """The reference run, then `kills` killed-and-rerun runs compared with it."""
    commands_for = job.commands
    reference_dir = os.path.join(root, f"{job.name}-reference")
    done = run_chain(commands_for(reference_dir), os.path.join(reference_dir, "logs"), timeout=timeout)
    if done["failed"]:
        raise RuntimeError(f"the uninterrupted {job.name} run failed: {done['failed']}")
    span = done["seconds"]
    result = {
        "bench": "random_kills",
        "job": job.name,
        "kills": 0,
        "identical": 0,
        "differing": 0,
        "not_landed": 0,
        "with_committed_work": 0,
        "went_on": 0,
        "saved_model_pb_renumbered": 0,
        "killed_in": {},
        "reference_s": round(span, 1),
        "moments_s": [],
        "differences": [],
    }
    for index, moment in enumerate(kill_moments(seed, kills, span)):
        out = os.path.join(root, f"{job.name}-kill{index:02d}")
        for _ in range(3):  # A run faster than the reference may end first: retry at the same fraction of its time.
            killed = run_chain(commands_for(out), os.path.join(out, "logs"), kill_at=moment, timeout=timeout)
            if killed["failed"]:
                raise RuntimeError(f"{job.name} run {index} failed before its kill: {killed['failed']}")
            if killed["killed"]:
                break
            result["not_landed"] += 1
            shutil.rmtree(out)
            moment *= killed["seconds"] / span
        else:
            continue
        result["kills"] += 1
        result["moments_s"].append(round(moment, 2))
        result["killed_in"][killed["command"]] = result["killed_in"].get(killed["command"], 0) + 1
        committed = job.committed_work(out)
        rerun = run_chain(commands_for(out), os.path.join(out, "rerun-logs"), timeout=timeout)
        problems, notes = (
            ([f"rerun failed: {rerun['failed']}"], []) if rerun["failed"] else job.compare(out, reference_dir)
        )
        result["saved_model_pb_renumbered"] += notes.count(RENUMBERED)
        if committed:
            result["with_committed_work"] += 1
            if job.went_on(os.path.join(out, "rerun-logs")):
                result["went_on"] += 1
            elif not rerun["failed"]:
                problems.append("the rerun started over instead of going on from the committed work")
        if problems:
            result["differing"] += 1
            result["differences"].append({"moment_s": round(moment, 2), "problems": problems[:5]})
        else:
            result["identical"] += 1
            shutil.rmtree(out)
        print(
            f"{job.name} kill {index + 1}/{kills} at {moment:.1f} s: {problems[:2] or 'identical'}",
            file=sys.stderr,
            flush=True,
        )
    return result


def main(argv):
    del argv
    unknown = set(FLAGS.jobs) - {"prepare", "train"}
    if unknown:
        raise app.UsageError(f"--jobs: unknown {sorted(unknown)} (prepare, train)")
    root = FLAGS.workdir or tempfile.mkdtemp(prefix="wsl_random_kills_")
    os.makedirs(root, exist_ok=True)
    corpus = make_corpus(os.path.join(root, "corpus"), FLAGS.images)
    results = []
    if "prepare" in FLAGS.jobs:
        prepare = Job(
            "prepare", lambda out: prepare_commands(corpus, out), compare_dataset, prepare_progress, prepare_went_on
        )
        results.append(measure(prepare, root, FLAGS.kills, FLAGS.seed, FLAGS.timeout))
        print(json.dumps(results[-1]), flush=True)
    if "train" in FLAGS.jobs:
        dataset = os.path.join(root, "prepare-reference", "data")
        if not os.path.exists(os.path.join(dataset, "dataset.json")):
            done = run_chain(
                prepare_commands(corpus, os.path.join(root, "prepare-reference")),
                os.path.join(root, "prepare-reference", "logs"),
                timeout=FLAGS.timeout,
            )
            if done["failed"]:
                raise RuntimeError(f"preparing the training data failed: {done['failed']}")
        train = Job("train", lambda out: train_commands(dataset, out), compare_run, train_progress, train_went_on)
        results.append(measure(train, root, FLAGS.kills, FLAGS.seed + 1, FLAGS.timeout))
        print(json.dumps(results[-1]), flush=True)
    if not FLAGS.workdir and not any(r["differing"] for r in results):
        shutil.rmtree(root)
    return 0


if __name__ == "__main__":
    app.run(main)
