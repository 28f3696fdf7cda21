"""SparseMomentumSGD against a numpy reference; sparse updates stay sparse."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wsl_tf.train.optimizers import SparseMomentumSGD


def numpy_lazy_momentum(w, steps, lr, momentum, nesterov, decay):
    """TF1 sparse momentum: only the rows of each step's gradient are touched."""
    w, accum = w.copy(), np.zeros_like(w)
    for rows, values in steps:
        grad = np.zeros_like(w)
        np.add.at(grad, rows, values)
        touched = np.unique(rows)
        g = grad[touched] + decay * w[touched]
        accum[touched] = momentum * accum[touched] + g
        w[touched] -= lr * (g + momentum * accum[touched] if nesterov else accum[touched])
    return w, accum


@pytest.mark.parametrize("nesterov, decay", [(False, 0.0), (True, 0.0), (False, 1e-2)])
def test_sparse_updates_match_numpy_lazy_momentum(nesterov, decay):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(50, 4)).astype(np.float32)
    steps = [(rng.integers(0, 50, size=6), rng.normal(size=(6, 4)).astype(np.float32)) for _ in range(5)]
    variable = keras.Variable(w0)
    optimizer = SparseMomentumSGD(0.1, momentum=0.9, nesterov=nesterov, weight_decay=decay)
    for rows, values in steps:
        optimizer.apply_gradients([(tf.IndexedSlices(tf.constant(values), tf.constant(rows)), variable)])
    expected, accum = numpy_lazy_momentum(w0, steps, 0.1, 0.9, nesterov, decay)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(optimizer.momentums[0].numpy(), accum, rtol=1e-5, atol=1e-6)


def test_rows_outside_the_gradient_and_their_slots_are_untouched():
    w0 = np.ones((1000, 8), np.float32)
    variable = keras.Variable(w0)
    optimizer = SparseMomentumSGD(0.1, momentum=0.9, weight_decay=1e-3)
    optimizer.apply_gradients([(tf.IndexedSlices(tf.ones((2, 8)), tf.constant([3, 700])), variable)])
    optimizer.apply_gradients([(tf.IndexedSlices(tf.ones((1, 8)), tf.constant([5])), variable)])
    changed = np.flatnonzero(np.any(variable.numpy() != w0, axis=1))
    assert changed.tolist() == [3, 5, 700]
    assert np.flatnonzero(np.any(optimizer.momentums[0].numpy() != 0, axis=1)).tolist() == [3, 5, 700]


def test_dense_gradients_follow_the_same_rule():
    w0 = np.array([[1.0, -2.0]], np.float32)
    variable = keras.Variable(w0)
    optimizer = SparseMomentumSGD(0.5, momentum=0.5)
    for _ in range(3):
        optimizer.apply_gradients([(tf.constant([[1.0, 1.0]]), variable)])
    # accum: 1, 1.5, 1.75 -> w -= 0.5 * (1 + 1.5 + 1.75)
    np.testing.assert_allclose(variable.numpy(), w0 - 0.5 * 4.25, rtol=1e-6)


def test_plain_sgd_and_config_round_trip():
    optimizer = SparseMomentumSGD(0.2, momentum=0.0)
    variable = keras.Variable(np.zeros((4, 2), np.float32))
    optimizer.apply_gradients([(tf.IndexedSlices(tf.ones((1, 2)), tf.constant([1])), variable)])
    np.testing.assert_allclose(variable.numpy()[1], [-0.2, -0.2], rtol=1e-6)
    assert optimizer.momentums == []
    clone = SparseMomentumSGD.from_config(SparseMomentumSGD(0.3, 0.8, True, 1e-4).get_config())
    assert (clone.momentum, clone.nesterov, clone.coupled_weight_decay) == (0.8, True, 1e-4)
    with pytest.raises(ValueError, match="momentum"):
        SparseMomentumSGD(momentum=1.5)


def test_a_compiled_sparse_step_never_materialises_a_dense_k_by_e_tensor():
    """A dense read or update of the word matrix is what made steps cost seconds."""
    from wsl_tf.models import MultiClassLogisticLoss, WordLayer
    from wsl_tf.train.word_rows import batch_word_logits, in_batch_targets

    k, e = 997, 24  # Shapes no other tensor in the step has.
    head = WordLayer(k)
    head.build((None, e))
    optimizer = SparseMomentumSGD(0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    optimizer.build(head.trainable_variables)

    @tf.function
    def step(x, labels):
        classes, targets = in_batch_targets(labels)
        with tf.GradientTape() as tape:
            loss = MultiClassLogisticLoss()(targets, batch_word_logits(head, x, classes))
        optimizer.apply_gradients(zip(tape.gradient(loss, head.trainable_variables), head.trainable_variables))
        return loss

    graph = step.get_concrete_function(tf.TensorSpec((8, e)), tf.TensorSpec((8, 1), tf.int32)).graph
    dense = [
        op.type
        for op in graph.get_operations()
        for out in op.outputs
        if out.shape.rank and out.shape[0] == k and out.dtype != tf.resource
    ]
    assert dense == []
    before = head.kernel.numpy()
    step(tf.random.normal((8, e)), tf.constant([[1], [2], [3], [1], [5], [8], [13], [21]]))
    assert np.flatnonzero(np.any(head.kernel.numpy() != before, axis=1)).tolist() == [1, 2, 3, 5, 8, 13, 21]
