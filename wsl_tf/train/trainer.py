"""The training program: `train` is a short sequence of named steps over one `_Trainer`.

Not `model.fit` (Keras 3's fit is broken under MultiWorkerMirroredStrategy,
keras-team/keras#20585, and EASGD needs per-replica weights): a
`strategy.run` loop that still drives Keras callbacks (on_train_begin,
on_epoch_begin / end, on_train_batch_end, on_train_end).

A run directory (its layout: wsl_tf/run_directory.py) holds config.json, data.json (which
dataset and vocabulary it trains on), vocab.tsv (that vocabulary),
checkpoints/, tensorboard/, history.json (one entry per finished epoch, kept
across resumes) and summary.json (written at the end). Rerunning the same
command resumes from the last checkpoint: centre and every replica's
weights, momentum slots and dropout seed state, EASGD's exchange state,
learning rate and schedule state, epoch, step and the epoch's running loss;
the sampler resumes at position step x global batch, so the run ends where
an uninterrupted run would. Epochs are numbered from 1 in the log, history
and summary (Keras callbacks receive the 0-based index, as under `fit`).
Exporting the trained model is serving's job (wsl_tf/serving.py): wsl-train
and wsl-demo export each run they finish.
"""

import os
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from wsl_tf import fileio, records
from wsl_tf.errors import UserError
from wsl_tf.input import pipeline
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.input.reader import find_damaged_record
from wsl_tf.input.sampling import WordInclusion, word_inclusion
from wsl_tf.models import MultiClassLogisticLoss, OneVsAllLogisticLoss
from wsl_tf.precision import HeldOutBatches, NoLabelledImagesError, choose_prior_weight
from wsl_tf.run_directory import RunDirectory
from wsl_tf.train import config as config_lib
from wsl_tf.train import training_run
from wsl_tf.train.callbacks import HalveLROnValidationIncrease

# What collectives raise on the surviving workers when a peer dies (MultiWorkerMirroredStrategy's health
# check aborts them; a collective's own timeout gives DeadlineExceeded).
_PEER_FAILURES = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)


class TrainingError(UserError, RuntimeError):
    """Training cannot go on (bad config, bad data, a non-finite loss)."""


def train(
    config,
    workdir: str,
    callbacks=(),
    log=print,
    dataset: PreparedDataset | None = None,
    progress: bool = True,
    validation: HeldOutBatches | None = None,
) -> dict:
    """Train (or resume) the run `config` describes in `workdir`; returns the summary.

    dataset: the opened config.data.dir, if the caller has it (opened here otherwise).
    progress: show each epoch's progress bar. validation: val_batches(config, dataset), when the caller trains
    several runs on the same dataset (read here otherwise).
    """
    dataset = _checked_dataset(config, dataset)
    _check_val_split(dataset, log)
    if training_run.is_chief():  # Under MultiWorkerMirroredStrategy only the chief writes the run's files.
        _accept_changes(config, RunDirectory(workdir), log)
        _write_run_files(config, workdir, dataset)
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()
    trainer = _Trainer(config, workdir, dataset, log, progress, validation)
    trainer.restore()
    reason = trainer.nothing_left_to_train()
    if reason:
        log(f"nothing to train: {reason}")
        return trainer.end_of_run()
    trainer.epoch_loop(callbacks)
    return trainer.end_of_run()


def log_window(step: int, epoch_end: int, log_every: int, checkpoint_every: int) -> int:
    """How many steps run before the next fetch of the losses, starting after `step`.

    A window ends at the first of: the epoch's last step (`epoch_end`), a step
    a checkpoint is due at (a multiple of checkpoint_every) or a multiple of
    log_every. Windows end where an uninterrupted run's would, so a resumed
    run logs and checkpoints at the same steps.
    """
    return min(log_every - step % log_every, checkpoint_every - step % checkpoint_every, epoch_end - step)


def step_inclusion(config, dataset: PreparedDataset) -> WordInclusion:
    """Each word's chance of being among a drawn image's labels, a replica's batch and its step (exact)."""
    return word_inclusion(
        dataset.train_index,
        config.input.sampler,
        config.input.labels,
        config.model.num_words,
        config.train.batch_size_per_replica,
        config.head.negatives,
        config.head.negatives_by,
    )


