"""The batch's word rows: targets, gathered logits with sparse gradients, XLA, block-wise drawing."""

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import model_config
from wsl_tf.models import build_model
from wsl_tf.train.word_rows import (
    batch_word_logits,
    draw_word_rows,
    fill_normal_rows,
    in_batch_logits,
    in_batch_targets,
)


def numpy_in_batch_targets(labels):
    flat = [word for row in labels for word in row if word >= 0]
    classes = list(dict.fromkeys(flat))
    targets = np.zeros((len(labels), len(classes)), np.float32)
    for b, row in enumerate(labels):
        for word in row:
            if word >= 0:
                targets[b, classes.index(word)] = 1
    return classes, targets


@pytest.mark.parametrize("labels", [[[7], [3], [7], [9]], [[1, 4, -1], [4, -1, -1], [2, 5, 1]], [[-1], [6]]])
def test_in_batch_targets_match_numpy(labels):
    classes, targets = in_batch_targets(tf.constant(labels))
    expected_classes, expected_targets = numpy_in_batch_targets(labels)
    assert sorted(classes.numpy().tolist()) == sorted(expected_classes)
    order = [expected_classes.index(c) for c in classes.numpy()]
    np.testing.assert_array_equal(targets.numpy(), expected_targets[:, order])


def test_batch_word_logits_are_the_full_logits_columns(word_layer):
    x = tf.random.normal((5, 16))
    classes = tf.constant([17, 3, 199, 42])
    np.testing.assert_allclose(
        batch_word_logits(word_layer, x, classes).numpy(),
        word_layer(x).numpy()[:, [17, 3, 199, 42]],
        rtol=1e-5,
        atol=1e-6,
    )


def test_gradient_is_indexed_slices_and_zero_outside_the_batch_rows(word_layer):
    x = tf.random.normal((4, 16))
    classes, targets = in_batch_targets(tf.constant([[5], [9], [5], [120]]))
    with tf.GradientTape() as tape:
        logits = batch_word_logits(word_layer, x, classes)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(targets, logits))
    kernel_grad, bias_grad = tape.gradient(loss, [word_layer.kernel, word_layer.bias])
    assert isinstance(kernel_grad, tf.IndexedSlices) and isinstance(bias_grad, tf.IndexedSlices)
    assert sorted(set(kernel_grad.indices.numpy())) == [5, 9, 120]
    dense = tf.convert_to_tensor(kernel_grad).numpy()
    outside = np.ones(200, bool)
    outside[[5, 9, 120]] = False
    assert np.all(dense[outside] == 0) and np.all(np.abs(dense[~outside]).sum(axis=1) > 0)


def test_compiles_under_xla(word_layer):
    @tf.function(jit_compile=True)
    def step(x, labels):
        classes, targets = in_batch_targets(labels)
        with tf.GradientTape() as tape:
            logits = batch_word_logits(word_layer, x, classes)
            loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(targets, logits))
        return loss, tape.gradient(loss, word_layer.kernel)

    loss, grad = step(tf.random.normal((4, 16)), tf.constant([[5], [9], [5], [120]]))
    assert np.isfinite(loss.numpy()) and isinstance(grad, tf.IndexedSlices)
    assert "CandidateSampler" not in str(
        step.get_concrete_function(tf.TensorSpec((4, 16)), tf.TensorSpec((4, 1), tf.int32)).graph.as_graph_def()
    )


def test_model_in_batch_logits_are_its_scores_columns_for_every_head():
    model = build_model(model_config("googlenet", num_words=30, image_size=32))
    for head in model.aux_heads:  # Distinct biases, so a tower scored with the main head's rows would differ.
        head.bias.assign(tf.random.normal((30,)))
    x = tf.random.normal((3, 32, 32, 3))
    logits = in_batch_logits(model, x, tf.constant([4, 0, 29]), training=False)
    assert set(logits) == {"words", "aux_4a", "aux_4d"}
    np.testing.assert_allclose(logits["words"].numpy(), model(x).numpy()[:, [4, 0, 29]], rtol=1e-5, atol=1e-6)
    features = model.backbone(x)
    for name, head in zip(model.backbone.aux_names, model.aux_heads):
        np.testing.assert_allclose(
            logits[name].numpy(), head(features[name]).numpy()[:, [4, 0, 29]], rtol=1e-5, atol=1e-6
        )


def test_weights_are_drawn_blockwise_with_the_configured_scale():
    variable = tf.Variable(tf.zeros((3000, 40)))
    fill_normal_rows(variable, 0.05, block_bytes=40 * 4 * 128)  # ~24 blocks.
    values = variable.numpy()
    assert values.std() == pytest.approx(0.05, rel=0.02) and abs(values.mean()) < 1e-3
    assert not np.allclose(values[:128], values[128:256])  # Blocks are independent draws.
    assert np.all(np.abs(values).sum(axis=1) > 0)  # Every row, the last partial block included.


def test_draw_word_rows_fills_every_word_layer_of_a_model_built_without_them():
    model = build_model(model_config("googlenet", num_words=30, image_size=32), random_word_rows=False)
    assert not any(np.any(head.kernel.numpy()) for head in model.word_heads().values())
    draw_word_rows(model)
    kernels = [head.kernel.numpy() for head in model.word_heads().values()]
    assert len(kernels) == 3 and all(np.all(np.abs(k).sum(axis=1) > 0) for k in kernels)
    assert not np.allclose(kernels[0], kernels[1])
