"""The per-word regression baseline: scores, the prior for words without positives, precision, seeded networks."""

import numpy as np

from tests.helpers import word_problem
from wsl_tf.eval import baselines
from wsl_tf.precision import mean_precision_at_k, word_ids


def test_scores_rank_each_images_words_and_a_word_without_positives_keeps_its_prior():
    x, y = word_problem(seed=2, images=600)
    y[:, -1] = 0.0  # A word no train image carries.
    train, val, test = (x[:400], y[:400]), (x[400:500], y[400:500]), (x[500:], y[500:])
    scores = baselines.regressor_scores(train, val, test, progress=False)
    assert scores.shape == (100, y.shape[1])
    assert np.all(scores[:, -1] == scores[0, -1]) and scores[0, -1] < -5  # log(0.5 / 400.5)
    fitted = mean_precision_at_k(scores, word_ids(test[1]), 1)
    frequency = mean_precision_at_k(np.tile(y[:400].sum(0), (100, 1)), word_ids(test[1]), 1)
    assert fitted > frequency + 0.2


def test_the_baseline_networks_start_from_the_same_weights_whatever_ran_before():
    import random

    import keras
    import tensorflow as tf
    from wsl_tf.configs import paper

    from wsl_tf.models import build_model

    config = paper.get_config("alexnet,k=5").model
    config.update({"image_size": 64, "width": 0.125})
    first = baselines.random_network(config, 3).get_weights()
    # Whatever ran in between moves every global random state a model's initialisation could draw from.
    random.random(), np.random.normal(), tf.random.normal([3]), keras.random.normal([3])
    build_model(config)
    second = baselines.random_network(config, 3).get_weights()
    third = baselines.random_network(config, 3, seed=1).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, b) for a, b in zip(first, third))


def test_the_chosen_regressors_are_fitted_on_every_train_image(monkeypatch):
    """C chosen on a subsample, then refitted on all train images: with one C, the full-data optimum."""
    x, y = word_problem(seed=3, images=700)
    train, val, test = (x[:500], y[:500]), (x[500:600], y[500:600]), (x[600:], y[600:])
    monkeypatch.setattr(baselines, "C_GRID", (0.1,))
    monkeypatch.setattr(baselines, "MAX_ITER", 1000)
    subsampled = baselines.regressor_scores(train, val, test, progress=False, selection_images=50)
    everything = baselines.regressor_scores(train, val, test, progress=False, selection_images=10_000)
    np.testing.assert_allclose(subsampled, everything, rtol=5e-3, atol=5e-3)  # L-BFGS's tolerance apart.
    on_the_subsample_only = baselines.regressor_scores((x[:50], y[:50]), val, test, progress=False)
    assert np.abs(on_the_subsample_only - everything).max() > 0.5