def loss_function(config, dataset: PreparedDataset, inclusion: WordInclusion | None = None):
    """The config's loss; one-vs-all balances word k by p_k, the rate of its label under the run's sampler.

    Under natural sampling p_k = N_k / N, the paper's weights, N_k counted in
    the train index, not vocab.tsv: a dataset prepared with another
    dataset's vocabulary (`--vocab`) carries that dataset's counts.
    """
    if config.loss == "softmax":
        return MultiClassLogisticLoss()
    inclusion = inclusion or step_inclusion(config, dataset)
    images = dataset.train_index.num_records
    return OneVsAllLogisticLoss(np.clip(inclusion.label, 1.0 / images, 1.0 - 1.0 / images), config.one_vs_all_balance)


def validate(model, config, dataset: PreparedDataset, batches: HeldOutBatches | None = None) -> dict:
    """Validation error (1 - precision@1) and precision@10 of the centre model on the val split, under the
    natural ranking whose prior weight scores best there (which the model then keeps), and the raw scores'.
    batches: val_batches(config, dataset), when the caller validates more than once."""
    try:
        weight, results = choose_prior_weight(
            model,
            dataset,
            config.input,
            config.model.num_words,
            "val",
            config.eval.batch_size,
            config.eval.val_images,
            batches=batches,
        )
    except NoLabelledImagesError as error:
        raise TrainingError(str(error)) from None
    model.set_prior(prior_weight=weight)
    best, raw = results[weight], results[0.0]
    return {
        "val_error": 1.0 - best["precision_at_1"],
        "precision_at_10": best["precision_at_10"],
        "prior_weight": weight,
        "raw_val_error": 1.0 - raw["precision_at_1"],
        "raw_precision_at_10": raw["precision_at_10"],
    }


def val_batches(config, dataset: PreparedDataset) -> HeldOutBatches:
    """The val images validate scores, read once for every epoch when they fit in memory."""
    return HeldOutBatches(dataset, "val", config.input, config.eval.batch_size, config.eval.val_images)


# --- Steps of train ----------------------------------------------------------------------------------------


def _checked_dataset(config, dataset: PreparedDataset | None) -> PreparedDataset:
    """The opened dataset, the config checked against it: fail before any work, in one line."""
    if not config.data.dir:
        raise TrainingError("config.data.dir is empty: give the dataset directory wsl-prepare wrote")
    try:
        dataset = dataset or PreparedDataset(config.data.dir)
        config_lib.check(config, dataset.metadata)
        _ = dataset.vocabulary, dataset.train_index  # Read now: a damaged file is one line before any work.
    except ValueError as error:
        raise TrainingError(str(error)) from None
    return dataset


def labelled_val_images(dataset: PreparedDataset) -> int:
    """The val images with at least one dictionary word (wsl-prepare keeps val images without one, counted)."""
    return dataset.metadata["images"]["val"] - dataset.metadata.get("no_target_images", {}).get("val", 0)


def _check_val_split(dataset: PreparedDataset, log) -> None:
    """No val image with a dictionary word is an error before any step; a handful is a warning."""
    labelled = labelled_val_images(dataset)
    if labelled == 0:
        raise TrainingError(
            f"{dataset.directory}: the val split has no image with a dictionary word "
            f"({dataset.metadata['images']['val']} val images): validation after each epoch needs "
            f"some; prepare it again with a larger --val_fraction or more data"
        )
    if labelled < records.MIN_USEFUL_HELD_OUT_IMAGES:
        log(
            f"wsl-train: warning: only {labelled} val images have a dictionary word ({dataset.directory}): the "
            f"val error that halves the learning rate will move by chance (a larger --val_fraction gives more)"
        )


