"""The training program: one linear function, in named sections.

Not `model.fit` (Keras 3's fit is broken under MultiWorkerMirroredStrategy,
keras-team/keras#20585, and EASGD needs per-replica weights): a
`strategy.run` loop that still drives Keras callbacks (on_train_begin,
on_epoch_begin / end, on_train_batch_end, on_train_end).

A run directory holds config.json (the resolved config), data.json (which
dataset and vocabulary it trains on), vocab.tsv (that vocabulary),
checkpoints/, tensorboard/, history.json (one entry per finished epoch, kept
across resumes), export/ (model.keras and saved_model/, see
wsl_tf/serving.py; written at the end unless train.export is off) and
summary.json (written last). Rerunning the same command resumes from
the last checkpoint: centre and every replica's weights, momentum slots and
dropout seed state, EASGD's exchange state, learning rate and schedule
state, epoch, step and the epoch's running loss; the sampler resumes at
position step x global batch, so the run ends where an uninterrupted run
would. Epochs are numbered from 1 in the log, history and summary (Keras
callbacks receive the 0-based index, as under `fit`).
"""

import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from wsl_tf import fileio, run_directory, serving
from wsl_tf.dataset import PreparedDataset
from wsl_tf.eval.word_prediction import NoLabelledImagesError, evaluate, model_scores
from wsl_tf.input import pipeline
from wsl_tf.models import MultiClassLogisticLoss, OneVsAllLogisticLoss
from wsl_tf.train import config as config_lib
from wsl_tf.train.callbacks import HalveLROnValidationIncrease
from wsl_tf.train import training_run


# What collectives raise on the surviving workers when a peer dies (MultiWorkerMirroredStrategy's health
# check aborts them; a collective's own timeout gives DeadlineExceeded).
_PEER_FAILURES = (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.CancelledError,
                  tf.errors.AbortedError)


class TrainingError(RuntimeError):
    """Training cannot go on (bad config, bad data, a non-finite loss)."""


def _data_identity(config, dataset: PreparedDataset) -> dict:
    return {"dir": dataset.directory, "vocab_sha256": dataset.vocab_sha256, "vocab_size": dataset.vocab_size,
            "num_words": config.model.num_words}


def _check_run_directory(workdir: str, identity: dict) -> None:
    path = os.path.join(workdir, "data.json")
    if tf.io.gfile.exists(path):
        previous = json.loads(fileio.read_text(path))
        if previous["vocab_sha256"] != identity["vocab_sha256"] or previous["num_words"] != identity["num_words"]:
            raise TrainingError(f"{workdir} holds a run trained on another vocabulary ({previous['dir']}, "
                                f"K = {previous['num_words']}); use a new --workdir")
    fileio.write_text_atomic(path, json.dumps(identity, indent=2))


def _export(run, config, dataset: PreparedDataset, workdir: str, log) -> None:
    """WORKDIR/export: the centre as model.keras and a SavedModel (wsl_tf/serving.py)."""
    if not config.train.export:
        return
    path = serving.export(run.centre, dataset.vocabulary.words, os.path.join(workdir, "export"),
                          config.input.resize_size, config.input.crop_size,
                          info={"run": os.path.abspath(workdir), "step": int(run.step)})
    log(f"exported {path} (model.keras, saved_model/)")


def loss_function(config, dataset: PreparedDataset):
    """The config's loss; one-vs-all weighs word k by N_k, its images in this dataset's train split.

    N_k comes from the train index, not vocab.tsv: a dataset prepared with
    another dataset's vocabulary (`--vocab`) carries that dataset's counts.
    """
    if config.loss == "softmax":
        return MultiClassLogisticLoss()
    images = dataset.train_index.num_records
    counts = dataset.train_word_counts()[: config.model.num_words]
    return OneVsAllLogisticLoss(np.clip(counts, 1, images - 1), images)


def _load_history(workdir: str, epochs_done: int) -> list:
    """The finished epochs' entries, up to the checkpoint's epoch (a crash may have written one more)."""
    path = os.path.join(workdir, "history.json")
    if not tf.io.gfile.exists(path):
        return []
    return [entry for entry in json.loads(fileio.read_text(path)) if entry["epoch"] <= epochs_done]


def _summary(run, epoch, schedule, history, workdir, chief=True) -> dict:
    summary = {"step": int(run.step), "epoch": int(epoch), "learning_rate": float(run.learning_rate),
               "stopped_by_schedule": float(run.learning_rate) < schedule.min_lr, "history": history}
    if chief:
        fileio.write_text_atomic(os.path.join(workdir, "summary.json"), json.dumps(summary, indent=2))
    return summary


