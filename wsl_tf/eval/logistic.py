"""L2-regularised logistic regressions fitted by one L-BFGS run each, on float32 matrix products.

Both minimise scikit-learn's LogisticRegression objective (0.5 |w|^2 + C *
sum of log-losses, the bias unpenalised) with its stopping rule (L-BFGS's
gradient tolerance on the per-image mean), so their optima are scikit-learn's;
every step is two float32 matrix products instead of scikit-learn's float64
ones, and a path over C can start each fit from the previous one's weights.

L-BFGS runs in whitened coordinates: w = T v, T chosen so that an estimate
of the objective's curvature (the features' covariance times the labels'
mean variance, plus the penalty) becomes the identity. It is a change of
variables, not of the problem: the optimum is the same, and L-BFGS gets near
it in fewer steps on correlated features. On the demo's word baselines (1,000
words, 19,714 images, a random network's 512 features) 25 whitened steps
reach a lower objective than 100 steps without (16.11 against 16.26), in a
quarter of the time; on transfer's softmax (84 classes, 1,232 images) 50
whitened steps about match 100 without. Iteration caps and tolerances apply
to v.

- one_vs_all_logistic: K independent binary regressors, one per column of a
  multi-hot matrix (the word-prediction baselines), their data term computed
  by TensorFlow on every core, a block of images at a time: at 1,000 words
  over 20,000 images each step touches 20 million margins, and numpy's
  single-threaded element-wise passes took twice as long as TensorFlow's;
- softmax_logistic: one multinomial regressor over classes (transfer's linear
  classifier).
"""

import numpy as np

_FTOL = 64 * np.finfo(float).eps  # scikit-learn's.
# Curvature bounds of the per-image losses, as multiples of x x^T: the logistic loss's second derivative is at
# most 1/4; the softmax's Hessian is at most (I - 1 1^T / K) / 2 per image (Böhning, 1992).
LOGISTIC_CURVATURE = 0.01
SOFTMAX_CURVATURE = 0.5


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x, np.ones((len(x), 1), x.dtype)], 1).astype(np.float32)


class Whitening:
    """The change of variables w = T v under which the curvature estimate (curvature x^T x / n + scale on the
    penalised weights) is the identity, for features x [N, E]; v's last row is the bias's.

    curvature: the per-image loss's second derivative, about: a label's
    variance p (1 - p) at the optimum, averaged over the outputs.

    The features are centred first (the bias absorbs the mean: the same
    objective), so the bound splits into the features' block and the bias's,
    and one eigendecomposition of the features' covariance serves every C:
    T = U diag(1 / sqrt(curvature s + scale)) on the features, and the
    penalty in v is diagonal, 1 / (curvature s + scale).
    """

    def __init__(self, x: np.ndarray, scale: float, curvature: float, eigen=None):
        self.mean = x.mean(0, dtype=np.float64)
        self.values, self.vectors = eigen if eigen is not None else covariance_eigen(x)
        self.curvature = curvature
        self.root = np.sqrt(curvature * self.values + scale)  # Per direction: sqrt of the bound's eigenvalue.
        self.penalty = np.append(1.0 / self.root**2, 0.0)[:, None]  # Diagonal of Q, the bias unpenalised.
        rotated = (np.asarray(x, np.float32) - self.mean.astype(np.float32)) @ self.vectors.astype(np.float32)
        self.features = np.concatenate(
            [rotated / self.root.astype(np.float32), np.full((len(x), 1), 1 / np.sqrt(curvature), np.float32)], 1
        )

    def weights(self, v: np.ndarray) -> np.ndarray:
        """w [E + 1, outputs] (bias last) of v."""
        features = self.vectors @ (v[:-1] / self.root[:, None])
        bias = v[-1] / np.sqrt(self.curvature) - self.mean @ features
        return np.concatenate([features, bias[None]], 0)

    def coordinates(self, weights: np.ndarray) -> np.ndarray:
        """v of weights w."""
        features = self.root[:, None] * (self.vectors.T @ weights[:-1])
        bias = np.sqrt(self.curvature) * (weights[-1] + self.mean @ weights[:-1])
        return np.concatenate([features, bias[None]], 0)


def covariance_eigen(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvalues, eigenvectors) of the centred features' covariance x_c^T x_c / N, in float64."""
    centred = x - x.mean(0, dtype=np.float64).astype(x.dtype)
    covariance = centred.T.astype(np.float64) @ centred.astype(np.float64) / max(len(x), 1)
    values, vectors = np.linalg.eigh(covariance)
    return np.maximum(values, 0.0), vectors


# one_vs_all_logistic's data term takes images in blocks whose [images, outputs] float32 arrays stay within this
# size: larger arrays are mapped and unmapped by malloc at each use, and the page faults cost as much system time
# as a quarter of the arithmetic (1,000 words over 20,000 images: 7.2 s a fit, from 9.3 s).
BLOCK_BYTES = 8 << 20
# Above this many multiply-adds a product (images x features x outputs), BLAS may use every core.
LARGE_PRODUCT = 1 << 27


