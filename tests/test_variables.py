"""Reaching the variable an op should touch: a replica's own copy under tf.distribute, per-replica variables, and
the bytes a cross-replica sum sends."""

import keras
import numpy as np
import tensorflow as tf

from wsl_tf.variables import local_copy, local_variables, plain, replica_copies, tensor_bytes


def test_a_plain_variable_is_its_own_copy():
    variable = keras.Variable(np.ones((3, 2), np.float32))
    assert plain(variable) is variable.value and local_copy(variable) is variable.value
    assert replica_copies(variable) == [variable.value]


def test_per_replica_variables_keep_each_replicas_own_writes_and_integer_only_spares_the_floats():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        with local_variables():
            own = keras.Variable(np.zeros(4, np.float32))
        with local_variables(integer_only=True):
            weights = keras.Variable(np.zeros(4, np.float32))
            seeds = tf.Variable(np.zeros(2, np.int64))

    @tf.function
    def step():
        def replica():
            rid = tf.distribute.get_replica_context().replica_id_in_sync_group
            local_copy(own).scatter_nd_add([[rid]], [1.0 + tf.cast(rid, tf.float32)])
            local_copy(seeds).assign_add(tf.fill([2], tf.cast(rid, tf.int64) + 1))

        strategy.run(replica)

    step()
    assert [c.numpy().tolist() for c in replica_copies(own)] == [[1, 0, 0, 0], [0, 2, 0, 0]]
    assert [c.numpy().tolist() for c in replica_copies(seeds)] == [[1, 1], [2, 2]]
    assert plain(weights).synchronization != tf.VariableSynchronization.ON_READ  # Floats stay mirrored.
    assert plain(own).synchronization == tf.VariableSynchronization.ON_READ


def test_the_bytes_of_a_sparse_gradient_are_its_values_and_indices():
    dense = tf.zeros((5, 3), tf.float32)
    sparse = tf.IndexedSlices(tf.zeros((2, 3), tf.float32), tf.constant([1, 4], tf.int64), tf.constant([5, 3]))
    assert float(tensor_bytes(dense)) == 5 * 3 * 4
    assert float(tensor_bytes(sparse)) == 2 * 3 * 4 + 2 * 8
