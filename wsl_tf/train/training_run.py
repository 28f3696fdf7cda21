"""One run's strategy, models, optimizer and compiled training step.

`wsl-train` (through `trainer.train`), `benchmarks/train_step.py` and
`benchmarks/easgd.py` all call `prepare_process(config)`, build a
`TrainingRun` from the config and step through `run_steps`, so what is tested
and measured is what users run.

One step, in each replica: the batch's distinct words (and its extra
negatives; or all K with `head.classes="full"`); (EASGD) those rows of the
local word matrices brought up to date; the in-batch logits and the loss,
corrected for how often each word enters a step (`head.correction`: the
loss's per-word statistics, gathered for the step's words);
gradients (IndexedSlices over the batch's rows for the word layers); then a
lazy-momentum local step (EASGD) or an all-reduce and a SparseMomentumSGD
step (synchronous SGD). With EASGD the elastic exchange runs before every
step whose number is a multiple of `tau`. No op of the step reads a whole
K x E word matrix, nor any K-sized tensor: each replica gathers from its own
copies of the word matrices and of the loss's per-word statistics.

`run_steps` runs up to `train.steps_per_loop` steps in one compiled call
(a graph loop over the distributed iterator, as Keras' steps_per_execution
and Orbit do) and hands back the per-step losses without fetching them, so
the host need not wait on the device every step. Optional switches:
`train.mixed_precision` (the training copy's backbone computes in bfloat16;
weights, word logits and the loss stay float32) and `train.jit_compile`
(the backbone's forward and backward passes compiled by XLA; the word
rows' gathers and scatters, whose sizes vary per batch, are not).
"""

import hashlib
import json
import os
import threading

import keras
import numpy as np
import tensorflow as tf

from wsl_tf.errors import ConfigError
from wsl_tf.models import build_model
from wsl_tf.train.easgd import EASGD
from wsl_tf.train.optimizers import SparseMomentumSGD
from wsl_tf.train.word_rows import StepWords, draw_word_rows, in_batch_logits
from wsl_tf.variables import local_copy, local_variables, replica_copies, seed_state_variables, tensor_bytes

# Seeds of replica i's dropout streams are offset by i times this (any large odd number).
_REPLICA_SEED_STRIDE = 1_000_003

# head.correction: "sampling" corrects the in-batch loss for each word's chance of entering a step; "none" is
# the paper's uncorrected form.
CORRECTIONS = ("sampling", "none")


def corrected(config) -> bool:
    """Whether the run's loss is corrected for sampling (in-batch classes with head.correction="sampling")."""
    return config.head.classes == "in_batch" and config.head.correction == "sampling"


def split_cpu(logical_cpus: int) -> None:
    """On a machine without GPUs, present the CPU as `logical_cpus` devices (for replicas).

    Only possible before TensorFlow initialises its devices: afterwards a
    process already split into as many devices goes on, and any other raises
    ValueError, as its replicas (so its global batch) would not be the run's.
    """
    if logical_cpus <= 1 or tf.config.list_physical_devices("GPU"):
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    except RuntimeError as error:
        present = len(tf.config.list_logical_devices("CPU"))
        if present != logical_cpus:
            raise ConfigError(
                f"train.logical_cpus={logical_cpus}: TensorFlow already started with {present} CPU "
                f"device(s) in this process; run in a fresh process (or set train.logical_cpus="
                f"{present})"
            ) from error


def prepare_process(config) -> None:
    """What a run sets process-wide before its TrainingRun is built: the CPU split into train.logical_cpus
    devices, and Python's, numpy's, TensorFlow's and Keras's global generators seeded from config.seed (so a
    run's initial weights depend on its seed alone, whatever ran before it in the process)."""
    split_cpu(config.train.logical_cpus)
    keras.utils.set_random_seed(config.seed)


def cluster_task() -> tuple[str, int] | None:
    """(task type, index) of this process in TF_CONFIG's cluster; None when TF_CONFIG names no cluster."""
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    if not tf_config.get("cluster"):
        return None
    task = tf_config.get("task", {})
    return task.get("type", "worker"), int(task.get("index", 0))


def is_chief() -> bool:
    """Whether this process writes the run's files: one machine, the chief, or worker 0 of a chief-less cluster."""
    task = cluster_task()
    if task is None:
        return True
    has_chief = bool(json.loads(os.environ["TF_CONFIG"])["cluster"].get("chief"))
    return task[0] == "chief" or (not has_chief and task == ("worker", 0))