def _minimise(data_term, whitening: Whitening, scale: float, outputs: int, start, max_iter, tolerance) -> np.ndarray:
    """Weights [E + 1, outputs] minimising data_term(v) + 0.5 scale v^T Q v by L-BFGS-B over v, from start
    (weights; zeros by default), on one BLAS thread unless each product is large.

    data_term(v [E + 1, outputs] float32) -> (mean loss, its gradient in v). Small products (softmax over 20
    classes) ran 8x slower when OpenBLAS woke its threads for them on 2 cores; large ones (1,000 words over
    20,000 images) run about 2x faster on both cores.
    """
    from scipy.optimize import minimize
    from threadpoolctl import threadpool_limits

    columns = whitening.features.shape[1]
    shape = (columns, outputs)

    def objective(flat):
        v = flat.reshape(shape)
        loss, gradient = data_term(v.astype(np.float32))
        penalty = whitening.penalty * v
        total = float(loss) + 0.5 * scale * float(np.sum(v * penalty))
        return total, (np.asarray(gradient, np.float64) + scale * penalty).ravel()

    initial = np.zeros(shape) if start is None else whitening.coordinates(np.asarray(start, np.float64))
    products = len(whitening.features) * columns * outputs
    with threadpool_limits(limits=None if products >= LARGE_PRODUCT else 1, user_api="blas"):
        solved = minimize(
            objective,
            initial.ravel(),
            jac=True,
            method="L-BFGS-B",
            options=dict(maxiter=max_iter, gtol=tolerance, ftol=_FTOL),
        )
    return whitening.weights(solved.x.reshape(shape))


def one_vs_all_logistic(
    x: np.ndarray,
    y: np.ndarray,
    c: float,
    start: np.ndarray | None = None,
    max_iter: int = 1000,
    tolerance: float = 1e-4,
    eigen: tuple | None = None,
) -> np.ndarray:
    """Weights [E + 1, K] (bias last) of K logistic regressors, one per column of y [N, K], fitted at once.

    The K problems are independent, so their sum is minimised by one run; it
    stops when every column's gradient is below tolerance. eigen: x's
    covariance_eigen, when a path over C has it already.
    """
    import tensorflow as tf

    n = len(x)
    scale = 1.0 / (c * n)
    frequency = np.asarray(y, np.float64).mean(0)
    whitening = Whitening(x, scale, float(np.clip(np.mean(frequency * (1 - frequency)), 1e-3, 0.25)), eigen)
    features = tf.constant(whitening.features)
    signs = tf.constant(2.0 * y.astype(np.float32) - 1.0)
    rows = max(1, BLOCK_BYTES // (4 * y.shape[1]))

    @tf.function
    def data_term(v):
        """The mean log-loss (each image's sum in float32, their sum in float64) and its gradient, a block of
        images at a time."""
        loss, gradient = tf.constant(0.0, tf.float64), tf.zeros_like(v)
        for start in tf.range(0, n, rows):
            block_signs = signs[start : start + rows]
            block = features[start : start + rows]
            margins = block_signs * tf.matmul(block, v)
            loss += tf.reduce_sum(tf.cast(tf.reduce_sum(tf.math.softplus(-margins), 1), tf.float64))
            gradient += tf.matmul(block, -block_signs * tf.sigmoid(-margins), transpose_a=True)
        return loss / n, gradient / n

    def data_term_numpy(v):
        loss, gradient = data_term(tf.constant(v))
        return float(loss), gradient.numpy()

    return _minimise(data_term_numpy, whitening, scale, y.shape[1], start, max_iter, tolerance)


def softmax_logistic(
    x: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    c: float,
    start: np.ndarray | None = None,
    max_iter: int = 1000,
    tolerance: float = 1e-4,
    eigen: tuple | None = None,
) -> np.ndarray:
    """Weights [E + 1, num_classes] (bias last) of a multinomial logistic regressor; labels [N] in 0..num_classes-1;
    eigen as for one_vs_all_logistic.

    scikit-learn's multinomial objective: the weights are its coef_.T, the
    biases its intercept_ up to a constant (softmax ignores one).
    """
    n = len(x)
    scale = 1.0 / (c * n)
    whitening = Whitening(x, scale, 1.0 / num_classes, eigen)
    features = whitening.features
    onehot = np.eye(num_classes, dtype=np.float32)[labels]

    def data_term(v):
        logits = features @ v
        logits -= logits.max(1, keepdims=True)
        log_normaliser = np.log(np.sum(np.exp(logits), 1, keepdims=True))
        loss = np.sum(log_normaliser - np.sum(onehot * logits, 1, keepdims=True), dtype=np.float64) / n
        residual = np.exp(logits - log_normaliser) - onehot  # softmax - target
        return loss, features.T @ residual / n

    return _minimise(data_term, whitening, scale, num_classes, start, max_iter, tolerance)


def scores(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """[N, K] decision scores x @ w + b of the weights either fit returns."""
    return x.astype(np.float32) @ weights[:-1].astype(np.float32) + weights[-1].astype(np.float32)
