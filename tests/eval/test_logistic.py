"""The L-BFGS logistic regressions against scikit-learn's LogisticRegression on the same problems."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tests.helpers import word_problem
from wsl_tf.eval import logistic


def class_problem(seed=0, images=400, features=10, classes=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, features))
    labels = rng.integers(0, classes, images)
    return (centres[labels] + 1.5 * rng.normal(size=(images, features))).astype(np.float32), labels


@pytest.mark.parametrize("c", [0.01, 1.0])
def test_all_words_fitted_at_once_equal_one_scikit_learn_fit_per_word(c):
    x, y = word_problem()
    weights = logistic.one_vs_all_logistic(x, y, c, tolerance=1e-7)  # Float32 products: about four digits.
    for k in range(y.shape[1]):
        reference = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(x, y[:, k])
        np.testing.assert_allclose(weights[:-1, k], reference.coef_[0], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(weights[-1, k], reference.intercept_[0], rtol=1e-3, atol=1e-3)


def test_a_warm_start_reaches_the_same_optimum():
    x, y = word_problem(seed=1)
    cold = logistic.one_vs_all_logistic(x, y, 1.0, tolerance=1e-8)
    warm = logistic.one_vs_all_logistic(x, y, 1.0, start=logistic.one_vs_all_logistic(x, y, 0.01), tolerance=1e-8)
    np.testing.assert_allclose(warm, cold, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("c", [0.01, 1.0])
def test_the_softmax_regressor_is_scikit_learns_multinomial_one(c):
    x, labels = class_problem()
    weights = logistic.softmax_logistic(x, labels, 4, c, tolerance=1e-7)
    reference = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(x, labels)
    np.testing.assert_allclose(weights[:-1], reference.coef_.T, rtol=1e-3, atol=1e-3)
    # Softmax ignores a constant added to every bias: compare the probabilities.
    scores = logistic.scores(x, weights)
    probabilities = np.exp(scores - scores.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    np.testing.assert_allclose(probabilities, reference.predict_proba(x), atol=1e-3)
    assert np.mean(np.argmax(scores, 1) == reference.predict(x)) > 0.99


def test_a_softmax_warm_start_reaches_the_same_probabilities():
    x, labels = class_problem(seed=1)
    cold = logistic.scores(x, logistic.softmax_logistic(x, labels, 4, 1.0, tolerance=1e-8))
    start = logistic.softmax_logistic(x, labels, 4, 0.01)
    warm = logistic.scores(x, logistic.softmax_logistic(x, labels, 4, 1.0, start=start, tolerance=1e-8))
    np.testing.assert_allclose(
        warm - warm.mean(1, keepdims=True), cold - cold.mean(1, keepdims=True), rtol=1e-3, atol=1e-3
    )
