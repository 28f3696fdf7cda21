"""The training program: EASGD and synchronous runs, NaN stop, config errors, kill -9 and resume."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import prepare_jsonl_dataset
from wsl_tf.configs import paper
from wsl_tf.dataset import PreparedDataset
from wsl_tf.models import build_model
from wsl_tf.train.trainer import TrainingError, loss_function, train, validate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tiny_config(twelve_word_dataset, **train) -> ml_collections.ConfigDict:
    config = paper.get_config("alexnet,k=12")
    config.data.dir = twelve_word_dataset
    config.model.update({"image_size": 64, "width": 0.125})
    config.input.update({"resize_size": 64, "crop_size": 64, "block_size": 32})
    config.optimizer.update({"learning_rate": 0.05, "tau": 2})
    config.train.update({"batch_size_per_replica": 8, "epoch_size": 64, "max_epochs": 2, "checkpoint_every_steps": 2,
                         "devices": ("/cpu:0", "/cpu:1"), "export": False, **train})
    config.schedule.update({"min_epochs_per_lr": 1})
    config.eval.update({"val_images": 64, "batch_size": 32})
    return config


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_end(self, epoch, logs=None):
        self.events.append((epoch, sorted(logs)))


def test_easgd_run_trains_checkpoints_logs_and_calls_callbacks(twelve_word_dataset, tmp_path):
    recorder = Recorder()
    summary = train(tiny_config(twelve_word_dataset, export=True), str(tmp_path), callbacks=[recorder],
                    log=lambda *_: None)
    assert (summary["step"], summary["epoch"]) == (8, 2)
    assert recorder.events == [(0, ["loss", "precision_at_10", "val_error"]),
                               (1, ["loss", "precision_at_10", "val_error"])]
    assert all(np.isfinite(h["loss"]) and 0 <= h["val_error"] <= 1 for h in summary["history"])
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-8")
    assert os.listdir(tmp_path / "tensorboard")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["optimizer"]["name"] == "easgd" and saved["data"]["dir"] == twelve_word_dataset
    assert json.loads((tmp_path / "summary.json").read_text())["step"] == 8
    assert [h["epoch"] for h in json.loads((tmp_path / "history.json").read_text())] == [1, 2]

    # Evaluation read the centre: the checkpoint's centre gives the last epoch's figures, and the
    # replicas' own weights, also in the checkpoint, differ from it (two local steps since the exchange).
    latest = tf.train.latest_checkpoint(str(tmp_path / "checkpoints"))
    config = tiny_config(twelve_word_dataset)
    centre = build_model(config.model)
    tf.train.Checkpoint(centre=centre).restore(latest).expect_partial()
    again = validate(centre, config, PreparedDataset(twelve_word_dataset))
    assert again["val_error"] == pytest.approx(summary["history"][-1]["val_error"], abs=1e-6)
    assert again["precision_at_10"] == pytest.approx(summary["history"][-1]["precision_at_10"], abs=1e-6)
    # The finished run left export/, from the centre: its scores are the checkpoint's centre's.
    from wsl_tf.input.preprocessing import preprocess

    images = [open(p, "rb").read() for p in sorted(glob.glob(os.path.join(os.path.dirname(twelve_word_dataset),
                                                                           "*.png")))[:4]]
    served = tf.saved_model.load(str(tmp_path / "export" / "saved_model")).signatures["serving_default"](
        images=tf.constant(images))
    scores = centre(tf.stack([preprocess(b, 64, 64) for b in images]), training=False).numpy()
    np.testing.assert_allclose(served["scores"].numpy(), -np.sort(-scores, axis=1)[:, :10], rtol=1e-5, atol=1e-6)
    assert (tmp_path / "export" / "model.keras").exists() and (tmp_path / "vocab.tsv").exists()
    # wsl-export of the run directory gives the same model.
    from wsl_tf.serving import export_run

    again = export_run(str(tmp_path), str(tmp_path / "again"), top_k=3)
    reserved = tf.saved_model.load(os.path.join(again, "saved_model")).signatures["serving_default"](
        images=tf.constant(images))
    np.testing.assert_array_equal(reserved["words"].numpy(), served["words"].numpy()[:, :3])
    replica_conv1 = tf.train.load_checkpoint(latest).get_tensor("replica_copies/0/.ATTRIBUTES/VARIABLE_VALUE")
    assert replica_conv1.shape == centre.trainable_variables[0].shape
    assert not np.allclose(replica_conv1, np.array(centre.trainable_variables[0]))


def test_synchronous_sgd_run(twelve_word_dataset, tmp_path):
    config = tiny_config(twelve_word_dataset, max_epochs=1)
    config.optimizer.name = "sgd"
    summary = train(config, str(tmp_path), log=lambda *_: None)
    assert summary["step"] == 4 and np.isfinite(summary["history"][0]["loss"])


def test_a_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(twelve_word_dataset, tmp_path):
    config = tiny_config(twelve_word_dataset, max_epochs=1, log_every_steps=3, checkpoint_every_steps=100)
    config.optimizer.update({"learning_rate": 1e20, "tau": 100})
    with pytest.raises(TrainingError, match=r"the loss is (nan|inf|-inf) at step \d+") as raised:
        train(config, str(tmp_path), log=lambda *_: None)
    # The first window holds steps 1-3; the error names the first bad step inside it, not the window's end.
    found = re.search(r"at step (\d+) \(steps 1-3 ran in one log window\)", str(raised.value))
    assert found and 1 < int(found.group(1)) <= 3, str(raised.value)
    assert not os.path.exists(tmp_path / "summary.json")


class BatchEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append((batch, logs["loss"]))


def test_losses_are_fetched_once_per_log_window(twelve_word_dataset, tmp_path):
    """log_every_steps=3, checkpoints every 2, 4 steps an epoch: windows end at 2, 3, 4, 6, 8."""
    ends = BatchEnds()
    config = tiny_config(twelve_word_dataset, log_every_steps=3, steps_per_loop=2)
    summary = train(config, str(tmp_path), callbacks=[ends], log=lambda *_: None)
    assert [step for step, _ in ends.steps] == [2, 3, 4, 6, 8]
    assert summary["step"] == 8 and all(np.isfinite(loss) for _, loss in ends.steps)
    logged = sorted(event.step for path in glob.glob(str(tmp_path / "tensorboard" / "*"))
                    for event in tf.compat.v1.train.summary_iterator(path)
                    for value in event.summary.value if value.tag == "train/loss")
    assert logged == [2, 3, 4, 6, 8]


@pytest.mark.parametrize("change, message", [
    (lambda c: c.model.update({"num_words": 500}), "model.num_words=500 exceeds the dataset's vocabulary"),
    (lambda c: c.data.update({"dir": "/nonexistent"}), "not a dataset directory"),
    (lambda c: c.input.update({"crop_size": 56}), "input.crop_size=56 differs from model.image_size=64"),
    (lambda c: c.optimizer.update({"name": "adam"}), "optimizer.name='adam'"),
    (lambda c: (c.optimizer.update({"name": "sgd"}), c.train.update({"steps_per_loop": 4})),
     "train.steps_per_loop=4 needs optimizer.name='easgd'"),
])
def test_config_errors_fail_before_training(twelve_word_dataset, tmp_path, change, message):
    config = tiny_config(twelve_word_dataset)
    change(config)
    with pytest.raises(TrainingError, match=message):
        train(config, str(tmp_path / "run"), log=lambda *_: None)
    assert not os.path.exists(tmp_path / "run" / "checkpoints")


def test_a_run_opens_its_dataset_once_however_many_replicas_draw(twelve_word_dataset, tmp_path, monkeypatch):
    from wsl_tf import records
    from wsl_tf.input.index import TrainIndex
    from wsl_tf.vocab import Vocabulary

    reads = {"dataset.json": 0, "vocab.tsv": 0, "train-index.npz": 0}

    def counting(name, original):
        def read(*args, **kwargs):
            reads[name] += 1
            return original(*args, **kwargs)
        return read

    monkeypatch.setattr(records, "read_metadata", counting("dataset.json", records.read_metadata))
    monkeypatch.setattr(Vocabulary, "load", counting("vocab.tsv", Vocabulary.load))
    monkeypatch.setattr(TrainIndex, "load", counting("train-index.npz", TrainIndex.load))
    config = tiny_config(twelve_word_dataset, max_epochs=1, devices=("/cpu:0", "/cpu:1", "/cpu:2"))
    config.loss = "one_vs_all"  # Its weights read the train index too.
    config.input.update({"sampler": "natural", "labels": "all_words"})
    summary = train(config, str(tmp_path), log=lambda *_: None)
    assert summary["epoch"] == 1
    assert reads == {"dataset.json": 1, "vocab.tsv": 1, "train-index.npz": 1}


def test_a_run_the_schedule_stopped_trains_nothing_when_rerun(twelve_word_dataset, tmp_path):
    config = tiny_config(twelve_word_dataset, max_epochs=5)
    config.schedule.min_lr = 0.06  # Above the learning rate: the schedule stops after the first epoch.
    first = train(config, str(tmp_path), log=lambda *_: None)
    assert (first["epoch"], first["step"], first["stopped_by_schedule"]) == (1, 4, True)
    said = []
    again = train(config, str(tmp_path), log=said.append)
    assert (again["epoch"], again["step"]) == (1, 4) and again["history"] == first["history"]
    assert any("nothing to train: the schedule stopped this run" in line for line in said)


def test_one_vs_all_weights_count_this_datasets_train_images_not_the_reused_vocabulary(tmp_path):
    (tmp_path / "donor").mkdir()
    donor = prepare_jsonl_dataset(tmp_path / "donor", 60, ["red", "blue", "green"], image_px=16,
                                  probabilities=[0.6, 0.3, 0.1], vocab_size=3, num_stopwords=0, image_size=16,
                                  num_shards=1)
    (tmp_path / "mine").mkdir()
    mine = prepare_jsonl_dataset(tmp_path / "mine", 40, ["red", "blue", "green"], image_px=16,
                                 probabilities=[0.1, 0.3, 0.6], vocab_size=3, num_stopwords=0, image_size=16,
                                 num_shards=2, vocab_path=os.path.join(donor, "vocab.tsv"))
    counts = np.zeros(3, int)  # Brute force: read this dataset's train shards.
    images = 0
    for path in sorted(glob.glob(os.path.join(mine, "train-*.tfrecord"))):
        for record in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(record.numpy())
            counts[list(example.features.feature["words/ids"].int64_list.value)] += 1
            images += 1
    vocab_counts = [int(line.split("\t")[1]) for line in open(os.path.join(mine, "vocab.tsv"))]
    assert vocab_counts != counts.tolist()
    config = paper.get_config("alexnet,k=3,loss=one_vs_all")
    config.data.dir = mine
    loss = loss_function(config, PreparedDataset(mine))
    assert loss.class_counts == counts.tolist() and loss.num_images == images


def test_a_run_directory_of_another_vocabulary_is_refused(twelve_word_dataset, tmp_path):
    (tmp_path / "data.json").write_text(json.dumps({"dir": "elsewhere", "vocab_sha256": "0" * 64, "num_words": 12}))
    with pytest.raises(TrainingError, match="trained on another vocabulary"):
        train(tiny_config(twelve_word_dataset), str(tmp_path), log=lambda *_: None)


def wsl_train(workdir, twelve_word_dataset, *extra, config=f"{REPO}/configs/cpu_small.py"):
    """wsl-train as the demo runs it: EASGD over 2 logical CPUs, dropout on, deterministic ops."""
    command = [sys.executable, "-m", "wsl_tf.cli.train", f"--config={config}", f"--workdir={workdir}",
               f"--config.data.dir={twelve_word_dataset}", "--config.model.num_words=12", "--config.train.max_epochs=3",
               "--config.train.devices=()", "--config.train.logical_cpus=2",
               "--config.train.checkpoint_every_steps=2", *extra]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def test_kill_9_then_rerun_ends_where_an_uninterrupted_run_ends(twelve_word_dataset, tmp_path):
    reference = wsl_train(tmp_path / "reference", twelve_word_dataset)
    killed = wsl_train(tmp_path / "killed", twelve_word_dataset)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and killed.poll() is None:
        if (checkpoints / "checkpoint").exists():  # The manager's state file commits a checkpoint last.
            break
        time.sleep(0.05)
    assert killed.poll() is None, "the run ended before it could be killed"
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "killed" / "summary.json").exists()
    rerun = wsl_train(tmp_path / "killed", twelve_word_dataset)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err[-3000:]
    assert "resumed from" in out + err
    tensorflow_lines = [line for line in err.replace("\r", "\n").splitlines()
                        if re.match(r"[IWEF]\d{4} ", line) or "tensorflow/" in line or "oneDNN" in line]
    assert tensorflow_lines == []  # TensorFlow's C++ log stays off the user's terminal.
    reference_out, reference_err = reference.communicate(timeout=300)
    assert reference.returncode == 0, reference_err[-3000:]
    ours = json.loads((tmp_path / "killed" / "summary.json").read_text())
    theirs = json.loads((tmp_path / "reference" / "summary.json").read_text())
    assert (ours["step"], ours["epoch"], ours["learning_rate"]) == (theirs["step"], theirs["epoch"],
                                                                     theirs["learning_rate"])
    assert (ours["step"], ours["epoch"]) == (12, 3)  # 256-image epochs of 2 x 32.
    assert (tmp_path / "killed" / "export" / "saved_model" / "saved_model.pb").exists()  # wsl-train exported.
    assert (tmp_path / "killed" / "export" / "model.keras").exists()
    assert [h["epoch"] for h in ours["history"]] == [h["epoch"] for h in theirs["history"]] == [1, 2, 3]
    for mine, reference_entry in zip(ours["history"], theirs["history"]):
        for metric in ("loss", "val_error", "precision_at_10", "learning_rate"):
            assert mine[metric] == pytest.approx(reference_entry[metric], abs=1e-6), (mine["epoch"], metric)
    logged = [line for line in (reference_out + reference_err).splitlines() if "val error" in line]
    assert [line.split(":")[0] for line in logged] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]

    # Rerunning a finished run trains nothing and says so.
    again = wsl_train(tmp_path / "killed", twelve_word_dataset)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0 and "nothing to train" in out + err
    assert json.loads((tmp_path / "killed" / "summary.json").read_text())["step"] == 12


@pytest.mark.parametrize("argument, message", [
    ("--config.train.batchsize=3",
     "wsl-train: error: --config.train.batchsize: no such key in {config}; "
     "did you mean --config.train.batch_size_per_replica?"),
    ("--config=/nonexistent/config.py", "wsl-train: error: --config=/nonexistent/config.py: no such file "
                                        "'/nonexistent/config.py'"),
])
def test_a_bad_config_file_or_key_is_one_line_on_stderr(twelve_word_dataset, tmp_path, argument, message):
    config = f"{REPO}/configs/cpu_small.py"
    command = [sys.executable, "-m", "wsl_tf.cli.train", f"--config={config}", f"--workdir={tmp_path / 'run'}",
               argument]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [message.format(config=config)]
    assert not (tmp_path / "run").exists()
