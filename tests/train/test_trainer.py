"""The training program: the shared EASGD run's products, synchronous runs, NaN stop, config errors, damaged
checkpoints and shards, a full disk. Killed with SIGKILL and rerun: tests/test_random_kills.py."""

import gc
import glob
import json
import os
import re
import sys
import weakref

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf
from wsl_tf.configs import paper

from tests.conftest import tiny_run_config
from tests.helpers import prepare_jsonl_dataset, run_command
from tests.small_disk import run_on_small_disk
from wsl_tf import fileio
from wsl_tf.cli import train as train_command
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.models import build_model
from wsl_tf.train import training_run
from wsl_tf.train.trainer import TrainingError, log_window, loss_function, train, validate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tiny_config(twelve_word_dataset, **train) -> ml_collections.ConfigDict:
    """The shared run's settings on the twelve-word dataset, no export."""
    config = tiny_run_config(twelve_word_dataset, export=False, **train)
    config.model.num_words = 12
    return config


def test_the_shared_easgd_run_trained_checkpointed_logged_and_called_back(tiny_run):
    summary, workdir = tiny_run.summary, tiny_run.workdir
    assert (summary["step"], summary["epoch"], summary["trained_steps"]) == (8, 2, 8)
    keys = ["loss", "precision_at_10", "prior_weight", "raw_precision_at_10", "raw_val_error", "val_error"]
    assert tiny_run.epoch_ends == [(0, keys), (1, keys)]
    latest = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))
    assert latest.endswith("ckpt-8")
    # Each epoch's loss is the mean of its steps' losses: of the two windows TensorBoard logged (a checkpoint
    # every 2 of its 4 steps ends each window).
    logged = sorted(
        (event.step, float(tf.make_ndarray(value.tensor)))
        for path in glob.glob(os.path.join(workdir, "tensorboard", "*"))
        for event in tf.compat.v1.train.summary_iterator(path)
        for value in event.summary.value
        if value.tag == "train/loss"
    )
    assert [step for step, _ in logged] == [2, 4, 6, 8]
    for epoch, entry in enumerate(summary["history"]):
        assert entry["loss"] == pytest.approx(
            np.mean([loss for _, loss in logged[2 * epoch : 2 * epoch + 2]]), rel=1e-6
        )
    assert os.listdir(os.path.join(workdir, "tensorboard"))
    saved = json.loads(open(os.path.join(workdir, "config.json")).read())
    assert saved["optimizer"]["name"] == "easgd" and saved["data"]["dir"] == tiny_run.dataset
    assert json.loads(open(os.path.join(workdir, "summary.json")).read())["step"] == 8
    assert [h["epoch"] for h in json.loads(open(os.path.join(workdir, "history.json")).read())] == [1, 2]

    # Evaluation read the centre: the checkpoint's centre gives the last epoch's figures, and the
    # replicas' own weights, also in the checkpoint, differ from it (two local steps since the exchange).
    centre = build_model(tiny_run.config.model)
    tf.train.Checkpoint(centre=centre).restore(latest).expect_partial()
    again = validate(centre, tiny_run.config, PreparedDataset(tiny_run.dataset))
    assert again["val_error"] == pytest.approx(summary["history"][-1]["val_error"], abs=1e-6)
    assert again["precision_at_10"] == pytest.approx(summary["history"][-1]["precision_at_10"], abs=1e-6)
    # So does the first epoch's, kept among the last three checkpoints (at steps 4, 6 and 8).
    first = build_model(tiny_run.config.model)
    tf.train.Checkpoint(centre=first).restore(latest.replace("ckpt-8", "ckpt-4")).expect_partial()
    assert validate(first, tiny_run.config, PreparedDataset(tiny_run.dataset))["val_error"] == pytest.approx(
        summary["history"][0]["val_error"], abs=1e-6
    )
    # The finished run's export/ holds the centre: its scores are the checkpoint's centre's.
    from wsl_tf.input.preprocessing import preprocess

    images = [
        open(p, "rb").read() for p in sorted(glob.glob(os.path.join(os.path.dirname(tiny_run.dataset), "*.png")))[:4]
    ]
    served = tf.saved_model.load(os.path.join(tiny_run.export, "saved_model")).signatures["serving_default"](
        images=tf.constant(images)
    )
    # The centre keeps the prior weight the last validation chose, which serving ranks with.
    assert float(centre.prior_weight.numpy()) == summary["history"][-1]["prior_weight"]
    scores = centre.scores(tf.stack([preprocess(b, 64, 64) for b in images]), "natural").numpy()
    np.testing.assert_allclose(served["scores"].numpy(), -np.sort(-scores, axis=1)[:, :10], rtol=1e-5, atol=1e-6)
    assert os.path.exists(os.path.join(tiny_run.export, "model.keras"))
    assert os.path.exists(os.path.join(workdir, "vocab.tsv"))
    reader = tf.train.load_checkpoint(latest)
    copies = [reader.get_tensor(f"replica_copies/{i}/.ATTRIBUTES/VARIABLE_VALUE") for i in range(8)]
    replica_conv1 = next(c for c in copies if c.shape == centre.trainable_variables[0].shape)
    assert not np.allclose(replica_conv1, np.array(centre.trainable_variables[0]))


