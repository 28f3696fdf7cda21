"""Reaching the tf.Variable that an op should touch.

Keras variables wrap a tf.Variable; under tf.distribute that is a distributed
variable (mirrored or per-replica), and any plain `tf.gather` of it first
reads the whole matrix. Sparse reads and writes must go to the copy that
lives on the current replica's device.
"""

import contextlib

import keras
import tensorflow as tf


def plain(variable):
    """The tf.Variable behind a Keras variable (or the argument itself)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def local_copy(variable):
    """The replica's own tf.Variable behind `variable`.

    In replica context (strategy.run) or an update context (per device), a
    distributed variable resolves to the component on this replica or device;
    anything else is returned as its plain tf.Variable.
    """
    value = plain(variable)
    if hasattr(value, "_get_on_device_or_primary"):
        return value._get_on_device_or_primary()
    return value


def replica_copies(variable) -> list:
    """Every local component of a distributed variable (one for a plain one)."""
    value = plain(variable)
    return list(value.values) if hasattr(value, "values") and hasattr(value, "_get_on_device_or_primary") else [value]


def _per_replica(next_creator, integer_only=False, **kwargs):
    dtype = tf.as_dtype(kwargs.get("dtype") or getattr(kwargs.get("initial_value"), "dtype", tf.float32))
    if integer_only and dtype.is_floating:
        return next_creator(**kwargs)
    kwargs["synchronization"] = tf.VariableSynchronization.ON_READ
    # Integer state (dropout's seed generator, counters) cannot be averaged.
    kwargs["aggregation"] = (
        tf.VariableAggregation.MEAN if dtype.is_floating else tf.VariableAggregation.ONLY_FIRST_REPLICA
    )
    return next_creator(**kwargs)


@contextlib.contextmanager
def local_variables(integer_only: bool = False):
    """Variables created inside are per-replica: each replica has its own copy.

    Enter it inside `strategy.scope()`. integer_only: only integer variables
    (the models' random-seed state) become per-replica, so that synchronous
    replicas, whose weights are mirrored, still draw their own dropout masks.
    """
    with tf.variable_creator_scope(
        lambda next_creator, **kwargs: _per_replica(next_creator, integer_only=integer_only, **kwargs)
    ):
        yield


def seed_state_variables(model) -> list:
    """The random-seed state of a Keras model's layers (dropout masks are drawn from it)."""
    return [v for v in model.non_trainable_variables if v.path.endswith("seed_generator_state")]


def tensor_bytes(value) -> tf.Tensor:
    """Bytes of a tensor, or of an IndexedSlices' values and indices (what a cross-replica sum sends)."""
    parts = [value.values, value.indices] if isinstance(value, tf.IndexedSlices) else [value]
    return tf.add_n([tf.cast(tf.size(p, out_type=tf.int64) * p.dtype.size, tf.float64) for p in parts])
