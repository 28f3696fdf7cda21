"""L2-regularised logistic regressions fitted by one L-BFGS run each, on float32 matrix products.

Both minimise scikit-learn's LogisticRegression objective (0.5 |w|^2 + C *
sum of log-losses, the bias unpenalised) with its stopping rule (L-BFGS's
gradient tolerance on the per-image mean), so their optima are scikit-learn's;
every step is two float32 matrix products instead of scikit-learn's float64
ones, and a path over C can start each fit from the previous one's weights.

- one_vs_all_logistic: K independent binary regressors, one per column of a
  multi-hot matrix (the word-prediction baselines), their data term computed
  by TensorFlow on every core: at 1,000 words over 20,000 images each step
  touches 20 million margins, and numpy's single-threaded element-wise passes
  took twice as long as TensorFlow's;
- softmax_logistic: one multinomial regressor over classes (transfer's linear
  classifier).
"""

import numpy as np

_FTOL = 64 * np.finfo(float).eps  # scikit-learn's.


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((len(x), 1), x.dtype)], 1).astype(np.float32)


def _penalty_mask(features: int) -> np.ndarray:
    penalised = np.ones((features + 1, 1))
    penalised[-1] = 0.0
    return penalised


# Above this many multiply-adds a product (images x features x outputs), BLAS may use every core.
LARGE_PRODUCT = 1 << 27


def _minimise(objective, shape, start, max_iter, tolerance, products: int) -> np.ndarray:
    """L-BFGS-B from start (zeros by default), on one BLAS thread unless each product is large.

    Small products (softmax over 20 classes) ran 8x slower when OpenBLAS woke
    its threads for them on 2 cores; large ones (1,000 words over 20,000
    images) run about 2x faster on both cores.
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    initial = np.zeros(int(np.prod(shape))) if start is None else np.asarray(start, np.float64).ravel()
    with threadpool_limits(limits=None if products >= LARGE_PRODUCT else 1, user_api="blas"):
        solved = minimize(
            objective, initial, jac=True, method="L-BFGS-B", options=dict(maxiter=max_iter, gtol=tolerance, ftol=_FTOL)
        )
    return solved.x.reshape(shape)


def one_vs_all_logistic(
    x: np.ndarray,
    y: np.ndarray,
    c: float,
    start: np.ndarray | None = None,
    max_iter: int = 1000,
    tolerance: float = 1e-4,
) -> np.ndarray:
    """Weights [E + 1, K] (bias last) of K logistic regressors, one per column of y [N, K], fitted at once.

    The K problems are independent, so their sum is minimised by one run; it
    stops when every column's gradient is below tolerance.
    """
    import tensorflow as tf

    n, e = x.shape
    k = y.shape[1]
    ones = tf.constant(_with_bias(x))
    signs = tf.constant(2.0 * y.astype(np.float32) - 1.0)
    penalised = _penalty_mask(e)
    scale = 1.0 / (c * n)

    @tf.function
    def data_term(weights):
        """The mean log-loss (summed in float64) and its gradient, float32 products."""
        margins = signs * tf.matmul(ones, weights)
        small = tf.exp(-tf.abs(margins))
        loss = tf.reduce_sum(tf.cast(tf.math.log1p(small) + tf.maximum(-margins, 0.0), tf.float64)) / n
        slope = -signs * tf.where(margins >= 0, small, tf.ones_like(small)) / (1.0 + small)  # -sign * sigmoid(-m)
        return loss, tf.matmul(ones, slope, transpose_a=True) / n

    def objective(flat):
        weights = flat.reshape(e + 1, k)
        loss, gradient = data_term(tf.constant(weights, tf.float32))
        gradient = gradient.numpy().astype(np.float64) + scale * penalised * weights
        return float(loss) + 0.5 * scale * np.sum(penalised * weights**2), gradient.ravel()

    return _minimise(objective, (e + 1, k), start, max_iter, tolerance, n * (e + 1) * k)


def softmax_logistic(
    x: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    c: float,
    start: np.ndarray | None = None,
    max_iter: int = 1000,
    tolerance: float = 1e-4,
) -> np.ndarray:
    """Weights [E + 1, num_classes] (bias last) of a multinomial logistic regressor; labels [N] in 0..num_classes-1.

    scikit-learn's multinomial objective: the weights are its coef_.T, the
    biases its intercept_ up to a constant (softmax ignores one).
    """
    n, e = x.shape
    ones = _with_bias(x)
    onehot = np.eye(num_classes, dtype=np.float32)[labels]
    penalised = _penalty_mask(e)
    scale = 1.0 / (c * n)

    def objective(flat):
        weights = flat.reshape(e + 1, num_classes)
        logits = ones @ weights.astype(np.float32)
        logits -= logits.max(1, keepdims=True)
        log_normaliser = np.log(np.sum(np.exp(logits), 1, keepdims=True))
        loss = np.sum(log_normaliser - np.sum(onehot * logits, 1, keepdims=True), dtype=np.float64) / n
        residual = np.exp(logits - log_normaliser) - onehot  # softmax - target
        gradient = (ones.T @ residual).astype(np.float64) / n + scale * penalised * weights
        return loss + 0.5 * scale * np.sum(penalised * weights**2), gradient.ravel()

    return _minimise(objective, (e + 1, num_classes), start, max_iter, tolerance, len(x) * (e + 1) * num_classes)


def scores(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[N, K] decision scores x @ w + b of the weights either fit returns."""
    return x.astype(np.float32) @ weights[:-1].astype(np.float32) + weights[-1].astype(np.float32)