@pytest.mark.parametrize(
    "step, expected",
    [
        (0, [2, 3, 4]),  # Epoch 1: windows end at the checkpoint (2), a log step (3), the epoch's end (4).
        (4, [6, 8]),  # Epoch 2 from step 4: the checkpoint at 6 (log steps 6 and 9 give way), the end at 8.
        (3, [4]),  # A run resumed at step 3 ends its window where an uninterrupted one does.
    ],
)
def test_log_windows_end_at_a_checkpoint_a_log_step_or_the_epochs_end(step, expected):
    """log_every_steps=3, checkpoints every 2 steps, epochs of 4 steps."""
    epoch_end = (step // 4 + 1) * 4
    ends = []
    while step < epoch_end:
        step += log_window(step, epoch_end, log_every=3, checkpoint_every=2)
        ends.append(step)
    assert ends == expected


def test_a_log_window_is_never_empty_nor_past_a_due_step():
    for step in range(0, 50):
        for log_every, checkpoint_every, epoch_end in ((1, 1, 50), (7, 5, 50), (100, 10, 50), (4, 100, 50)):
            window = log_window(step, epoch_end, log_every, checkpoint_every)
            assert window >= 1
            due = [s for s in range(step + 1, epoch_end + 1) if s % log_every == 0 or s % checkpoint_every == 0]
            assert step + window == min([*due, epoch_end])


def test_a_synchronous_sgd_run_checkpoints_its_optimizer_and_resumes_it(twelve_word_dataset, tmp_path):
    """Its own run (the shared one is EASGD): the momentum and step count a resume needs are in the checkpoint,
    with no EASGD centre or local copies beside the one model. (That a step averages the replicas' gradients is
    tests/train/test_training_run.py's.)"""

    def sgd(epochs):
        config = tiny_config(twelve_word_dataset, max_epochs=epochs)
        config.optimizer.name = "sgd"
        return config

    first = train(sgd(1), str(tmp_path), log=lambda *_: None)
    checkpoints = tmp_path / "checkpoints"
    names = dict(tf.train.list_variables(tf.train.latest_checkpoint(str(checkpoints))))
    iterations = [n for n in names if n.startswith("optimizer/") and "iterations" in n]
    momenta = [n for n in names if n.startswith("optimizer/_variables/")]  # One momentum per trainable variable.
    trainable = [n for n in names if n.startswith("optimizer/_trainable_variables/")]
    assert len(iterations) == 1 and len(momenta) >= len(trainable) > 0
    assert not [n for n in names if "local" in n.lower() or "easgd" in n.lower()]
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(checkpoints)))
    assert max(np.abs(reader.get_tensor(n)).max() for n in momenta) > 0
    assert reader.get_tensor(iterations[0]) == first["step"] == 4
    said = []
    second = train(sgd(2), str(tmp_path), log=said.append)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(checkpoints)))
    assert reader.get_tensor(iterations[0]) == second["step"] == 8  # Counted on from the checkpoint, not from 0.
    assert [h["epoch"] for h in second["history"]] == [1, 2] and np.isfinite(second["history"][1]["loss"])


