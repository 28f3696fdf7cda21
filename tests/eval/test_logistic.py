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
@pytest.mark.parametrize("block_bytes", [logistic.BLOCK_BYTES, 4 * 6 * 7])  # One block; blocks of 7 images and a rest.
def test_all_words_fitted_at_once_equal_one_scikit_learn_fit_per_word(c, block_bytes, monkeypatch):
    monkeypatch.setattr(logistic, "BLOCK_BYTES", block_bytes)
    x, y = word_problem()
    assert len(x) % 7 and y.shape[1] == 6
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


def correlated_word_problem(seed=2, images=600, features=40, words=20):
    """Words of features that are mixtures of a few factors, with an offset: the covariance's eigenvalues span
    six orders of magnitude, as a ReLU network's penultimate features' do."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(images, 8))
    x = factors @ rng.normal(size=(8, features)) + 1e-3 * rng.normal(size=(images, features)) + 3.0
    y = (factors @ rng.normal(size=(8, words)) + rng.normal(size=(images, words)) > 1.0).astype(np.float32)
    return x.astype(np.float32), y


def log_loss_objective(x, y, weights, c):
    """scikit-learn's objective: 0.5 |w|^2 + C * the summed log-losses, the bias unpenalised (numpy, float64)."""
    margins = (2 * y - 1) * (x.astype(np.float64) @ weights[:-1] + weights[-1])
    return 0.5 * np.sum(weights[:-1] ** 2) + c * np.sum(np.logaddexp(0.0, -margins))


def test_the_whitening_is_a_change_of_variables_not_of_the_problem():
    x, _ = correlated_word_problem()
    whitening = logistic.Whitening(x, scale=0.01, curvature=0.2)
    v = np.random.default_rng(0).normal(size=(x.shape[1] + 1, 3))
    weights = whitening.weights(v)
    np.testing.assert_allclose(whitening.coordinates(weights), v, atol=1e-8)
    # The whitened features under v score as the original ones under w, and the penalty is |w|^2 without the bias.
    np.testing.assert_allclose(whitening.features @ v, logistic.scores(x, weights), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(np.sum(whitening.penalty * v**2), np.sum(weights[:-1] ** 2), rtol=1e-8)


@pytest.mark.parametrize("c", [0.01, 1.0])
def test_whitened_capped_fits_get_near_the_optimum_where_unwhitened_ones_do_not(c):
    """30 steps on features whose covariance is badly conditioned: the whitened fit's excess over the optimum's
    objective a tenth of plain L-BFGS's from the same start, or less. The optimum: plain L-BFGS in float64 run
    to convergence, checked against scikit-learn's."""
    from scipy.optimize import minimize

    x, y = correlated_word_problem()

    def plain(flat):  # scikit-learn's objective in w, with its gradient, float64.
        weights = flat.reshape(x.shape[1] + 1, 20)
        margins = (2 * y - 1) * (x.astype(np.float64) @ weights[:-1] + weights[-1])
        slope = -(2 * y - 1) * c / (1 + np.exp(margins))
        gradient = np.concatenate([x.T @ slope + weights[:-1], slope.sum(0, keepdims=True)])
        return log_loss_objective(x, y, weights, c), gradient.ravel()

    def plain_fit(steps, tolerance=1e-5):
        options = dict(maxiter=steps, gtol=tolerance, ftol=1e-15)
        return minimize(plain, np.zeros((x.shape[1] + 1) * 20), jac=True, method="L-BFGS-B", options=options).fun

    optimum = plain_fit(100_000, 1e-9)
    scikit_learn = sum(
        log_loss_objective(x, y[:, [k]], np.append(r.coef_[0], r.intercept_)[:, None], c)
        for k, r in enumerate(LogisticRegression(C=c, tol=1e-10, max_iter=100_000).fit(x, y[:, k]) for k in range(20))
    )
    assert optimum <= scikit_learn + 1e-6 * abs(optimum)
    fitted = log_loss_objective(x, y, logistic.one_vs_all_logistic(x, y, c, max_iter=30), c)
    assert -1e-6 * abs(optimum) <= fitted - optimum < 0.1 * (plain_fit(30) - optimum)