def start_summary(config, dataset: PreparedDataset, directory: RunDirectory, run, steps_per_epoch: int) -> str:
    """The block wsl-train prints before its first step: what it trains on, with what batch, for how long,
    and where the export goes."""
    images = dataset.metadata["images"]
    epochs = (
        f"{config.train.max_epochs} epochs (train.max_epochs)"
        if config.train.max_epochs
        else f"epochs until the learning rate falls below {config.schedule.min_lr:g} (train.max_epochs=0)"
    )
    devices = ", ".join(config.train.devices) if config.train.devices else "every device"
    export = directory.export if config.train.export else "none (train.export=False)"
    return "\n".join(
        [
            f"run {directory.path}",
            f"  dataset {dataset.directory}: K = {config.model.num_words:,} of its {dataset.vocab_size:,} words; "
            f"images train {images['train']:,}, val {images['val']:,} ({labelled_val_images(dataset):,} with a word), "
            f"test {images['test']:,}",
            f"  model {config.model.name} at {config.model.image_size} px, {config.loss} loss, "
            f"{config.optimizer.name} at learning rate {config.optimizer.learning_rate:g}",
            f"  batch {run.global_batch_size:,} = {config.train.batch_size_per_replica} per replica x {run.replicas} "
            f"replicas ({devices}); {steps_per_epoch:,} steps per epoch of {config.train.epoch_size:,} images; "
            f"{epochs}",
            f"  export {export}",
        ]
    )


def _accept_changes(config, run: RunDirectory, log) -> None:
    """A rerun into a run that has a checkpoint resumes the same run: the settings it may change
    (config_lib.RESUMABLE) are logged one line each; any other change stops it before anything is written."""
    if not run.exists() or run.latest_checkpoint() is None:
        return  # Nothing trained yet: the config is this run's first.
    changes = config_lib.config_changes(run.read_config(), config)
    refused = [(key, old, new) for key, old, new in changes if not config_lib.resumable(key)]
    if refused:
        listed = "; ".join(f"{key}={new!r} (the run's: {old!r})" for key, old, new in refused)
        raise TrainingError(
            f"{run.path} holds a run trained with another config: {listed}. Its checkpoints hold "
            f"that config's state; use a new --workdir, or rerun with the run's own values "
            f"({run.config_path})"
        )
    for key, old, new in changes:
        log(f"resuming with {key}={new!r} (the run's was {old!r})")


def _write_run_files(config, workdir: str, dataset: PreparedDataset) -> None:
    """data.json (refusing a run directory of another vocabulary), vocab.tsv and config.json."""
    run = RunDirectory(workdir)
    run.create()
    identity = {
        "dir": dataset.directory,
        "vocab_sha256": dataset.vocab_sha256,
        "vocab_size": dataset.vocab_size,
        "num_words": config.model.num_words,
    }
    previous = run.read_data()
    if previous is not None:
        if previous["vocab_sha256"] != identity["vocab_sha256"] or previous["num_words"] != identity["num_words"]:
            raise TrainingError(
                f"{workdir} holds a run trained on another vocabulary ({previous['dir']}, "
                f"K = {previous['num_words']}); use a new --workdir"
            )
    run.write_data(identity, dataset.vocabulary.to_tsv())
    run.write_config(config)


def _load_history(workdir: str, epochs_done: int) -> list:
    """The finished epochs' entries, up to the checkpoint's epoch (a crash may have written one more)."""
    return [entry for entry in RunDirectory(workdir).read_history() if entry["epoch"] <= epochs_done]


