import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import model_config
from wsl_tf.models import MultiClassLogisticLoss, build_model
from wsl_tf.train.word_rows import in_batch_logits, in_batch_targets


def test_scores_are_the_word_layer_on_the_embedding():
    model = build_model(model_config("alexnet", num_words=40))
    x = tf.random.normal((3, 64, 64, 3))
    scores = model(x).numpy()
    embedding = model.embed(x).numpy()
    assert scores.shape == (3, 40) and embedding.shape == (3, 512)
    np.testing.assert_allclose(
        scores, embedding @ model.head.kernel.numpy().T + model.head.bias.numpy(), rtol=1e-4, atol=1e-5
    )


def test_googlenet_training_loss_adds_the_towers_at_weight_0_3():
    model = build_model(model_config("googlenet", num_words=30, image_size=32))
    x = tf.random.normal((4, 32, 32, 3))
    classes, targets = in_batch_targets(tf.constant([[1], [7], [7], [20]]))
    logits = in_batch_logits(model, x, classes, training=False)
    assert set(logits) == {"words", "aux_4a", "aux_4d"}
    loss = MultiClassLogisticLoss()
    parts = {k: float(loss(targets, v)) for k, v in logits.items()}
    total = float(model.training_loss(targets, logits, loss))
    assert model.aux_loss_weight == 0.3
    assert total == pytest.approx(parts["words"] + 0.3 * (parts["aux_4a"] + parts["aux_4d"]), rel=1e-6)


def test_the_natural_ranking_adds_the_weighted_log_prior_and_the_balanced_one_removes_it():
    model = build_model(model_config("alexnet", num_words=40))
    x = tf.random.normal((3, 64, 64, 3))
    raw = model(x).numpy()
    np.testing.assert_allclose(model.scores(x, "natural").numpy(), raw, rtol=1e-6)  # A fresh model: no prior.
    log_prior = np.log(np.linspace(0.001, 0.3, 40)).astype(np.float32)
    model.set_prior(log_prior=log_prior, prior_weight=0.75)
    np.testing.assert_allclose(model.scores(x, "natural").numpy(), raw + 0.75 * log_prior, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.scores(x, "balanced").numpy(), raw - 0.25 * log_prior, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="ranking='popular'"):
        model.scores(x, "popular")


def test_unknown_backbone_is_named():
    with pytest.raises(ValueError, match="model.name='resnet'"):
        build_model(model_config("resnet"))
