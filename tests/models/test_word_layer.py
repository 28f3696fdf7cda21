"""The word layer: in-batch logits, sparse gradients, XLA, target building."""

import numpy as np
import pytest
import tensorflow as tf

from wsl_tf.models import WordLayer, full_targets, in_batch_targets


def numpy_in_batch_targets(labels):
    flat = [l for row in labels for l in row if l >= 0]
    classes = list(dict.fromkeys(flat))
    targets = np.zeros((len(labels), len(classes)), np.float32)
    for b, row in enumerate(labels):
        for l in row:
            if l >= 0:
                targets[b, classes.index(l)] = 1
    return classes, targets


@pytest.mark.parametrize("labels", [[[7], [3], [7], [9]], [[1, 4, -1], [4, -1, -1], [2, 5, 1]], [[-1], [6]]])
def test_in_batch_targets_match_numpy(labels):
    classes, targets = in_batch_targets(tf.constant(labels))
    expected_classes, expected_targets = numpy_in_batch_targets(labels)
    assert sorted(classes.numpy().tolist()) == sorted(expected_classes)
    order = [expected_classes.index(c) for c in classes.numpy()]
    np.testing.assert_array_equal(targets.numpy(), expected_targets[:, order])


def test_full_targets_are_multi_hot():
    targets = full_targets(tf.constant([[1, 4, -1], [0, -1, -1]]), 5).numpy()
    np.testing.assert_array_equal(targets, [[0, 1, 0, 0, 1], [1, 0, 0, 0, 0]])


@pytest.fixture
def head():
    layer = WordLayer(200)
    layer.build((None, 16))
    layer.bias.assign(tf.random.normal((200,)))
    return layer


def test_in_batch_logits_are_the_full_logits_columns(head):
    x = tf.random.normal((5, 16))
    classes = tf.constant([17, 3, 199, 42])
    full = head(x).numpy()
    np.testing.assert_allclose(head.in_batch_logits(x, classes).numpy(), full[:, [17, 3, 199, 42]], rtol=1e-5)
    kernel, bias = head.kernel.numpy(), head.bias.numpy()
    np.testing.assert_allclose(full, x.numpy() @ kernel.T + bias, rtol=1e-4, atol=1e-5)


def test_gradient_is_indexed_slices_and_zero_outside_the_batch_rows(head):
    x = tf.random.normal((4, 16))
    classes, targets = in_batch_targets(tf.constant([[5], [9], [5], [120]]))
    with tf.GradientTape() as tape:
        logits = head.in_batch_logits(x, classes)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(targets, logits))
    kernel_grad, bias_grad = tape.gradient(loss, [head.kernel, head.bias])
    assert isinstance(kernel_grad, tf.IndexedSlices) and isinstance(bias_grad, tf.IndexedSlices)
    assert sorted(set(kernel_grad.indices.numpy())) == [5, 9, 120]
    dense = tf.convert_to_tensor(kernel_grad).numpy()
    outside = np.ones(200, bool)
    outside[[5, 9, 120]] = False
    assert np.all(dense[outside] == 0) and np.all(np.abs(dense[~outside]).sum(axis=1) > 0)


def test_compiles_under_xla(head):
    @tf.function(jit_compile=True)
    def step(x, labels):
        classes, targets = in_batch_targets(labels)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(targets, head.in_batch_logits(x, classes)))
        return loss, tape.gradient(loss, head.kernel)

    loss, grad = step(tf.random.normal((4, 16)), tf.constant([[5], [9], [5], [120]]))
    assert np.isfinite(loss.numpy()) and isinstance(grad, tf.IndexedSlices)
    assert "CandidateSampler" not in str(step.get_concrete_function(
        tf.TensorSpec((4, 16)), tf.TensorSpec((4, 1), tf.int32)).graph.as_graph_def())


def test_logits_stay_float32_under_mixed_precision():
    layer = WordLayer(10)
    x = tf.random.normal((2, 8), dtype=tf.float16)
    assert layer(x).dtype == tf.float32 and layer.in_batch_logits(x, tf.constant([1, 2])).dtype == tf.float32


def test_weights_are_drawn_blockwise_with_the_configured_scale():
    from wsl_tf.models.word_layer import fill_normal_rows

    variable = tf.Variable(tf.zeros((3000, 40)))
    fill_normal_rows(variable, 0.05, block_bytes=40 * 4 * 128)  # ~24 blocks.
    values = variable.numpy()
    assert values.std() == pytest.approx(0.05, rel=0.02) and abs(values.mean()) < 1e-3
    assert not np.allclose(values[:128], values[128:256])  # Blocks are independent draws.
    assert np.all(np.abs(values).sum(axis=1) > 0)  # Every row, the last partial block included.


def test_initialisation_is_seeded_by_keras():
    import keras

    def draw():
        keras.utils.set_random_seed(3)
        layer = WordLayer(50, init_stddev=0.02)
        layer.build((None, 8))
        return layer.kernel.numpy()

    np.testing.assert_array_equal(draw(), draw())