def test_epochs_only_validate_one_epoch_of_2n_images_trains_as_two_of_n(twelve_word_dataset, tmp_path):
    """The stream runs on across epochs and an epoch's end only validates, checkpoints and may halve the learning
    rate: with the rate held, one epoch of 128 images ends on the weights two of 64 reach (what the training
    choices' one-epoch budget rests on, configs/paper.py)."""
    from wsl_tf.run_directory import restore_run

    weights = {}
    for epochs, size in ((1, 128), (2, 64)):
        config = tiny_config(twelve_word_dataset, max_epochs=epochs, epoch_size=size)
        config.schedule.min_epochs_per_lr = 3
        summary = train(config, str(tmp_path / f"{epochs}x{size}"), log=lambda *_: None)
        assert summary["step"] == 8 and len(summary["history"]) == epochs
        weights[epochs] = restore_run(str(tmp_path / f"{epochs}x{size}")).model.get_weights()
    for one, two in zip(weights[1], weights[2], strict=True):
        np.testing.assert_array_equal(one, two)


@pytest.mark.slow  # Trains a run of its own: kept out of the fast set's 4 minutes.
def test_a_run_given_the_val_images_validates_on_them_and_reads_no_copy_of_its_own(
    twelve_word_dataset, tmp_path, monkeypatch
):
    """What the training choices do: their four runs share one decoded copy of the val images."""
    from wsl_tf import precision
    from wsl_tf.run_directory import restore_run
    from wsl_tf.train.trainer import val_batches

    reads = []
    original = precision.first_images
    monkeypatch.setattr(precision, "first_images", lambda *args: reads.append(args[1]) or original(*args))
    config = tiny_config(twelve_word_dataset, max_epochs=1, epoch_size=64)
    dataset = PreparedDataset(config.data.dir)
    shared = val_batches(config, dataset)
    history = train(config, str(tmp_path), log=lambda *_: None, validation=shared)["history"]
    list(shared)  # Held in memory: read again, it reads nothing.
    assert reads == ["val"]
    # As a validation that reads the images itself scores the trained model.
    assert history[0]["val_error"] == validate(restore_run(str(tmp_path)).model, config, dataset)["val_error"]


def test_a_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(twelve_word_dataset, tmp_path):
    """Its own run: a learning rate that blows the loss up."""
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
    """Its own run, logging every 3 steps and 2 steps a call: callbacks and TensorBoard see the windows'
    ends, 2, 3, 4, 6, 8 (checkpoints every 2, 4 steps an epoch), as log_window gives them."""
    ends = BatchEnds()
    config = tiny_config(twelve_word_dataset, log_every_steps=3, steps_per_loop=2)
    summary = train(config, str(tmp_path), callbacks=[ends], log=lambda *_: None)
    assert [step for step, _ in ends.steps] == [2, 3, 4, 6, 8]
    assert summary["step"] == 8 and all(np.isfinite(loss) for _, loss in ends.steps)
    logged = sorted(
        event.step
        for path in glob.glob(str(tmp_path / "tensorboard" / "*"))
        for event in tf.compat.v1.train.summary_iterator(path)
        for value in event.summary.value
        if value.tag == "train/loss"
    )
    assert logged == [2, 3, 4, 6, 8]


def test_the_runs_input_iterator_is_released_on_a_thread_of_its_own_at_the_end(
    twelve_word_dataset, tmp_path, monkeypatch
):
    """The trainer hands the distributed iterator over as the holder's only reference: once the release
    thread has run, the iterator is gone (its teardown ran there, not in train())."""
    released, release_in_background = [], training_run.release_in_background

    def release(holder):
        released.append((weakref.ref(holder[0]), type(holder[0]).__name__))
        thread = release_in_background(holder)
        released.append(thread)
        return thread

    monkeypatch.setattr(training_run, "release_in_background", release)
    summary = train(tiny_config(twelve_word_dataset), str(tmp_path), log=lambda *_: None)
    assert summary["step"] == 8
    (iterator, kind), thread = released
    assert "Iterator" in kind
    thread.join()
    gc.collect()
    assert iterator() is None


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c.model.update({"num_words": 500}), "model.num_words=500 exceeds the dataset's vocabulary"),
        (lambda c: c.data.update({"dir": "/nonexistent"}), "not a dataset directory"),
        (lambda c: c.input.update({"crop_size": 56}), "input.crop_size=56 differs from model.image_size=64"),
        (lambda c: c.optimizer.update({"name": "adam"}), "optimizer.name='adam'"),
        (
            lambda c: (c.optimizer.update({"name": "sgd"}), c.train.update({"steps_per_loop": 4})),
            "train.steps_per_loop=4 needs optimizer.name='easgd'",
        ),
    ],
)
def test_config_errors_fail_before_training(twelve_word_dataset, tmp_path, change, message):
    config = tiny_config(twelve_word_dataset)
    change(config)
    with pytest.raises(TrainingError, match=message):
        train(config, str(tmp_path / "run"), log=lambda *_: None)
    assert not os.path.exists(tmp_path / "run" / "checkpoints")


