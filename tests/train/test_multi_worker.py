"""wsl-train on two localhost workers (MultiWorkerMirroredStrategy from TF_CONFIG, 2 logical CPUs each).

The chief alone writes the run; every worker ends on the same centre
weights; a run killed mid-way resumes from the chief's checkpoint; a worker
killed with -9 stops the other with a clear error instead of hanging it.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FINGERPRINT = re.compile(r"worker worker/(\d): centre weights sha256 ([0-9a-f]{64})")


def free_ports(count: int) -> list:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(workdir, dataset, *extra) -> list:
    """Both workers' wsl-train commands, as a user would start them on two machines (here: one)."""
    ports = free_ports(2)
    workers = []
    for index in range(2):
        env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
        env["TF_CONFIG"] = json.dumps(
            {"cluster": {"worker": [f"localhost:{port}" for port in ports]}, "task": {"type": "worker", "index": index}}
        )
        command = [
            sys.executable,
            "-m",
            "wsl_tf.cli.train",
            f"--config={REPO}/configs/cpu_small.py",
            f"--workdir={workdir}",
            f"--config.data.dir={dataset}",
            "--config.model.num_words=12",
            "--config.train.devices=()",
            "--config.train.logical_cpus=2",
            "--config.optimizer.tau=3",
            "--config.train.batch_size_per_replica=8",
            "--config.train.epoch_size=96",
            "--config.train.checkpoint_every_steps=2",
            "--config.train.export=False",
            "--config.train.peer_timeout_seconds=60",
            *extra,
        ]
        workers.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
            )
        )
    return workers


def finish(workers, timeout=300) -> list:
    outputs = []
    for worker in workers:
        out, _ = worker.communicate(timeout=timeout)
        assert worker.returncode == 0, out[-3000:]
        outputs.append(out)
    return outputs


@pytest.mark.slow
def test_two_workers_train_as_one_and_only_the_chief_writes(twelve_word_dataset, tmp_path):
    """Its own run: two wsl-train processes under one TF_CONFIG cluster."""
    outputs = finish(start_workers(tmp_path / "run", twelve_word_dataset, "--config.train.max_epochs=2"))
    fingerprints = dict(match.groups() for out in outputs for match in FINGERPRINT.finditer(out))
    assert sorted(fingerprints) == ["0", "1"] and len(set(fingerprints.values())) == 1, outputs[1][-2000:]
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    # 4 replicas (2 workers x 2 logical CPUs) of 8 images: 3 steps per 96-image epoch.
    assert (summary["step"], summary["epoch"]) == (6, 2)
    assert sorted(os.listdir(tmp_path / "run")) == [
        "checkpoints",
        "config.json",
        "data.json",
        "history.json",
        "summary.json",
        "tensorboard",
        "vocab.tsv",
    ]
    # Only the chief's epoch log lines are the run's; the other worker logs the same numbers.
    epochs = [re.findall(r"epoch 2/2: loss ([0-9.]+), val error ([0-9.]+)", out) for out in outputs]
    assert epochs[0] and epochs[0] == epochs[1]


@pytest.mark.slow
def test_a_killed_worker_stops_the_other_and_the_rerun_resumes(twelve_word_dataset, tmp_path):
    """Its own run: a cluster of two wsl-train processes, one of them killed mid-run."""
    workdir = tmp_path / "run"
    workers = start_workers(workdir, twelve_word_dataset, "--config.train.max_epochs=6")
    state = workdir / "checkpoints" / "checkpoint"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not state.exists() and all(w.poll() is None for w in workers):
        time.sleep(0.05)
    assert state.exists() and all(w.poll() is None for w in workers), "no checkpoint before the run ended"
    os.killpg(workers[1].pid, signal.SIGKILL)
    killed_at = time.monotonic()
    out, _ = workers[0].communicate(timeout=240)
    waited = time.monotonic() - killed_at
    print(f"the surviving worker stopped {waited:.1f} s after the kill")
    assert workers[0].returncode != 0
    assert "a worker of the cluster stopped answering" in out and "Rerun every worker's command" in out, out[-3000:]
    assert waited < 200  # Bounded: the health check or the collective timeout, not a hang.
    assert not (workdir / "summary.json").exists()

    outputs = finish(start_workers(workdir, twelve_word_dataset, "--config.train.max_epochs=6"))
    assert all("resumed from" in out for out in outputs)
    summary = json.loads((workdir / "summary.json").read_text())
    assert (summary["step"], summary["epoch"]) == (18, 6)
    assert [entry["epoch"] for entry in summary["history"]] == [1, 2, 3, 4, 5, 6]
    fingerprints = {match.group(2) for out in outputs for match in FINGERPRINT.finditer(out)}
    assert len(fingerprints) == 1