def _multi_worker_strategy(peer_timeout_seconds: float) -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy from TF_CONFIG, one replica per local GPU, or per logical CPU on a CPU worker.

    TensorFlow gives a CPU worker one replica whatever its logical devices; a
    worker split by `train.logical_cpus` gets one per logical CPU instead, as
    MirroredStrategy would on one machine. Collectives give up after
    `peer_timeout_seconds` (0: never), besides the strategy's own peer health
    check, so a dead worker stops the others instead of hanging them.
    """
    from tensorflow.python.distribute import collective_all_reduce_strategy as collective

    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=peer_timeout_seconds or None)
    # Read without initialising TensorFlow's devices: collectives must be configured before that.
    cpus = len(tf.config.get_logical_device_configuration(tf.config.list_physical_devices("CPU")[0]) or [None])
    extended = collective.CollectiveAllReduceExtended
    original = extended._initialize_local_devices

    def local_devices(self, cluster_resolver, worker_device):
        devices, kind = original(self, cluster_resolver, worker_device)
        if kind == "CPU" and cpus > 1:
            return tuple(f"{worker_device}/device:CPU:{i}" for i in range(cpus)), kind
        return devices, kind

    extended._initialize_local_devices = local_devices
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    finally:
        extended._initialize_local_devices = original


# One strategy per device list and process. A second strategy over the same devices would number its
# collectives from the start again, and TensorFlow's collective runtime, which remembers instances by
# number, then rejects its exchanges ("Shape mismatch in the collective instance"): a process that trains
# twice (the demo's evaluation trains short comparison runs after the main run) must reuse the first.
_STRATEGIES: dict = {}


def make_strategy(devices, peer_timeout_seconds: float = 0) -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy when TF_CONFIG names a cluster, else MirroredStrategy over `devices`;
    the same object again for the same request in this process."""
    key = ("cluster",) if cluster_task() is not None else tuple(devices)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = (
            _multi_worker_strategy(peer_timeout_seconds)
            if cluster_task() is not None
            else tf.distribute.MirroredStrategy(list(devices) or None)
        )
    return _STRATEGIES[key]