@pytest.mark.slow  # Trains runs of its own: kept out of the fast set's 4 minutes.
def test_a_run_opens_its_dataset_once_however_many_replicas_draw(twelve_word_dataset, tmp_path, monkeypatch):
    """Its own run over 3 replicas, counting the reads of the dataset's files from the start."""
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


@pytest.mark.slow  # Trains runs of its own: kept out of the fast set's 4 minutes.
def test_a_run_the_schedule_stopped_trains_nothing_when_rerun(twelve_word_dataset, tmp_path):
    """Its own run, with a minimum learning rate that stops it after one epoch."""
    config = tiny_config(twelve_word_dataset, max_epochs=5)
    config.schedule.min_lr = 0.06  # Above the learning rate: the schedule stops after the first epoch.
    first = train(config, str(tmp_path), log=lambda *_: None)
    assert (first["epoch"], first["step"], first["stopped_by_schedule"]) == (1, 4, True)
    said = []
    again = train(config, str(tmp_path), log=said.append)
    assert (again["epoch"], again["step"]) == (1, 4) and again["history"] == first["history"]
    assert any("nothing to train: the schedule stopped this run" in line for line in said)


def test_a_rerun_resumes_the_same_run_applying_and_logging_only_what_a_resume_may_change(twelve_word_dataset, tmp_path):
    config = tiny_config(twelve_word_dataset, max_epochs=1)
    first = train(config, str(tmp_path), log=lambda *_: None)
    saved = (tmp_path / "config.json").read_text()
    for change, value in (
        ("optimizer.learning_rate", 0.5),
        ("train.batch_size_per_replica", 16),
        ("model.width", 0.25),
    ):
        changed = tiny_config(twelve_word_dataset, max_epochs=2)  # A resumable change beside the refused one.
        section, key = change.split(".")
        changed[section][key] = value
        with pytest.raises(TrainingError) as refused:
            train(changed, str(tmp_path), log=lambda *_: None)
        assert f"{change}={value!r} (the run's: {config[section][key]!r})" in str(refused.value)
        assert "train.max_epochs" not in str(refused.value) and "use a new --workdir" in str(refused.value)
        assert (tmp_path / "config.json").read_text() == saved  # Refused before anything is written.
    said = []
    resumed = train(tiny_config(twelve_word_dataset, max_epochs=2, log_every_steps=2), str(tmp_path), log=said.append)
    assert "resuming with train.max_epochs=2 (the run's was 1)" in said
    assert f"resuming with train.log_every_steps=2 (the run's was {config.train.log_every_steps})" in said
    assert (resumed["epoch"], resumed["history"][0]) == (2, first["history"][0])
    assert json.loads((tmp_path / "config.json").read_text())["train"]["max_epochs"] == 2


def test_a_run_starts_with_a_summary_of_what_it_trains_and_a_warning_for_a_small_val_split(
    twelve_word_dataset, tmp_path
):
    said = []
    train(tiny_config(twelve_word_dataset, max_epochs=1), str(tmp_path), log=said.append)
    images = json.loads(open(os.path.join(twelve_word_dataset, "dataset.json")).read())["images"]
    summary = next(line for line in said if line.startswith("run "))
    assert summary.splitlines() == [
        f"run {tmp_path}",
        f"  dataset {twelve_word_dataset}: K = 12 of its 12 words; images train {images['train']}, val "
        f"{images['val']} ({images['val']} with a word), test {images['test']}",
        "  model alexnet at 64 px, softmax loss, easgd at learning rate 0.05",
        "  batch 16 = 8 per replica x 2 replicas (/cpu:0, /cpu:1); 4 steps per epoch of 64 images; 1 epochs "
        "(train.max_epochs)",
        "  export none (train.export=False)",
    ]
    assert images[
        "val"
    ] < 100 and f"wsl-train: warning: only {images['val']} val images have a dictionary word" in "\n".join(said)


