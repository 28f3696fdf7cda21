"""The training program: one linear function, in named sections.

Not `model.fit` (Keras 3's fit is broken under MultiWorkerMirroredStrategy,
keras-team/keras#20585, and EASGD needs per-replica weights): a
`strategy.run` loop that still drives Keras callbacks (on_train_begin,
on_epoch_begin / end, on_train_batch_end, on_train_end).

A run directory holds config.json (the resolved config), data.json (which
dataset and vocabulary it trains on), checkpoints/, tensorboard/ and
summary.json (written at the end). Rerunning the same command resumes from
the last checkpoint: centre and local weights, momentum slots, learning rate
and schedule state, epoch and step; the sampler resumes at position
step x batch size, so the run ends where an uninterrupted run would.
"""

import hashlib
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from wsl_tf import fileio, records
from wsl_tf.eval.metrics import precision_at_k
from wsl_tf.input import pipeline
from wsl_tf.models import MultiClassLogisticLoss, OneVsAllLogisticLoss, build_model, in_batch_targets
from wsl_tf.train import config as config_lib
from wsl_tf.train.callbacks import HalveLROnValidationIncrease
from wsl_tf.train.easgd import EASGD, local_variables
from wsl_tf.train.optimizers import SparseMomentumSGD
from wsl_tf.vocab import Vocabulary


class TrainingError(RuntimeError):
    """Training cannot go on (bad config, bad data, a non-finite loss)."""


def split_cpu(logical_cpus: int) -> None:
    """On a machine without GPUs, present the CPU as `logical_cpus` devices (for EASGD replicas).

    Only possible before TensorFlow initialises its devices; afterwards the
    devices already configured are used as they are.
    """
    if logical_cpus <= 1 or tf.config.list_physical_devices("GPU"):
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    except RuntimeError:
        pass  # Already initialised (a test process, a notebook): keep its devices.


