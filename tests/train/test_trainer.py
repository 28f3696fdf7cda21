"""The training program: EASGD and synchronous runs, NaN stop, config errors, kill -9 and resume."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import prepare_jsonl_dataset
from wsl_tf.train.config import paper_config
from wsl_tf.train.trainer import TrainingError, train

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORDS = ["red", "blue", "green", "cat", "dog", "car", "tree", "sea", "sun", "hill", "road", "boat"]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return prepare_jsonl_dataset(tmp_path_factory.mktemp("train_data"), 240, WORDS, image_px=64, vocab_size=12,
                                 num_stopwords=0, image_size=64, num_shards=2, val_fraction=0.15,
                                 test_fraction=0.05)


def tiny_config(dataset_dir, **train) -> ml_collections.ConfigDict:
    config = paper_config("alexnet", num_words=12)
    config.data.dir = dataset_dir
    config.model.update({"image_size": 64, "width": 0.125})
    config.input.update({"resize_size": 64, "crop_size": 64, "block_size": 32})
    config.optimizer.update({"learning_rate": 0.05, "tau": 2})
    config.train.update({"batch_size_per_replica": 8, "epoch_size": 64, "max_epochs": 2, "checkpoint_every_steps": 2,
                         "devices": ("/cpu:0", "/cpu:1"), **train})
    config.schedule.update({"min_epochs_per_lr": 1})
    config.eval.update({"val_images": 64, "batch_size": 32})
    return config


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_end(self, epoch, logs=None):
        self.events.append((epoch, sorted(logs)))


def test_easgd_run_trains_checkpoints_logs_and_calls_callbacks(dataset_dir, tmp_path):
    recorder = Recorder()
    summary = train(tiny_config(dataset_dir), str(tmp_path), callbacks=[recorder], log=lambda *_: None)
    assert (summary["step"], summary["epoch"]) == (8, 2)
    assert recorder.events == [(0, ["loss", "precision_at_10", "val_error"]),
                               (1, ["loss", "precision_at_10", "val_error"])]
    assert all(np.isfinite(h["loss"]) and 0 <= h["val_error"] <= 1 for h in summary["history"])
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-8")
    assert os.listdir(tmp_path / "tensorboard")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["optimizer"]["name"] == "easgd" and saved["data"]["dir"] == dataset_dir
    assert json.loads((tmp_path / "summary.json").read_text())["step"] == 8


def test_synchronous_sgd_run(dataset_dir, tmp_path):
    config = tiny_config(dataset_dir, max_epochs=1)
    config.optimizer.name = "sgd"
    summary = train(config, str(tmp_path), log=lambda *_: None)
    assert summary["step"] == 4 and np.isfinite(summary["history"][0]["loss"])


def test_a_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(dataset_dir, tmp_path):
    config = tiny_config(dataset_dir, max_epochs=1)
    config.optimizer.update({"learning_rate": 1e20, "tau": 100})
    with pytest.raises(TrainingError, match=r"the loss is (nan|inf|-inf) at step \d+"):
        train(config, str(tmp_path), log=lambda *_: None)
    assert not os.path.exists(tmp_path / "summary.json")


@pytest.mark.parametrize("change, message", [
    (lambda c: c.model.update({"num_words": 500}), "model.num_words=500 exceeds the dataset's vocabulary"),
    (lambda c: c.data.update({"dir": "/nonexistent"}), "not a dataset directory"),
    (lambda c: c.input.update({"crop_size": 56}), "input.crop_size=56 differs from model.image_size=64"),
    (lambda c: c.optimizer.update({"name": "adam"}), "optimizer.name='adam'"),
])
def test_config_errors_fail_before_training(dataset_dir, tmp_path, change, message):
    config = tiny_config(dataset_dir)
    change(config)
    with pytest.raises(TrainingError, match=message):
        train(config, str(tmp_path / "run"), log=lambda *_: None)
    assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_a_run_directory_of_another_vocabulary_is_refused(dataset_dir, tmp_path):
    (tmp_path / "data.json").write_text(json.dumps({"dir": "elsewhere", "vocab_sha256": "0" * 64, "num_words": 12}))
    with pytest.raises(TrainingError, match="trained on another vocabulary"):
        train(tiny_config(dataset_dir), str(tmp_path), log=lambda *_: None)


def wsl_train(workdir, dataset_dir, *extra):
    command = [sys.executable, "-m", "wsl_tf.cli.train", f"--config={REPO}/configs/cpu_small.py",
               f"--workdir={workdir}", f"--config.data.dir={dataset_dir}", "--config.model.num_words=12",
               "--config.train.max_epochs=3", *extra]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_kill_9_then_rerun_ends_where_an_uninterrupted_run_ends(dataset_dir, tmp_path):
    reference = wsl_train(tmp_path / "reference", dataset_dir)
    killed = wsl_train(tmp_path / "killed", dataset_dir)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and killed.poll() is None:
        if checkpoints.exists() and any(n.endswith(".index") for n in os.listdir(checkpoints)):
            break
        time.sleep(0.05)
    assert killed.poll() is None, "the run ended before it could be killed"
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / "summary.json").exists()
    rerun = wsl_train(tmp_path / "killed", dataset_dir)
    _, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr[-3000:]
    assert "resumed from" in stderr or "resumed from" in _
    _, reference_err = reference.communicate(timeout=300)
    assert reference.returncode == 0, reference_err[-3000:]
    ours = json.loads((tmp_path / "killed" / "summary.json").read_text())
    theirs = json.loads((tmp_path / "reference" / "summary.json").read_text())
    assert (ours["step"], ours["epoch"], ours["learning_rate"]) == (theirs["step"], theirs["epoch"],
                                                                     theirs["learning_rate"]) == (24, 3, ours["learning_rate"])
    resumed = {h["epoch"]: h for h in ours["history"]}
    first_resumed = min(resumed)
    for entry in theirs["history"]:
        if entry["epoch"] in resumed:
            for metric in ("val_error", "precision_at_10"):
                assert resumed[entry["epoch"]][metric] == pytest.approx(entry[metric], abs=1e-6)
        if entry["epoch"] > first_resumed:  # The interrupted epoch's mean loss covers only its resumed steps.
            assert resumed[entry["epoch"]]["loss"] == pytest.approx(entry["loss"], rel=1e-4)


def test_unknown_config_key_is_a_one_line_error(dataset_dir, tmp_path):
    run = wsl_train(tmp_path / "run", dataset_dir, "--config.train.no_such_key=3")
    _, stderr = run.communicate(timeout=120)
    assert run.returncode != 0 and "no_such_key" in stderr
    assert not (tmp_path / "run").exists()