def test_a_val_split_without_a_dictionary_word_fails_before_the_first_step(tmp_path):
    data = prepare_jsonl_dataset(
        tmp_path,
        30,
        ["red", "blue"],
        image_px=16,
        max_words=2,
        vocab_size=2,
        num_stopwords=0,
        image_size=64,
        num_shards=1,
        val_fraction=0.0,
        test_fraction=0.2,
    )
    config = tiny_config(data)
    config.model.num_words = 2
    with pytest.raises(TrainingError, match=r"the val split has no image with a dictionary word \(0 val images\)"):
        train(config, str(tmp_path / "run"), log=lambda *_: None)
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_of_other_shapes_is_a_config_mismatch_not_damage(twelve_word_dataset, tmp_path):
    config = tiny_config(twelve_word_dataset, max_epochs=1)
    train(config, str(tmp_path), log=lambda *_: None)
    (tmp_path / "config.json").unlink()  # No config to compare: the checkpoint itself tells.
    wider = tiny_config(twelve_word_dataset, max_epochs=2)
    wider.model.width = 0.25
    said = []
    with pytest.raises(
        TrainingError,
        match=r"ckpt-\d+ holds a model of other shapes than this config builds .*"
        r"use a new --workdir",
    ):
        train(wider, str(tmp_path), log=said.append)
    assert not any("skipped checkpoint" in line for line in said)


def test_one_vs_all_weights_count_this_datasets_train_images_not_the_reused_vocabulary(tmp_path):
    (tmp_path / "donor").mkdir()
    donor = prepare_jsonl_dataset(
        tmp_path / "donor",
        60,
        ["red", "blue", "green"],
        image_px=16,
        probabilities=[0.6, 0.3, 0.1],
        vocab_size=3,
        num_stopwords=0,
        image_size=16,
        num_shards=1,
    )
    (tmp_path / "mine").mkdir()
    mine = prepare_jsonl_dataset(
        tmp_path / "mine",
        40,
        ["red", "blue", "green"],
        image_px=16,
        probabilities=[0.1, 0.3, 0.6],
        vocab_size=3,
        num_stopwords=0,
        image_size=16,
        num_shards=2,
        vocab_path=os.path.join(donor, "vocab.tsv"),
    )
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
    np.testing.assert_allclose(loss.positive_rates, counts / images)  # Natural sampling: N_k / N.