def _finish(run, config, dataset, epoch, schedule, history, workdir, log, trained=False, chief=True) -> dict:
    """(Chief) export the model (again only if this call trained, or no export exists) and write the summary."""
    if chief and (trained or not tf.io.gfile.exists(os.path.join(workdir, "export", serving.INFO_FILE))):
        _export(run, config, dataset, workdir, log)
    return _summary(run, epoch, schedule, history, workdir, chief)


class _CheckpointWriter:
    """Saves as the TensorFlow multi-worker convention has it: every worker saves (saving may read
    variables collectively), the chief into WORKDIR/checkpoints, the others into a temporary directory
    of their own that is removed at once. Every worker restores from the chief's directory."""

    def __init__(self, checkpoint, workdir: str, keep: int, chief: bool):
        self.checkpoint, self.chief = checkpoint, chief
        self.manager = tf.train.CheckpointManager(checkpoint, os.path.join(workdir, "checkpoints"), max_to_keep=keep)
        task = training_run.cluster_task() or ("worker", 0)
        self.scratch = os.path.join(workdir, f"workertemp_{task[0]}_{task[1]}")

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def save(self, step: int) -> None:
        if self.chief:
            self.manager.save(checkpoint_number=step)
            return
        self.checkpoint.write(os.path.join(self.scratch, "ckpt"))
        tf.io.gfile.rmtree(self.scratch)


def validate(model, config, dataset: PreparedDataset) -> dict:
    """Validation error (1 - precision@1) and precision@10 of the centre model on the val split."""
    try:
        scores = evaluate(model_scores(model), dataset, config.input, config.model.num_words, "val",
                          config.eval.batch_size, config.eval.val_images)
    except NoLabelledImagesError as error:
        raise TrainingError(str(error)) from None
    return {"val_error": 1.0 - scores["precision_at_1"], "precision_at_10": scores["precision_at_10"]}


