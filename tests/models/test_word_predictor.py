import numpy as np
import pytest
import tensorflow as tf

from wsl_tf.models import MultiClassLogisticLoss, build_model, in_batch_targets
from tests.helpers import model_config


def test_scores_embeddings_and_in_batch_logits_agree():
    model = build_model(model_config("alexnet", num_words=40))
    x = tf.random.normal((3, 64, 64, 3))
    classes = tf.constant([4, 0, 33])
    scores = model(x).numpy()
    assert scores.shape == (3, 40) and model.embed(x).shape == (3, 512)
    logits = model.in_batch_logits(x, classes, training=False)
    np.testing.assert_allclose(logits["words"].numpy(), scores[:, [4, 0, 33]], rtol=1e-5, atol=1e-6)


def test_googlenet_training_loss_adds_the_towers_at_weight_0_3():
    model = build_model(model_config("googlenet", num_words=30, image_size=32))
    x = tf.random.normal((4, 32, 32, 3))
    classes, targets = in_batch_targets(tf.constant([[1], [7], [7], [20]]))
    logits = model.in_batch_logits(x, classes, training=False)
    assert set(logits) == {"words", "aux_4a", "aux_4d"}
    loss = MultiClassLogisticLoss()
    parts = {k: float(loss(targets, v)) for k, v in logits.items()}
    total = float(model.training_loss(targets, logits, loss, classes))
    assert model.aux_loss_weight == 0.3
    assert total == pytest.approx(parts["words"] + 0.3 * (parts["aux_4a"] + parts["aux_4d"]), rel=1e-6)


def test_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="model.name='resnet'"):
        build_model(model_config("resnet"))