class _Trainer:
    """One call of `train`: the run, its schedule and checkpoints, and the loop's steps."""

    def __init__(
        self,
        config,
        workdir: str,
        dataset: PreparedDataset,
        log,
        progress: bool = True,
        validation: HeldOutBatches | None = None,
    ):
        self.config, self.workdir, self.dataset, self.log, self.progress = config, workdir, dataset, log, progress
        self.directory = RunDirectory(workdir)
        self.chief = training_run.is_chief()
        inclusion = step_inclusion(config, dataset)
        training_run.prepare_process(config)
        self.run = training_run.TrainingRun(config, loss_function(config, dataset, inclusion), inclusion=inclusion)
        self.run.centre.set_prior(log_prior=dataset.log_word_prior(config.model.num_words))
        log(f"word layer: {self.run.describe_head()}; each word's chance of a step {inclusion.how}")
        if config.train.epoch_size < self.run.global_batch_size:
            raise TrainingError(
                f"train.epoch_size={config.train.epoch_size} is less than one global batch "
                f"(train.batch_size_per_replica={config.train.batch_size_per_replica} x "
                f"{self.run.replicas} replicas)"
            )
        self.steps_per_epoch = config.train.epoch_size // self.run.global_batch_size
        log(start_summary(config, dataset, self.directory, self.run, self.steps_per_epoch))
        self.schedule = HalveLROnValidationIncrease(
            self.run.learning_rate,
            min_epochs_per_lr=config.schedule.min_epochs_per_lr,
            min_lr=config.schedule.min_lr,
            log=log,
        )
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.epoch_loss = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="epoch_loss_total")
        checkpoint = tf.train.Checkpoint(
            **{**self.schedule.state(), **self.run.checkpoint_items()}, epoch=self.epoch, epoch_loss=self.epoch_loss
        )
        self.checkpoints = _CheckpointWriter(checkpoint, workdir, config.train.keep_checkpoints, self.chief)
        self.history: list = []
        self.trained_steps = 0
        self.val_batches = val_batches(config, dataset) if validation is None else validation

    # --- Restore -------------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Resume from the newest readable checkpoint, or start the run fresh.

        A damaged checkpoint (truncated or corrupted by a crash or a full
        disk) is named in one line and the one before it is used; the run
        then retrains from there and overwrites the damaged one.
        """
        saved = list(reversed(self.checkpoints.manager.checkpoints))
        for path in saved:
            try:
                self.checkpoints.checkpoint.restore(path).assert_existing_objects_matched()
            except (tf.errors.OpError, ValueError, AssertionError, IndexError, KeyError) as error:
                if isinstance(error, ValueError) and "shape" in str(error):  # Read fine, holds another model.
                    raise TrainingError(
                        f"{path} holds a model of other shapes than this config builds "
                        f"({fileio.error_line(error)}): the run was trained with another config; "
                        f"use a new --workdir"
                    ) from None
                self.log(
                    f"skipped checkpoint {path}: it does not read back "
                    f"({type(error).__name__}: {fileio.error_line(error)})"
                )
                continue
            self.log(
                f"resumed from {path} (step {int(self.run.step)}, {int(self.epoch)} epochs done, "
                f"learning rate {float(self.run.learning_rate):g})"
            )
            break
        else:
            if saved:
                raise TrainingError(
                    f"no checkpoint in {os.path.dirname(saved[0])} reads back ({len(saved)} tried); "
                    "move them away to start the run afresh"
                )
            self.run.start()
        self.history = _load_history(self.workdir, int(self.epoch))

    def nothing_left_to_train(self) -> str | None:
        """Why a restored run is already finished, or None."""
        epochs, max_epochs = int(self.epoch), self.config.train.max_epochs
        if self.checkpoints.latest and float(self.run.learning_rate) < self.config.schedule.min_lr:
            return (
                f"the schedule stopped this run (learning rate {float(self.run.learning_rate):g} < "
                f"{self.config.schedule.min_lr:g}) after {epochs} epochs"
            )
        if max_epochs and epochs >= max_epochs:
            return f"{epochs} epochs done (train.max_epochs={max_epochs})"
        return None

    # --- Epoch loop ----------------------------------------------------------------------------------------
    def epoch_loop(self, callbacks) -> None:
        """Epochs until train.max_epochs or the schedule stops the run; callbacks as under fit."""
        config, run = self.config, self.run
        start = int(run.step) * run.global_batch_size

        def dataset_fn(context):
            return pipeline.train_dataset(
                self.dataset,
                config.input,
                context.get_per_replica_batch_size(run.global_batch_size),
                start=start,
                input_context=context,
                num_words=config.model.num_words,
                negatives=config.head.negatives,
                negatives_by=config.head.negatives_by,
            )

        # The iterator's only reference: released on its own thread at the end (release_in_background).
        held = [run.distribute(dataset_fn)]
        self.writer = (
            tf.summary.create_file_writer(self.directory.tensorboard) if self.chief else tf.summary.create_noop_writer()
        )
        callback_list = keras.callbacks.CallbackList([self.schedule, *callbacks], model=run.centre)
        run.centre.stop_training = False
        callback_list.on_train_begin()
        try:
            while not run.centre.stop_training and not (
                config.train.max_epochs and int(self.epoch) >= config.train.max_epochs
            ):
                callback_list.on_epoch_begin(int(self.epoch))
                images_per_s = self._epoch_steps(held[0], callback_list)
                self._end_of_epoch(callback_list, images_per_s)
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError, UnicodeDecodeError):  # A message quoting
            # the damaged bytes fails to decode as UTF-8 itself.
            damaged = find_damaged_record(self._shards("train", "val"))
            if damaged is None:
                raise
            raise TrainingError(
                f"{damaged[0]}: {damaged[1]}: this shard is damaged; training stopped at step "
                f"{int(run.step)}, the last checkpoint kept ({self.checkpoints.latest or 'none yet'})"
                f". Prepare the dataset again (wsl-prepare), then rerun to resume"
            ) from None
        except _PEER_FAILURES as error:
            if training_run.cluster_task() is None:
                raise
            raise TrainingError(
                f"a worker of the cluster stopped answering ({type(error).__name__}: "
                f"{fileio.error_line(error)}); this worker stopped too. Rerun every "
                f"worker's command to resume from the last checkpoint "
                f"({self.checkpoints.latest or 'none yet'})"
            ) from None
        finally:
            training_run.release_in_background(held)
        callback_list.on_train_end()
        self.writer.flush()

    def _shards(self, *splits) -> list[str]:
        """The shard paths of those of `splits` the dataset has."""
        paths = []
        for split in splits:
            try:
                paths += self.dataset.shards(split)
            except ValueError:
                continue
        return paths

    def _epoch_steps(self, batches, callback_list) -> float:
        """The rest of this epoch's steps, one log window at a time; the loop's images/s."""
        step = int(self.run.step)
        epoch_end = (int(self.epoch) + 1) * self.steps_per_epoch
        total = self.config.train.max_epochs or "?"
        seconds, steps = 0.0, 0
        with tqdm(
            total=self.steps_per_epoch,
            initial=step - int(self.epoch) * self.steps_per_epoch,
            desc=f"epoch {int(self.epoch) + 1}/{total}",
            unit="step",
            disable=not self.progress,
        ) as bar:
            while step < epoch_end:
                window = log_window(
                    step, epoch_end, self.config.train.log_every_steps, self.config.train.checkpoint_every_steps
                )
                started = time.perf_counter()
                losses = self.run.run_steps(batches, window).numpy().astype(np.float64)
                seconds += time.perf_counter() - started
                steps, step = steps + window, step + window
                self._log_window(
                    losses, step, steps * self.run.global_batch_size / max(seconds, 1e-9), bar, callback_list
                )
        return steps * self.run.global_batch_size / max(seconds, 1e-9)

    def _log_window(self, losses: np.ndarray, step: int, images_per_s: float, bar, callback_list) -> None:
        """After a window ending at `step`: the NaN check, the bar, callbacks, TensorBoard, a due checkpoint."""
        first = step - len(losses) + 1
        bad = np.flatnonzero(~np.isfinite(losses))
        if bad.size:
            raise TrainingError(
                f"the loss is {losses[bad[0]]} at step {first + int(bad[0])} (steps {first}-{step} "
                f"ran in one log window); stopped, keeping the last good checkpoint "
                f"({self.checkpoints.latest or 'none yet'})"
            )
        self.trained_steps += len(losses)
        self.epoch_loss.assign_add(float(losses.sum()))
        loss = float(losses.mean())
        bar.set_postfix(loss=f"{loss:.3f}", images_per_s=f"{images_per_s:.0f}")
        bar.update(len(losses))
        callback_list.on_train_batch_end(step, {"loss": loss})
        with self.writer.as_default(step=step):
            tf.summary.scalar("train/loss", loss)
            tf.summary.scalar("train/learning_rate", float(self.run.learning_rate))
            tf.summary.scalar("train/images_per_s", images_per_s)
        if step % self.config.train.checkpoint_every_steps == 0 and step % self.steps_per_epoch:
            self._save()  # An epoch's last step is saved by _end_of_epoch, with the epoch counted.

    def _end_of_epoch(self, callback_list, images_per_s: float) -> None:
        """Validate the centre, log, let the schedule act, append to history.json and checkpoint."""
        self.run.synchronize()
        logs = {
            "loss": float(self.epoch_loss) / self.steps_per_epoch,
            **validate(self.run.centre, self.config, self.dataset, self.val_batches),
        }
        with self.writer.as_default(step=int(self.run.step)):
            tf.summary.scalar("val/error", logs["val_error"])
            tf.summary.scalar("val/precision_at_10", logs["precision_at_10"])
        self.log(
            f"epoch {int(self.epoch) + 1}/{self.config.train.max_epochs or '?'}: loss {logs['loss']:.4f}, "
            f"val error {logs['val_error']:.4f}, precision@10 {logs['precision_at_10']:.4f} (prior weight "
            f"{logs['prior_weight']:g}; raw scores {logs['raw_val_error']:.4f}, "
            f"{logs['raw_precision_at_10']:.4f}), learning rate {float(self.run.learning_rate):g}"
        )
        callback_list.on_epoch_end(int(self.epoch), logs)
        self.epoch.assign_add(1)
        self.epoch_loss.assign(0.0)
        self.history.append(
            {
                "epoch": int(self.epoch),
                **logs,
                "learning_rate": float(self.run.learning_rate),
                "train_images_per_s": round(images_per_s, 1),
            }
        )
        if self.chief:
            self.directory.write_history(self.history)
        self._save()

    def _save(self) -> None:
        self.run.synchronize()
        self.checkpoints.save(int(self.run.step))

    # --- End of run ----------------------------------------------------------------------------------------
    def end_of_run(self) -> dict:
        """The summary (written by the chief); each worker of a cluster logs its centre's fingerprint."""
        if training_run.cluster_task() is not None and self.trained_steps:
            self.run.synchronize()
            self.log(
                f"worker {'/'.join(map(str, training_run.cluster_task()))}: centre weights sha256 "
                f"{self.run.centre_fingerprint()}"
            )
        summary = {
            "step": int(self.run.step),
            "epoch": int(self.epoch),
            "learning_rate": float(self.run.learning_rate),
            "stopped_by_schedule": float(self.run.learning_rate) < self.config.schedule.min_lr,
            "trained_steps": self.trained_steps,
            "history": self.history,
        }
        if self.chief:
            self.directory.write_summary(summary)
        return summary


