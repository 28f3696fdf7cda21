"""Transfer's linear classifier (paper section 4.2), and a pool of processes that fits several at once.

`linear_accuracy` is the protocol: random 60 / 20 / 20 train / val / test
splits, each with C chosen on val among C_GRID, then refitted on train + val
and scored on test. Its fits are small single-threaded problems (a few
hundred features, tens of classes), so an evaluation's many of them (every
labelled set times every kind of features, every training choice) run in
`FitPool`'s processes, one per core, while the main process computes the
next features in TensorFlow.

This module and the ones it imports never import TensorFlow: the pool's
processes start with numpy and scipy only.
"""

import concurrent.futures
import multiprocessing
import os
import threading

import numpy as np
from tqdm import tqdm

from wsl_tf.eval import logistic

C_GRID = (0.01, 0.1, 1.0, 10.0)
# L-BFGS iterations per fit, in whitened coordinates (wsl_tf/eval/logistic.py). On the demo's transfer (8 sets of
# features, 10 to 84 classes; benchmarks/linear_classifier.py --run) 10 give every accuracy within 0.0063 of a
# converged fit's (300), inside a third of the spreads over the splits (0.012 to 0.031), in 23% of its time (15:
# within 0.0043, in 28%).
MAX_ITER = 10


def standardised(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """train and others scaled by train's per-feature mean and standard deviation."""
    mean, std = _scaling(train)
    return [(x - mean) / std for x in (train, *others)]


def _scaling(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return train.mean(0), train.std(0) + 1e-6


def restandardised_weights(weights: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Weights [E + 1, C] (bias last) on features standardised by `before`'s scaling, turned into the weights
    of the same scores on features standardised by `after`'s (a warm start when the standardisation moves)."""
    (mean_before, std_before), (mean_after, std_after) = _scaling(before), _scaling(after)
    raw = weights[:-1] / std_before[:, None]  # Per raw feature.
    bias = weights[-1] - mean_before @ raw + mean_after @ raw
    return np.concatenate([raw * std_after[:, None], bias[None]], 0)


class SoftmaxPath:
    """Multinomial regressors over the classes present in the train labels, each fit starting from the last."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, max_iter: int = MAX_ITER):
        self.features, self.max_iter = features, max_iter
        self.classes, self.encoded = np.unique(labels, return_inverse=True)
        self.weights = None
        self.eigen = logistic.covariance_eigen(features)
        self.fitted = {}  # C -> its weights.

    def fit(self, c: float, start: np.ndarray | None = None) -> "SoftmaxPath":
        """The regressor at C, from start or else the last fit's weights."""
        start = self.weights if start is None else start
        self.weights = logistic.softmax_logistic(
            self.features, self.encoded, len(self.classes), c, start=start, max_iter=self.max_iter, eigen=self.eigen
        )
        self.fitted[c] = self.weights
        return self

    def accuracy(self, features: np.ndarray, labels: np.ndarray) -> float:
        predicted = self.classes[np.argmax(logistic.scores(features, self.weights), 1)]
        return float(np.mean(predicted == labels))


def linear_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    splits: int = 10,
    seed: int = 0,
    grid=C_GRID,
    progress: bool = True,
    max_iter: int = MAX_ITER,
) -> dict:
    """Accuracy mean and std over random 60 / 20 / 20 train / val / test splits; C chosen on val per split.

    The classifier is multinomial logistic regression (scikit-learn's
    objective, fitted in whitened coordinates, wsl_tf/eval/logistic.py). The
    grid is fitted from the strongest penalty up, each fit starting from the
    previous one's weights; the refit on train + val starts from the chosen
    fit's (its classes permitting).
    """
    orders = split_orders(len(labels), splits, seed)
    return summary(
        [
            split_accuracy(features, labels, order, grid, max_iter)
            for order in tqdm(orders, desc="regressions", disable=not progress)
        ],
        len(labels),
    )


def principal_components(x: np.ndarray, dims: int) -> np.ndarray:
    """The rows of x [N, D] projected on their `dims` principal components (at most N - 1): [N, dims].

    The raw-pixel floor at the embedding's size: a 64 px image is 12,288 numbers, and 10 splits of a C search
    over them took minutes a labelled set; their first 512 components keep nearly all of their variance.
    """
    from scipy.linalg import eigh

    centred = (x - x.mean(0)).astype(np.float32)
    dims = min(dims, len(x) - 1, x.shape[1])
    if dims <= 0:
        return np.zeros((len(x), 0), np.float32)
    gram = centred @ centred.T  # [N, N]: cheaper than an SVD of [N, D] when D >> N.
    # Only the top `dims` eigenpairs (LAPACK's relatively robust representations): a third less time than all N.
    values, vectors = eigh(gram.astype(np.float64), subset_by_index=[len(x) - dims, len(x) - 1], driver="evr")
    top = np.argsort(values)[::-1]
    return (vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))).astype(np.float32)


def pixel_floor_accuracy(
    pixels: np.ndarray, labels: np.ndarray, dims: int, splits: int = 10, seed: int = 0, grid=C_GRID, max_iter=MAX_ITER
) -> dict:
    """linear_accuracy of the pixels [N, D] on their first `dims` principal components: the raw-pixel floor, whole
    (components and classifiers), as one task of a FitPool."""
    return linear_accuracy(principal_components(pixels, dims), labels, splits, seed, grid, False, max_iter)