def train(config, workdir: str, callbacks=(), log=print, dataset: PreparedDataset | None = None) -> dict:
    """Train (or resume) the run `config` describes in `workdir`; returns the summary.

    dataset: the opened config.data.dir, if the caller has it (opened here otherwise).
    """
    # --- Config and data: fail before any work -----------------------------
    if not config.data.dir:
        raise TrainingError("config.data.dir is empty: give the dataset directory wsl-prepare wrote")
    try:
        dataset = dataset or PreparedDataset(config.data.dir)
        config_lib.check(config, dataset.metadata)
        identity = _data_identity(config, dataset)
    except ValueError as error:
        raise TrainingError(str(error)) from None
    chief = training_run.is_chief()  # Under MultiWorkerMirroredStrategy only the chief writes the run's files.
    if chief:
        tf.io.gfile.makedirs(workdir)
        _check_run_directory(workdir, identity)
        fileio.write_text_atomic(os.path.join(workdir, run_directory.VOCAB_FILE), dataset.vocabulary.to_tsv())
        fileio.write_text_atomic(os.path.join(workdir, "config.json"), config.to_json_best_effort(indent=2))
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()

    # --- Models, optimizer, loss, schedule -------------------------------------
    run = training_run.TrainingRun(config, loss_function(config, dataset))
    if config.train.epoch_size < run.global_batch_size:
        raise TrainingError(f"train.epoch_size={config.train.epoch_size} is less than one global batch "
                            f"(train.batch_size_per_replica={config.train.batch_size_per_replica} x "
                            f"{run.replicas} replicas)")
    schedule = HalveLROnValidationIncrease(run.learning_rate, min_epochs_per_lr=config.schedule.min_epochs_per_lr,
                                           min_lr=config.schedule.min_lr, log=log)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    epoch_loss = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="epoch_loss_total")

    # --- Checkpoints -----------------------------------------------------------
    checkpoint = tf.train.Checkpoint(**{**schedule.state(), **run.checkpoint_items()}, epoch=epoch,
                                     epoch_loss=epoch_loss)
    checkpoints = _CheckpointWriter(checkpoint, workdir, config.train.keep_checkpoints, chief)

    def save():
        run.synchronize()
        checkpoints.save(int(run.step))

    if checkpoints.latest:
        checkpoint.restore(checkpoints.latest).assert_existing_objects_matched()
        log(f"resumed from {checkpoints.latest} (step {int(run.step)}, {int(epoch)} epochs done, "
            f"learning rate {float(run.learning_rate):g})")
    else:
        run.start()
    history = _load_history(workdir, int(epoch))
    if checkpoints.latest and float(run.learning_rate) < config.schedule.min_lr:
        log(f"nothing to train: the schedule stopped this run (learning rate {float(run.learning_rate):g} < "
            f"{config.schedule.min_lr:g}) after {int(epoch)} epochs")
        return _finish(run, config, dataset, epoch, schedule, history, workdir, log, chief=chief)
    if config.train.max_epochs and int(epoch) >= config.train.max_epochs:
        log(f"nothing to train: {int(epoch)} epochs done (train.max_epochs={config.train.max_epochs})")
        return _finish(run, config, dataset, epoch, schedule, history, workdir, log, chief=chief)

    # --- Data -----------------------------------------------------------------
    global_batch = run.global_batch_size
    start = int(run.step) * global_batch

    def dataset_fn(context):
        return pipeline.train_dataset(dataset, config.input, context.get_per_replica_batch_size(global_batch),
                                      start=start, input_context=context, num_words=config.model.num_words)

    batches = run.distribute(dataset_fn)

    # --- Loop -----------------------------------------------------------------
    steps_per_epoch = config.train.epoch_size // global_batch
    log_every = config.train.get("log_every_steps", 1)
    checkpoint_every = config.train.checkpoint_every_steps
    total_epochs = config.train.max_epochs or "?"
    writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard")) if chief else \
        tf.summary.create_noop_writer()
    callback_list = keras.callbacks.CallbackList([schedule, *callbacks], model=run.centre)
    run.centre.stop_training = False
    callback_list.on_train_begin()
    try:
        while not run.centre.stop_training and not (config.train.max_epochs and int(epoch) >= config.train.max_epochs):
            callback_list.on_epoch_begin(int(epoch))
            step = int(run.step)
            first = step - int(epoch) * steps_per_epoch
            bar = tqdm(total=steps_per_epoch, initial=first, desc=f"epoch {int(epoch) + 1}/{total_epochs}",
                       unit="step")
            seconds, steps = 0.0, 0
            while step < (int(epoch) + 1) * steps_per_epoch:
                # One log window: ends at the epoch's end, a checkpoint or log_every_steps, whichever is first.
                window = min(log_every - step % log_every, checkpoint_every - step % checkpoint_every,
                             (int(epoch) + 1) * steps_per_epoch - step)
                started = time.perf_counter()
                losses = run.run_steps(batches, window).numpy().astype(np.float64)
                seconds += time.perf_counter() - started
                steps += window
                step += window
                bad = np.flatnonzero(~np.isfinite(losses))
                if bad.size:
                    bar.close()
                    first_bad = step - window + int(bad[0]) + 1
                    raise TrainingError(f"the loss is {losses[bad[0]]} at step {first_bad} (steps {step - window + 1}-"
                                        f"{step} ran in one log window); stopped, keeping the last good checkpoint "
                                        f"({checkpoints.latest or 'none yet'})")
                epoch_loss.assign_add(float(losses.sum()))
                loss = float(losses.mean())
                images_per_s = steps * global_batch / max(seconds, 1e-9)
                bar.set_postfix(loss=f"{loss:.3f}", images_per_s=f"{images_per_s:.0f}")
                bar.update(window)
                callback_list.on_train_batch_end(step, {"loss": loss})
                with writer.as_default(step=step):
                    tf.summary.scalar("train/loss", loss)
                    tf.summary.scalar("train/learning_rate", float(run.learning_rate))
                    tf.summary.scalar("train/images_per_s", images_per_s)
                if step % checkpoint_every == 0:
                    save()
            bar.close()
            run.synchronize()
            logs = {"loss": float(epoch_loss) / steps_per_epoch, **validate(run.centre, config, dataset)}
            with writer.as_default(step=int(run.step)):
                tf.summary.scalar("val/error", logs["val_error"])
                tf.summary.scalar("val/precision_at_10", logs["precision_at_10"])
            log(f"epoch {int(epoch) + 1}/{total_epochs}: loss {logs['loss']:.4f}, val error {logs['val_error']:.4f}, "
                f"precision@10 {logs['precision_at_10']:.4f}, learning rate {float(run.learning_rate):g}")
            callback_list.on_epoch_end(int(epoch), logs)
            epoch.assign_add(1)
            epoch_loss.assign(0.0)
            history.append({"epoch": int(epoch), **logs, "learning_rate": float(run.learning_rate),
                            "train_images_per_s": round(steps * global_batch / max(seconds, 1e-9), 1)})
            if chief:
                fileio.write_text_atomic(os.path.join(workdir, "history.json"), json.dumps(history, indent=2))
            save()
    except _PEER_FAILURES as error:
        if training_run.cluster_task() is None:
            raise
        raise TrainingError(f"a worker of the cluster stopped answering ({type(error).__name__}: "
                            f"{str(error).splitlines()[0][:200]}); this worker stopped too. Rerun every worker's "
                            f"command to resume from the last checkpoint ({checkpoints.latest or 'none yet'})") from None
    callback_list.on_train_end()
    writer.flush()
    if training_run.cluster_task() is not None:
        run.synchronize()
        log(f"worker {'/'.join(map(str, training_run.cluster_task()))}: centre weights sha256 "
            f"{run.centre_fingerprint()}")
    return _finish(run, config, dataset, epoch, schedule, history, workdir, log, trained=True, chief=chief)