def test_a_run_directory_of_another_vocabulary_is_refused(twelve_word_dataset, tmp_path):
    (tmp_path / "data.json").write_text(json.dumps({"dir": "elsewhere", "vocab_sha256": "0" * 64, "num_words": 12}))
    with pytest.raises(TrainingError, match="trained on another vocabulary"):
        train(tiny_config(twelve_word_dataset), str(tmp_path), log=lambda *_: None)


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "flipped bytes"])
def test_a_damaged_latest_checkpoint_is_named_and_the_run_resumes_from_the_one_before(
    twelve_word_dataset, tmp_path, damage
):
    """Its own run (1 epoch, checkpoints at steps 2 and 4): ckpt-4 damaged, the rerun retrains steps 3-4."""
    config = tiny_config(twelve_word_dataset, max_epochs=1)
    finished = train(config, str(tmp_path / "run"), log=lambda *_: None)
    (data,) = glob.glob(str(tmp_path / "run" / "checkpoints" / "ckpt-4.data-*"))
    content = bytearray(open(data, "rb").read())
    if damage == "truncated":
        content = content[: len(content) // 2]
    else:
        middle = len(content) // 2
        content[middle : middle + 64] = bytes(b ^ 0xFF for b in content[middle : middle + 64])
    open(data, "wb").write(bytes(content))
    (tmp_path / "run" / "summary.json").unlink()
    logged = []
    again = train(config, str(tmp_path / "run"), log=logged.append)
    skipped = [line for line in logged if line.startswith("skipped checkpoint")]
    assert len(skipped) == 1 and "ckpt-4: it does not read back" in skipped[0], logged
    assert any(line.startswith("resumed from") and line.split()[2].endswith("ckpt-2") for line in logged), logged
    assert (again["step"], again["epoch"], again["trained_steps"]) == (4, 1, 2)
    for metric in ("loss", "val_error", "precision_at_10"):
        assert again["history"][0][metric] == pytest.approx(finished["history"][0][metric], abs=1e-6), metric


@pytest.mark.slow
def test_a_damaged_train_shard_stops_training_with_one_line_naming_it_and_the_offset(twelve_word_dataset, tmp_path):
    """Its own copy of the dataset: the first bytes of every record of one train shard flipped."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(twelve_word_dataset, data)
    index = np.load(data / "train-index.npz")
    shard = sorted(data.glob("train-*.tfrecord"))[0]
    content = bytearray(shard.read_bytes())
    for offset in index["offset"][index["shard"] == 0]:
        content[offset : offset + 8] = bytes(b ^ 0xFF for b in content[offset : offset + 8])
    shard.write_bytes(bytes(content))
    config = tiny_config(str(data), max_epochs=1)
    with pytest.raises(TrainingError) as raised:
        train(config, str(tmp_path / "run"), log=lambda *_: None)
    message = str(raised.value)
    assert re.match(
        rf"{re.escape(str(shard))}: the record at byte 12 fails its checksum: this shard is damaged; "
        rf"training stopped at step 0, the last checkpoint kept \(none yet\)",
        message,
    ), message
    assert "\n" not in message


@pytest.mark.parametrize(
    "name, damage, message",
    [
        (
            "dataset.json",
            b'{"schema_version": 3, "shar',
            "{path}: damaged: not JSON (Unterminated string starting at: "
            "line 1 column 23 (char 22)); rerun wsl-prepare",
        ),
        ("dataset.json", b"[1, 2]", "{path}: damaged: a JSON list, not an object; rerun wsl-prepare"),
        ("vocab.tsv", b"cat\t12\ndog\n", "{path}:2: expected 'word<TAB>count', got 'dog'"),
        (
            "train-index.npz",
            b"PK\x03\x04 not a zip",
            "{path}: damaged train index (BadZipFile: File is not a zip file); rerun wsl-prepare",
        ),
        (
            "train-index.npz",
            "truncated",
            "{path}: damaged train index (BadZipFile: File is not a zip file); rerun wsl-prepare",
        ),
    ],
)
def test_a_damaged_dataset_file_is_one_line_naming_it(twelve_word_dataset, tmp_path, capsys, name, damage, message):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(twelve_word_dataset, data)
    target = data / name
    target.write_bytes(target.read_bytes()[:100] if damage == "truncated" else damage)
    code = run_command(
        train_command,
        f"--config={REPO}/configs/cpu_small.py",
        f"--workdir={tmp_path / 'run'}",
        f"--config.data.dir={data}",
        "--config.model.num_words=12",
    )
    assert code == 1
    assert capsys.readouterr().err.splitlines() == ["wsl-train: error: " + message.format(path=target)]


def test_a_train_index_whose_arrays_disagree_is_named(twelve_word_dataset, tmp_path):
    from wsl_tf.input.index import TrainIndex

    arrays = dict(np.load(os.path.join(twelve_word_dataset, "train-index.npz")))
    arrays["word_records"] = arrays["word_records"].copy()
    arrays["word_records"][0] = len(arrays["shard"]) + 5
    np.savez(tmp_path / "index.npz", **arrays)
    with pytest.raises(ValueError, match=r"index.npz: damaged train index \(a word record outside 0\.\.\d+\)"):
        TrainIndex.load(str(tmp_path / "index.npz"))


def test_a_checkpoint_the_state_file_does_not_list_is_removed_at_start_and_when_its_save_fails(tmp_path):
    """What a kill or a full disk mid-save leaves (TensorFlow's ckpt-N_temp/, a checkpoint's files without its entry
    in the state file, the state file's temporary copy) goes; the committed checkpoints stay."""
    from wsl_tf.train.trainer import _CheckpointWriter

    checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
    writer = _CheckpointWriter(checkpoint, str(tmp_path), keep=3, chief=True)
    writer.save(2)
    writer.save(4)
    committed = sorted(os.listdir(writer.directory))
    (tmp_path / "checkpoints" / "ckpt-6.data-00000-of-00001").write_bytes(b"half")
    (tmp_path / "checkpoints" / "ckpt-8_temp").mkdir()
    (tmp_path / "checkpoints" / "ckpt-8_temp" / "part-00000-of-00001.index").write_bytes(b"half")
    (tmp_path / "checkpoints" / "checkpoint.tmp0123456789abcdef").write_text("half")
    writer = _CheckpointWriter(checkpoint, str(tmp_path), keep=3, chief=True)
    assert sorted(os.listdir(writer.directory)) == committed

    def fills_the_disk(checkpoint_number):
        (tmp_path / "checkpoints" / f"ckpt-{checkpoint_number}_temp").mkdir()
        (tmp_path / "checkpoints" / f"ckpt-{checkpoint_number}.index").write_bytes(b"half")
        raise tf.errors.ResourceExhaustedError(None, None, "ckpt-6_temp/part; No space left on device")

    writer.manager.save = fills_the_disk
    with pytest.raises(tf.errors.ResourceExhaustedError):
        writer.save(6)
    assert sorted(os.listdir(writer.directory)) == committed
    assert writer.latest.endswith("ckpt-4")


NO_SPACE_LINE = (
    r"{program}: error: no space left on the device \({path}\S*; No space left on device\)\. Nothing "
    r"half-written is kept: free some space, then rerun the same command to go on from its last complete "
    r"step"
)


@pytest.mark.slow
def test_a_full_disk_at_a_checkpoint_an_export_and_an_evaluation_is_one_line_each_and_the_reruns_complete(
    twelve_word_dataset, tmp_path
):
    """A run directory on a real filesystem that fills up (a tmpfs in a private mount namespace): 64 KB free when
    wsl-train reaches its first checkpoint, when wsl-export writes and when wsl-eval writes; space back, reruns."""
    disk = tmp_path / "disk"
    run = disk / "run"
    train_ = [
        sys.executable,
        "-m",
        "wsl_tf.cli.train",
        f"--config={REPO}/configs/cpu_small.py",
        f"--workdir={run}",
        f"--config.data.dir={twelve_word_dataset}",
        "--config.model.num_words=12",
        "--config.train.max_epochs=1",
        "--config.train.devices=()",
        "--config.train.logical_cpus=2",
        "--config.train.checkpoint_every_steps=2",
    ]
    export = [sys.executable, "-m", "wsl_tf.cli.export", f"--workdir={run}", f"--output={disk / 'served'}"]
    evaluate = [
        sys.executable,
        "-m",
        "wsl_tf.cli.eval",
        f"--workdir={run}",
        "--experiments=word_prediction,pictures",
        "--test_images=60",
        "--baseline_train_images=200",
        "--class_network_steps=10",
        "--noprogress",
    ]
    full = 64 << 10
    results = run_on_small_disk(
        str(disk),
        256 << 20,
        [
            {"fill": full},
            {"run": train_},
            {"snapshot": str(tmp_path / "at_checkpoint")},
            {"unfill": True},
            {"run": train_},
            {"fill": full},
            {"run": export},
            {"snapshot": str(tmp_path / "at_export")},
            {"run": evaluate},
            {"snapshot": str(tmp_path / "at_eval")},
            {"unfill": True},
            {"run": export},
            {"run": evaluate},
            {"snapshot": str(tmp_path / "after")},
        ],
    )
    for index, program, path in [
        (1, "wsl-train", run / "checkpoints" / "ckpt-2_temp"),
        (6, "wsl-export", disk),
        (8, "wsl-eval", run / "eval"),
    ]:
        failed = results[index]
        assert failed["returncode"] == 1, (program, failed["stderr"][-2000:])
        said = [line for line in failed["stderr"].replace("\r", "\n").splitlines() if "error" in line.lower()]
        assert len(said) == 1 and "Traceback" not in failed["stderr"], (program, failed["stderr"][-2000:])
        assert re.fullmatch(NO_SPACE_LINE.format(program=program, path=re.escape(str(path))), said[0]), said[0]
    for index in (4, 11, 12):
        assert results[index]["returncode"] == 0, results[index]["stderr"][-2000:]

    at_checkpoint = tmp_path / "at_checkpoint" / "run"
    assert os.listdir(at_checkpoint / "checkpoints") == []  # ckpt-2's staging and files gone; nothing committed.
    assert not (at_checkpoint / "history.json").exists()
    at_export, at_eval = tmp_path / "at_export", tmp_path / "at_eval"
    assert sorted(os.listdir(at_export)) == ["run"]  # No served/ and no staging of it.
    assert (at_export / "run" / "export" / "export.json").exists()  # wsl-train's own export, untouched.
    assert not (at_eval / "run" / "eval" / "metrics.json").exists()
    for snapshot in (at_checkpoint, at_export, at_eval):
        assert fileio.temporaries_under(str(snapshot)) == []

    after = tmp_path / "after"
    assert json.loads((after / "run" / "summary.json").read_text())["step"] == 4
    assert json.loads((after / "served" / "export.json").read_text())["checkpoint"].endswith("ckpt-4")
    assert json.loads((after / "run" / "eval" / "metrics.json").read_text())["word_prediction"]["images"] > 0
    assert fileio.temporaries_under(str(after)) == []