class TrainingRun:
    """The models and compiled steps of one run of `config`, with `loss_fn`.

    centre: the model evaluation, checkpoints and export use (with EASGD the
    centre variable; with SGD the model itself). model: the model replicas
    step (EASGD: per-replica local copies). inclusion: each word's chance of
    entering a replica's step (`wsl_tf.input.sampling.word_inclusion` for the
    run's sampler), needed when the loss is corrected for it.
    """

    def __init__(self, config, loss_fn, strategy: tf.distribute.Strategy | None = None, inclusion=None):
        self.config = config
        self.loss_fn = loss_fn
        self.strategy = strategy or make_strategy(config.train.devices, config.train.peer_timeout_seconds)
        self.replicas = self.strategy.num_replicas_in_sync
        self.global_batch_size = config.train.batch_size_per_replica * self.replicas
        opt = config.optimizer
        self.easgd_mode = opt.name == "easgd"
        self.learning_rate = tf.Variable(opt.learning_rate, dtype=tf.float64, trainable=False, name="learning_rate")
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.easgd, self.optimizer = None, None
        self.steps_per_loop = config.train.steps_per_loop
        policy = "mixed_bfloat16" if config.train.mixed_precision else None
        if corrected(config) and inclusion is None:
            raise ValueError("head.correction='sampling' needs each word's inclusion probability (word_inclusion)")
        with self.strategy.scope():
            self.words = StepWords(
                config.model.num_words,
                config.head.classes,
                loss_fn.word_statistics(inclusion if corrected(config) else None),
            )
            if self.easgd_mode:
                self.centre = self._fresh_model()
                with local_variables():
                    self.model = self._fresh_model(policy)
                word_rows = {id(v) for v in self.model.word_variables()}
                self.easgd = EASGD(
                    self.strategy,
                    self.model.trainable_variables,
                    self.centre.trainable_variables,
                    self.learning_rate,
                    momentum=opt.momentum,
                    nesterov=opt.nesterov,
                    weight_decay=opt.weight_decay,
                    tau=opt.tau,
                    beta=opt.beta,
                    row_sparse=[i for i, v in enumerate(self.model.trainable_variables) if id(v) in word_rows],
                )
            else:
                with local_variables(integer_only=True):
                    self.model = self.centre = self._fresh_model(policy)
                self.optimizer = SparseMomentumSGD(
                    opt.learning_rate, momentum=opt.momentum, nesterov=opt.nesterov, weight_decay=opt.weight_decay
                )
                self.optimizer.build(self.model.trainable_variables)
                with local_variables():
                    self._sync_reduced_bytes = tf.Variable(
                        0.0, dtype=tf.float64, trainable=False, name="sync_reduced_bytes"
                    )
        self._backbone = None
        if config.train.jit_compile:
            self._backbone = tf.function(lambda images: self.model.backbone(images, training=True), jit_compile=True)
        self._train_loop = tf.function(self._distributed_loop)
        self._elastic_step = tf.function(self.easgd.elastic_step) if self.easgd else None
        self._synchronize = tf.function(self.easgd.synchronize) if self.easgd else None

    def _fresh_model(self, policy=None):
        """A model with its word rows drawn block by block (a whole K x E draw peaks at 3x the matrix)."""
        model = build_model(self.config.model, policy, random_word_rows=False)
        draw_word_rows(model)
        return model

    def describe_head(self) -> str:
        """The step's word rows and correction, in words (for the run's log)."""
        head = self.config.head
        if head.classes == "full":
            return f"all {self.config.model.num_words} words every step (exact loss)"
        extra = f" and {head.negatives} extra negatives drawn by {head.negatives_by}" if head.negatives else ""
        correction = "corrected for sampling" if corrected(self.config) else "uncorrected (the paper's form)"
        return f"the batch's words{extra}, {correction}"

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
        items = {
            "centre": self.centre,
            "step": self.step,
            "learning_rate": self.learning_rate,
            "replica_copies": [c for v in self.per_replica_variables() for c in replica_copies(v)],
        }
        if self.optimizer is not None:
            items["optimizer"] = self.optimizer
        return items

    # --- Steps --------------------------------------------------------------------------
    def _replica_step(self, batch):
        classes, targets = self.words.classes_and_targets(batch)
        if self.easgd:
            self.easgd.prepare_rows(classes)
        word_stats = self.words.statistics(classes)
        with tf.GradientTape() as tape:
            logits = in_batch_logits(self.model, batch["images"], classes, training=True, backbone=self._backbone)
            loss = self.model.training_loss(targets, logits, self.loss_fn, word_stats)
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

    def _distributed_loop(self, iterator, steps):
        losses = tf.TensorArray(tf.float32, size=steps)
        for i in tf.range(steps):
            losses = losses.write(i, tf.cast(self._distributed_step(next(iterator)), tf.float32))
        return losses.stack()

    def traced_step(self, iterator):
        """The concrete function `run_steps` executes on this iterator's batches (for inspection)."""
        return self._train_loop.get_concrete_function(iterator, tf.constant(1))

    def run_steps(self, iterator, steps: int) -> tf.Tensor:
        """`steps` training steps from a distributed iterator: float32 [steps] mean losses, not yet fetched.

        Steps run `steps_per_loop` at a time in one compiled call; with EASGD a
        call never crosses an elastic exchange, which runs between calls.
        """
        step = int(self.step)
        losses, done = [], 0
        while done < steps:
            chunk = min(self.steps_per_loop, steps - done)
            if self.easgd:
                if step % self.easgd.tau == 0:
                    self._elastic_step()
                chunk = min(chunk, self.easgd.tau - step % self.easgd.tau)
            losses.append(self._train_loop(iterator, tf.constant(chunk)))
            self.step.assign_add(chunk)
            step += chunk
            done += chunk
        return losses[0] if len(losses) == 1 else tf.concat(losses, 0)

    def synchronize(self) -> None:
        """Bring the centre fully up to date (EASGD's lazily exchanged rows); before eval and checkpoints."""
        if self._synchronize is not None:
            self._synchronize()

    def centre_fingerprint(self) -> str:
        """sha256 of the centre's weights: equal on every worker of a healthy multi-worker run."""
        digest = hashlib.sha256()
        for weight in self.centre.get_weights():
            digest.update(np.ascontiguousarray(weight).tobytes())
        return digest.hexdigest()

    # --- Data and traffic -------------------------------------------------------------------
    def distribute(self, dataset_fn):
        """An iterator over `dataset_fn(input_context)`'s per-replica batches."""
        return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

    def reduced_bytes(self) -> float:
        """Bytes all replicas have handed to cross-replica sums (gradients, or EASGD's exchanges)."""
        if self.easgd:
            return self.easgd.total_reduced_bytes()
        return float(sum(np.asarray(c) for c in replica_copies(self._sync_reduced_bytes)))


def release_in_background(holder: list) -> threading.Thread:
    """Drop what `holder` holds (its last references, e.g. a finished run's input iterator) on a thread of its own,
    and return that thread.

    A tf.data iterator's teardown waits for its pipeline's work in flight: up
    to 19 s at the end of a training-choice run while evaluation's fits held
    both cores. The caller goes on meanwhile; the thread is not a daemon, so
    the process still waits for it before exiting.
    """
    thread = threading.Thread(target=holder.clear, name="release-input", daemon=False)
    thread.start()
    return thread
