"""Synchronous elastic averaging SGD (Zhang, Choromanska and LeCun 2015).

Each replica keeps its own weights x_i and steps on its own gradients only
(no gradient all-reduce). A centre copy c is kept; every `tau` steps each
local copy moves toward the centre and the centre toward the locals:

    x_i <- x_i - alpha (x_i - c),    c <- c + alpha sum_i (x_i - c),

with alpha = beta / p for p replicas (beta = 0.9 by default). The local step
is SGD with Nesterov momentum (EAMSGD) or plain SGD, with lazy per-row
updates for sparse (IndexedSlices) gradients, as in SparseMomentumSGD.

Under tf.distribute the local weights are per-replica variables
(synchronization ON_READ: create the training model inside
`local_variables()`), and the centre is an ordinary mirrored model of the
same architecture: evaluation, checkpoints and export use it. The elastic
step sums the replicas' differences with `strategy.reduce`, so it works the
same across machines (MultiWorkerMirroredStrategy). That sum is the only
traffic between replicas: one model's worth every `tau` steps, against one
model's worth of gradients every step for synchronous SGD.
"""

import contextlib

import keras
import numpy as np
import tensorflow as tf

from wsl_tf.train.optimizers import momentum_update


def _per_replica(next_creator, **kwargs):
    kwargs["synchronization"] = tf.VariableSynchronization.ON_READ
    dtype = tf.as_dtype(kwargs.get("dtype") or getattr(kwargs.get("initial_value"), "dtype", tf.float32))
    floating = dtype.is_floating
    # Integer state (dropout's seed generator) cannot be averaged.
    kwargs["aggregation"] = tf.VariableAggregation.MEAN if floating else tf.VariableAggregation.ONLY_FIRST_REPLICA
    return next_creator(**kwargs)


@contextlib.contextmanager
def local_variables():
    """Variables created inside are per-replica (each replica has its own copy).

    Enter it inside `strategy.scope()`.
    """
    with tf.variable_creator_scope(_per_replica):
        yield


def local_copy(variable):
    """In replica context: this replica's own tf.Variable behind `variable`."""
    value = variable.value if isinstance(variable, keras.Variable) else variable
    if hasattr(value, "_get_on_device_or_primary"):  # A distributed variable.
        return value._get_on_device_or_primary()
    return value


class EASGD:
    """The local steps and the elastic step over a strategy's replicas."""

    def __init__(self, strategy, local_variables_list, centre_variables, learning_rate, momentum=0.9,
                 nesterov=True, weight_decay=0.0, tau=10, beta=0.9):
        if len(local_variables_list) != len(centre_variables):
            raise ValueError("local and centre models must have the same variables")
        if tau < 1:
            raise ValueError(f"tau must be >= 1, got {tau}")
        self.strategy = strategy
        self.local = list(local_variables_list)
        self.centre = list(centre_variables)
        self.learning_rate = learning_rate
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.tau, self.beta = tau, beta
        self.num_replicas = strategy.num_replicas_in_sync
        self.alpha = beta / self.num_replicas
        with strategy.scope(), local_variables():
            self.slots = [tf.Variable(tf.zeros_like(c.value if isinstance(c, keras.Variable) else c),
                                      trainable=False, name="easgd_momentum") for c in self.centre] \
                if momentum else []

    def set_locals_to_centre(self):
        """Start (or restart) every replica from the centre weights."""
        def copy():
            for local, centre in zip(self.local, self.centre):
                local_copy(local).assign(centre)

        tf.function(lambda: self.strategy.run(copy))()

    def apply_local(self, gradients):
        """In replica context: one local step on this replica's own gradients."""
        for index, (gradient, variable) in enumerate(zip(gradients, self.local)):
            if gradient is None:
                continue
            slot = local_copy(self.slots[index]) if self.slots else None
            momentum_update(local_copy(variable), slot, gradient, self.learning_rate, self.momentum,
                            self.nesterov, self.weight_decay)

    def elastic_step(self):
        """In cross-replica context: pull locals and centre together."""
        def differences():
            return [local_copy(local) - tf.convert_to_tensor(centre) for local, centre in zip(self.local, self.centre)]

        diffs = self.strategy.run(differences)

        def move_locals(diffs):
            for local, diff in zip(self.local, diffs):
                local_copy(local).assign_sub(self.alpha * diff)

        self.strategy.run(move_locals, args=(diffs,))
        for centre, diff in zip(self.centre, diffs):
            # One reduction per variable: across workers, reducing the list at once tries to stack it.
            centre.assign_add(self.alpha * self.strategy.reduce(tf.distribute.ReduceOp.SUM, diff, axis=None))

    def reduced_bytes_per_elastic_step(self) -> int:
        """Bytes each replica contributes to the cross-replica sum of one elastic step."""
        return sum(int(np.prod(c.shape)) * tf.as_dtype(c.dtype).size for c in self.centre)