class _CheckpointWriter:
    """Saves as the TensorFlow multi-worker convention has it: every worker saves (saving may read
    variables collectively), the chief into WORKDIR/checkpoints, the others into a temporary directory
    of their own that is removed at once. Every worker restores from the chief's directory."""

    def __init__(self, checkpoint, workdir: str, keep: int, chief: bool):
        self.checkpoint, self.chief = checkpoint, chief
        run = RunDirectory(workdir)
        self.directory = run.checkpoints
        self.manager = tf.train.CheckpointManager(checkpoint, self.directory, max_to_keep=keep)
        task = training_run.cluster_task() or ("worker", 0)
        self.scratch = run.worker_scratch(task)
        if chief:
            self.remove_uncommitted()

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def save(self, step: int) -> None:
        """Checkpoint `step`; each step is saved once (rewriting a checkpoint's files in place corrupts them on
        filesystems such as ram://, which append to a rewritten file)."""
        if not self.chief:
            self.checkpoint.write(os.path.join(self.scratch, "ckpt"))
            tf.io.gfile.rmtree(self.scratch)
            return
        try:
            self.manager.save(checkpoint_number=step)
        except BaseException:  # A full disk or an interrupt mid-save: nothing half-written stays.
            self.remove_uncommitted()
            raise

    def remove_uncommitted(self) -> None:
        """Remove what a save that never reached the manager's state file left: a checkpoint's files it does not
        list, TensorFlow's ckpt-N_temp/ staging and the state file's own temporary copies."""
        if not tf.io.gfile.isdir(self.directory):
            return
        listed = {os.path.basename(path) for path in self.manager.checkpoints}
        for name in tf.io.gfile.listdir(self.directory):
            name = name.rstrip("/")
            path = os.path.join(self.directory, name)
            if fileio.is_checkpoint_staging(name) or (name.startswith("ckpt-") and name.split(".")[0] not in listed):
                (tf.io.gfile.rmtree if tf.io.gfile.isdir(path) else tf.io.gfile.remove)(path)