def split_orders(count: int, splits: int, seed: int) -> list[np.ndarray]:
    """Each split's order of the images (train, val, test: its first 60%, next 20%, last 20%), seeded."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(count) for _ in range(splits)]


def split_accuracy(features: np.ndarray, labels: np.ndarray, order: np.ndarray, grid, max_iter: int) -> tuple:
    """(test accuracy, C chosen on val) of one split's classifier: linear_accuracy's work for one split."""
    a, b = int(0.6 * len(order)), int(0.8 * len(order))
    train, val, test = order[:a], order[a:b], order[b:]
    x_train, x_val = standardised(features[train], features[val])
    path = SoftmaxPath(x_train, labels[train], max_iter)
    val_accuracy = {c: path.fit(c).accuracy(x_val, labels[val]) for c in sorted(grid)}
    best = max(grid, key=val_accuracy.get)
    both = np.concatenate([train, val])
    x_both, x_test = standardised(features[both], features[test])
    refit = SoftmaxPath(x_both, labels[both], max_iter)
    start = None
    if np.array_equal(refit.classes, path.classes):
        start = restandardised_weights(path.fitted[best], features[train], features[both])
    return refit.fit(best, start).accuracy(x_test, labels[test]), best


def summary(per_split: list[tuple], images: int) -> dict:
    """linear_accuracy's dict of each split's (accuracy, chosen C)."""
    accuracies = [accuracy for accuracy, _ in per_split]
    return {
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "splits": len(per_split),
        "images": int(images),
        "c_chosen": [float(c) for _, c in per_split],
        "accuracies": [float(a) for a in accuracies],
    }


def margin_in_sd(ours: dict, floor: dict) -> float | None:
    """How far our mean accuracy is above a floor's, in standard deviations of the splits (the larger of the two).

    Both measured on the same splits with the same C search (linear_accuracy's seed).
    """
    spread = max(ours["accuracy_std"], floor["accuracy_std"])
    difference = ours["accuracy_mean"] - floor["accuracy_mean"]
    return None if spread == 0 else difference / spread


def usable_cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


# How much lower a pool worker's scheduling priority is than the process that started it (os.nice): the workers
# take the cores the main process leaves idle (while it traces a step or validates) rather than slowing its
# training, and still get every core once it waits for them.
WORKER_NICENESS = 19


# Environment variables that give each thread pool a worker may load later (scipy's own OpenBLAS, scikit-learn's
# OpenMP in t-SNE) one thread.
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _start_worker() -> None:
    """A pool worker runs at a lower priority, every thread pool of its libraries on one thread (BLAS, OpenMP):
    the workers and the main process's TensorFlow share the cores. A pool of two threads in a worker the
    scheduler keeps pausing spins in its barriers: t-SNE in a worker took 28 CPU-s instead of 7."""
    from threadpoolctl import threadpool_limits

    global _THREAD_LIMITS
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    os.environ.update(dict.fromkeys(_ONE_THREAD, "1"))  # Pools not loaded yet read these when they load.
    _THREAD_LIMITS = threadpool_limits(limits=1)  # Those loaded already.


_THREAD_LIMITS = None


class FitPool:
    """linear_accuracy fits run in `processes` worker processes (0: one per usable core; 1: in this process).

    submit() returns a concurrent.futures.Future of linear_accuracy's dict;
    the results are exactly those of calling it here (the same code on one
    BLAS thread). Each split is a task of its own, so that a fit's splits
    run on every worker and the last fit of an evaluation does not leave
    all but one core waiting. A fit that fails raises its own error from
    result(), with the worker's traceback. call() runs any other function
    that needs no TensorFlow (word2vec) in the same workers. The workers
    start on the first task (spawned, never forked: the parent runs
    TensorFlow's threads) and stop at close().
    """

    def __init__(self, processes: int = 0):
        if processes < 0:
            raise ValueError(f"processes={processes}: must be >= 0 (0: one per core)")
        self.processes = processes or usable_cores()
        self._executor = None

    def submit(
        self, features: np.ndarray, labels: np.ndarray, splits: int = 10, seed: int = 0, grid=C_GRID, max_iter=MAX_ITER
    ) -> concurrent.futures.Future:
        """linear_accuracy(features, labels, splits, seed, grid, max_iter=max_iter), fitted in the workers."""
        if self.processes == 1:
            return self.call(linear_accuracy, features, labels, splits, seed, grid, False, max_iter)
        per_split = [
            self.call(split_accuracy, features, labels, order, grid, max_iter)
            for order in split_orders(len(labels), splits, seed)
        ]
        return gathered(per_split, lambda results: summary(results, len(labels)))

    def call(self, function, *args) -> concurrent.futures.Future:
        """function(*args) in a worker (here, with one process); its Future."""
        if self.processes == 1:
            done = concurrent.futures.Future()
            try:
                done.set_result(function(*args))
            except Exception as error:  # noqa: BLE001 -- raised by result(), as a worker's error is.
                done.set_exception(error)
            return done
        if self._executor is None:
            self._executor = concurrent.futures.ProcessPoolExecutor(
                self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker
            )
        return self._executor.submit(function, *args)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> "FitPool":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def gathered(futures: list, combine) -> concurrent.futures.Future:
    """A Future of combine([each future's result]) once all are done; the first error among them, if any."""
    done = concurrent.futures.Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_):
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        try:
            done.set_result(combine([future.result() for future in futures]))
        except BaseException as error:  # noqa: BLE001 -- handed to whoever waits on the result.
            done.set_exception(error)

    if not futures:
        done.set_result(combine([]))
    for future in futures:
        future.add_done_callback(one_done)
    return done
