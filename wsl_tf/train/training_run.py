"""One run's strategy, models, optimizer and compiled training step.

`wsl-train` (through `trainer.train`), `benchmarks/train_step.py` and
`benchmarks/easgd.py` all build a `TrainingRun` from a config and step
through `run_step`, so what is tested and measured is what users run.

One step, in each replica: the batch's distinct words; (EASGD) those rows of
the local word matrices brought up to date; the in-batch logits and loss;
gradients (IndexedSlices over the batch's rows for the word layers); then a
lazy-momentum local step (EASGD) or an all-reduce and a SparseMomentumSGD
step (synchronous SGD). With EASGD the elastic exchange runs before every
step whose number is a multiple of `tau`. No op of the step reads a whole
K x E word matrix: each replica gathers from its own copy.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

from wsl_tf.models import build_model, in_batch_targets
from wsl_tf.train.easgd import EASGD
from wsl_tf.train.optimizers import SparseMomentumSGD
from wsl_tf.variables import local_copy, local_variables, replica_copies, seed_state_variables, tensor_bytes

# Seeds of replica i's dropout streams are offset by i times this (any large odd number).
_REPLICA_SEED_STRIDE = 1_000_003


def split_cpu(logical_cpus: int) -> None:
    """On a machine without GPUs, present the CPU as `logical_cpus` devices (for replicas).

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


class TrainingRun:
    """The models and compiled steps of one run of `config`, with `loss_fn`.

    centre: the model evaluation, checkpoints and export use (with EASGD the
    centre variable; with SGD the model itself). model: the model replicas
    step (EASGD: per-replica local copies).
    """

    def __init__(self, config, loss_fn, strategy: tf.distribute.Strategy | None = None):
        self.config = config
        self.loss_fn = loss_fn
        # Seeds Python, numpy and TensorFlow, and gives Keras a fresh global seed generator (one left by an
        # earlier run lives in that run's strategy, which initialising this run's weights may not touch).
        keras.utils.set_random_seed(config.seed)
        split_cpu(config.train.get("logical_cpus", 0))
        self.strategy = strategy or make_strategy(config.train.devices)
        self.replicas = self.strategy.num_replicas_in_sync
        self.global_batch_size = config.train.batch_size_per_replica * self.replicas
        opt = config.optimizer
        self.easgd_mode = opt.name == "easgd"
        self.learning_rate = tf.Variable(opt.learning_rate, dtype=tf.float64, trainable=False, name="learning_rate")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.easgd, self.optimizer = None, None
        with self.strategy.scope():
            if self.easgd_mode:
                self.centre = build_model(config.model)
                with local_variables():
                    self.model = build_model(config.model)
                word_rows = {id(v) for v in self.model.word_variables()}
                self.easgd = EASGD(
                    self.strategy, self.model.trainable_variables, self.centre.trainable_variables,
                    self.learning_rate, momentum=opt.momentum, nesterov=opt.nesterov,
                    weight_decay=opt.weight_decay, tau=opt.tau, beta=opt.beta,
                    row_sparse=[i for i, v in enumerate(self.model.trainable_variables) if id(v) in word_rows])
            else:
                with local_variables(integer_only=True):
                    self.model = self.centre = build_model(config.model)
                self.optimizer = SparseMomentumSGD(opt.learning_rate, momentum=opt.momentum,
                                                   nesterov=opt.nesterov, weight_decay=opt.weight_decay)
                self.optimizer.build(self.model.trainable_variables)
                with local_variables():
                    self._sync_reduced_bytes = tf.Variable(0.0, dtype=tf.float64, trainable=False,
                                                           name="sync_reduced_bytes")
        self._train_step = tf.function(self._distributed_step)
        self._elastic_step = tf.function(self.easgd.elastic_step) if self.easgd else None
        self._synchronize = tf.function(self.easgd.synchronize) if self.easgd else None

    # --- Start, state ----------------------------------------------------------------
    def start(self) -> None:
        """A fresh run: replicas start from the centre, each with its own dropout stream."""
        if self.easgd:
            self.easgd.set_locals_to_centre()
        seeds = seed_state_variables(self.model)

        def offset():
            replica = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int64)
            for seed in seeds:
                copy = local_copy(seed)
                copy.assign_add(tf.cast(tf.stack([replica * _REPLICA_SEED_STRIDE, 0]), copy.dtype))

        tf.function(lambda: self.strategy.run(offset))()

    def per_replica_variables(self) -> list:
        """Variables each replica holds its own value of (a checkpoint must keep every copy)."""
        if self.easgd:
            return [*self.model.variables, *self.easgd.state_variables()]
        return [*seed_state_variables(self.model), self._sync_reduced_bytes]

    def checkpoint_items(self) -> dict:
        """What a tf.train.Checkpoint must hold to resume this run exactly."""
        items = {"centre": self.centre, "step": self.step, "learning_rate": self.learning_rate,
                 "replica_copies": [c for v in self.per_replica_variables() for c in replica_copies(v)]}
        if self.optimizer is not None:
            items["optimizer"] = self.optimizer
        return items

    # --- Steps --------------------------------------------------------------------------
    def _replica_step(self, batch):
        classes, targets = in_batch_targets(batch["labels"])
        if self.easgd:
            self.easgd.prepare_rows(classes)
        with tf.GradientTape() as tape:
            logits = self.model.in_batch_logits(batch["images"], classes, training=True)
            loss = self.model.training_loss(logits, targets, self.loss_fn, classes)
            scaled = loss if self.easgd else loss / self.replicas  # Keras all-reduces (sums) gradients.
        gradients = tape.gradient(scaled, self.model.trainable_variables)
        if self.easgd:
            self.easgd.apply_local(gradients)
        else:
            sent = tf.add_n([tensor_bytes(g) for g in gradients if g is not None])
            local_copy(self._sync_reduced_bytes).assign_add(sent)
            self.optimizer.learning_rate.assign(tf.cast(self.learning_rate, self.optimizer.learning_rate.dtype))
            self.optimizer.apply_gradients(zip(gradients, self.model.trainable_variables))
        return loss

    def _distributed_step(self, batch):
        losses = self.strategy.run(self._replica_step, args=(batch,))
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)

    def traced_step(self, batch):
        """The concrete function `run_step` executes for a batch like this one (for inspection)."""
        return self._train_step.get_concrete_function(batch)

    def run_step(self, batch) -> tf.Tensor:
        """One training step on a distributed batch (the elastic exchange first when due); the mean loss."""
        if self.easgd and int(self.step) % self.easgd.tau == 0:
            self._elastic_step()
        loss = self._train_step(batch)
        self.step.assign_add(1)
        return loss

    def synchronize(self) -> None:
        """Bring the centre fully up to date (EASGD's lazily exchanged rows); before eval and checkpoints."""
        if self._synchronize is not None:
            self._synchronize()

    # --- Data and traffic -------------------------------------------------------------------
    def distribute(self, dataset_fn):
        """An iterator over `dataset_fn(input_context)`'s per-replica batches."""
        return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

    def reduced_bytes(self) -> float:
        """Bytes all replicas have handed to cross-replica sums (gradients, or EASGD's exchanges)."""
        if self.easgd:
            return self.easgd.total_reduced_bytes()
        return float(sum(np.asarray(c) for c in replica_copies(self._sync_reduced_bytes)))