def make_strategy(devices) -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy when TF_CONFIG names a cluster, else MirroredStrategy."""
    if json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.MirroredStrategy(list(devices) or None)


def _data_identity(config, metadata) -> dict:
    vocab_text = fileio.read_text(os.path.join(config.data.dir, records.VOCAB_FILE))
    return {"dir": config.data.dir, "vocab_sha256": hashlib.sha256(vocab_text.encode()).hexdigest(),
            "vocab_size": metadata["vocab_size"], "num_words": config.model.num_words}


def _check_run_directory(workdir: str, identity: dict) -> None:
    path = os.path.join(workdir, "data.json")
    if tf.io.gfile.exists(path):
        previous = json.loads(fileio.read_text(path))
        if previous["vocab_sha256"] != identity["vocab_sha256"] or previous["num_words"] != identity["num_words"]:
            raise TrainingError(f"{workdir} holds a run trained on another vocabulary ({previous['dir']}, "
                                f"K = {previous['num_words']}); use a new --workdir")
    fileio.write_text_atomic(path, json.dumps(identity, indent=2))


def _loss_function(config, metadata):
    if config.loss == "softmax":
        return MultiClassLogisticLoss()
    vocab = Vocabulary.load(os.path.join(config.data.dir, records.VOCAB_FILE))
    counts = np.asarray(vocab.counts[: config.model.num_words])
    return OneVsAllLogisticLoss(np.clip(counts, 1, metadata["images"]["train"] - 1), metadata["images"]["train"])


def evaluate(model, config, num_words: int) -> dict:
    """Validation error (1 - precision@1) and precision@10 of the centre model on the val split."""
    totals = {1: 0.0, 10: 0.0}
    count, seen = 0.0, 0
    dataset = pipeline.eval_dataset(config.data.dir, "val", config.input, config.eval.batch_size)
    for batch in dataset:
        if seen >= config.eval.val_images:
            break
        labels = tf.where(batch["labels"] < num_words, batch["labels"], -1)
        scores = model(batch["images"], training=False)
        for k in totals:
            total, n = precision_at_k(scores, labels, min(k, num_words))
            totals[k] += float(total)
        count += float(n)
        seen += int(tf.shape(batch["images"])[0])
    if count == 0:
        raise TrainingError(f"{config.data.dir}: the val split has no image with a dictionary word")
    return {"val_error": 1.0 - totals[1] / count, "precision_at_10": totals[10] / count}


def train(config, workdir: str, callbacks=(), log=print) -> dict:
    """Train (or resume) the run `config` describes in `workdir`; returns the summary."""
    # --- Config and data: fail before any work -----------------------------
    if not config.data.dir:
        raise TrainingError("config.data.dir is empty: give the dataset directory wsl-prepare wrote")
    try:
        metadata = records.read_metadata(config.data.dir)
        config_lib.check(config, metadata)
    except ValueError as error:
        raise TrainingError(str(error)) from None
    tf.io.gfile.makedirs(workdir)
    _check_run_directory(workdir, _data_identity(config, metadata))
    fileio.write_text_atomic(os.path.join(workdir, "config.json"), config.to_json_best_effort(indent=2))
    keras.utils.set_random_seed(config.seed)
    if config.train.deterministic:
        tf.config.experimental.enable_op_determinism()

    # --- Models, optimizer, loss ---------------------------------------------
    split_cpu(config.train.get("logical_cpus", 0))
    strategy = make_strategy(config.train.devices)
    replicas = strategy.num_replicas_in_sync
    easgd_mode = config.optimizer.name == "easgd"
    opt = config.optimizer
    learning_rate = tf.Variable(opt.learning_rate, dtype=tf.float64, trainable=False, name="learning_rate")
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    with strategy.scope():
        centre = build_model(config.model)
        if easgd_mode:
            with local_variables():
                model = build_model(config.model)
            easgd = EASGD(strategy, model.trainable_variables, centre.trainable_variables, learning_rate,
                          momentum=opt.momentum, nesterov=opt.nesterov, weight_decay=opt.weight_decay,
                          tau=opt.tau, beta=opt.beta)
        else:
            model = centre
            optimizer = SparseMomentumSGD(opt.learning_rate, momentum=opt.momentum, nesterov=opt.nesterov,
                                          weight_decay=opt.weight_decay)
            optimizer.build(model.trainable_variables)
    loss_fn = _loss_function(config, metadata)
    schedule = HalveLROnValidationIncrease(learning_rate, min_epochs_per_lr=config.schedule.min_epochs_per_lr,
                                           min_lr=config.schedule.min_lr, log=log)

    # --- Checkpoints -----------------------------------------------------------
    state = {"centre": centre, "step": step, "epoch": epoch, **schedule.state()}
    if easgd_mode:
        per_replica = [v.value for v in model.trainable_variables] + list(easgd.slots)
        state["local_copies"] = [copy for variable in per_replica for copy in variable.values]
    else:
        state["optimizer"] = optimizer
    checkpoint = tf.train.Checkpoint(**state)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(workdir, "checkpoints"),
                                         max_to_keep=config.train.keep_checkpoints)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        log(f"resumed from {manager.latest_checkpoint} (step {int(step)}, epoch {int(epoch)}, "
            f"learning rate {float(learning_rate):g})")
    elif easgd_mode:
        easgd.set_locals_to_centre()

    # --- Data -----------------------------------------------------------------
    batch_size = config.train.batch_size
    start = int(step) * batch_size

    def dataset_fn(context):
        return pipeline.train_dataset(config.data.dir, config.input, context.get_per_replica_batch_size(batch_size),
                                      start=start, input_context=context, num_words=config.model.num_words)

    batches = iter(strategy.distribute_datasets_from_function(dataset_fn))

    # --- Steps ----------------------------------------------------------------
    def replica_step(batch):
        classes, targets = in_batch_targets(batch["labels"])
        with tf.GradientTape() as tape:
            logits = model.in_batch_logits(batch["images"], classes, training=True)
            loss = model.training_loss(logits, targets, loss_fn, classes)
            scaled = loss if easgd_mode else loss / replicas  # Keras all-reduces (sums) gradients.
        gradients = tape.gradient(scaled, model.trainable_variables)
        if easgd_mode:
            easgd.apply_local(gradients)
        else:
            optimizer.learning_rate.assign(tf.cast(learning_rate, optimizer.learning_rate.dtype))
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    @tf.function
    def train_step(batch):
        return strategy.reduce(tf.distribute.ReduceOp.MEAN, strategy.run(replica_step, args=(batch,)), axis=None)

    elastic_step = tf.function(easgd.elastic_step) if easgd_mode else None

    # --- Loop -----------------------------------------------------------------
    steps_per_epoch = config.train.epoch_size // batch_size
    writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))
    callback_list = keras.callbacks.CallbackList([schedule, *callbacks], model=centre)
    centre.stop_training = False
    history = []
    callback_list.on_train_begin()
    while not centre.stop_training and not (config.train.max_epochs and int(epoch) >= config.train.max_epochs):
        callback_list.on_epoch_begin(int(epoch))
        first = int(step) - int(epoch) * steps_per_epoch
        bar = tqdm(total=steps_per_epoch, initial=first, desc=f"epoch {int(epoch)}", unit="step")
        started, losses = time.monotonic(), []
        for _ in range(first, steps_per_epoch):
            if easgd_mode and int(step) % easgd.tau == 0:
                elastic_step()
            loss = float(train_step(next(batches)))
            if not math.isfinite(loss):
                bar.close()
                raise TrainingError(f"the loss is {loss} at step {int(step)}; stopped, keeping the last good "
                                    f"checkpoint ({manager.latest_checkpoint or 'none yet'})")
            step.assign_add(1)
            losses.append(loss)
            images_per_s = len(losses) * batch_size / max(time.monotonic() - started, 1e-9)
            bar.set_postfix(loss=f"{loss:.3f}", images_per_s=f"{images_per_s:.0f}")
            bar.update(1)
            callback_list.on_train_batch_end(int(step), {"loss": loss})
            with writer.as_default(step=int(step)):
                tf.summary.scalar("train/loss", loss)
                tf.summary.scalar("train/learning_rate", float(learning_rate))
                tf.summary.scalar("train/images_per_s", images_per_s)
            if int(step) % config.train.checkpoint_every_steps == 0:
                manager.save(checkpoint_number=int(step))
        bar.close()
        logs = {"loss": float(np.mean(losses)) if losses else float("nan"),
                **evaluate(centre, config, config.model.num_words)}
        with writer.as_default(step=int(step)):
            tf.summary.scalar("val/error", logs["val_error"])
            tf.summary.scalar("val/precision_at_10", logs["precision_at_10"])
        log(f"epoch {int(epoch)}: loss {logs['loss']:.4f}, val error {logs['val_error']:.4f}, "
            f"precision@10 {logs['precision_at_10']:.4f}, learning rate {float(learning_rate):g}")
        callback_list.on_epoch_end(int(epoch), logs)
        epoch.assign_add(1)
        history.append({"epoch": int(epoch), **logs, "learning_rate": float(learning_rate)})
        manager.save(checkpoint_number=int(step))
    callback_list.on_train_end()
    writer.flush()
    summary = {"step": int(step), "epoch": int(epoch), "learning_rate": float(learning_rate),
               "stopped_by_schedule": schedule.stopped, "history": history}
    fileio.write_text_atomic(os.path.join(workdir, "summary.json"), json.dumps(summary, indent=2))
    return summary
