"""Transfer's linear classifier against scikit-learn, and its pool of processes against fitting in this one."""

import concurrent.futures
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from wsl_tf.eval import linear


def blobs(n=300, classes=3, dim=6, spread=1.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim)) * 3
    labels = rng.integers(0, classes, n)
    return centres[labels] + rng.normal(size=(n, dim)) * spread, labels


def test_linear_accuracy_is_scikit_learns_on_the_same_split():
    features, labels = blobs(spread=2.5)
    got = linear.linear_accuracy(features, labels, splits=3, progress=False)
    rng = np.random.default_rng(0)
    accuracies = []
    for c in got["c_chosen"]:
        order = rng.permutation(len(labels))
        both, test = order[: int(0.8 * len(order))], order[int(0.8 * len(order)) :]
        mean, std = features[both].mean(0), features[both].std(0) + 1e-6
        model = LogisticRegression(C=c, max_iter=1000).fit((features[both] - mean) / std, labels[both])
        accuracies.append(model.score((features[test] - mean) / std, labels[test]))
    assert got["accuracy_mean"] == pytest.approx(np.mean(accuracies))
    assert got["accuracy_std"] == pytest.approx(np.std(accuracies))
    assert 0.6 < got["accuracy_mean"] <= 1.0


def test_linear_accuracy_fits_at_the_iteration_cap_it_is_given():
    """At a cap far above the default the fits are scikit-learn's converged ones, split by split."""
    features, labels = blobs(n=240, classes=4, dim=12, spread=3.0, seed=5)
    got = linear.linear_accuracy(features, labels, splits=3, progress=False, max_iter=500)
    rng = np.random.default_rng(0)
    for c, accuracy in zip(got["c_chosen"], got["accuracies"]):
        order = rng.permutation(len(labels))
        both, test = order[: int(0.8 * len(order))], order[int(0.8 * len(order)) :]
        mean, std = features[both].mean(0), features[both].std(0) + 1e-6
        model = LogisticRegression(C=c, max_iter=5000, tol=1e-8).fit((features[both] - mean) / std, labels[both])
        assert accuracy == pytest.approx(model.score((features[test] - mean) / std, labels[test]))
    short = linear.linear_accuracy(features, labels, splits=3, progress=False, max_iter=1)
    assert short["accuracies"] != got["accuracies"] or short["c_chosen"] != got["c_chosen"]


def test_a_margin_is_the_difference_in_the_larger_spread():
    ours, floor = {"accuracy_mean": 0.6, "accuracy_std": 0.02}, {"accuracy_mean": 0.5, "accuracy_std": 0.04}
    assert linear.margin_in_sd(ours, floor) == pytest.approx(2.5)
    assert linear.margin_in_sd(floor, ours) == pytest.approx(-2.5)
    assert (
        linear.margin_in_sd({"accuracy_mean": 1.0, "accuracy_std": 0.0}, {"accuracy_mean": 1.0, "accuracy_std": 0.0})
        is None
    )


def test_linear_accuracy_lists_each_splits_accuracy():
    features, labels = blobs(spread=2.5)
    got = linear.linear_accuracy(features, labels, splits=4, progress=False)
    assert len(got["accuracies"]) == 4 and got["accuracy_mean"] == pytest.approx(np.mean(got["accuracies"]))
    assert got["accuracy_std"] == pytest.approx(np.std(got["accuracies"]))


def test_the_pools_processes_give_exactly_the_fits_of_this_process():
    jobs = [blobs(spread=2.5, seed=1), blobs(n=200, classes=4, spread=1.5, seed=2), blobs(spread=4.0, seed=3)]
    expected = [linear.linear_accuracy(x, y, splits=3, progress=False) for x, y in jobs]
    with linear.FitPool(2) as pool:
        submitted = [pool.submit(x, y, splits=3) for x, y in jobs]
        assert [fit.result() for fit in submitted] == expected


def test_a_fit_that_fails_in_the_pool_raises_its_own_error():
    features, labels = blobs()
    with linear.FitPool(2) as pool:
        broken = pool.submit(features[:10], labels, splits=1)  # More labels than images: an index past the end.
        with pytest.raises(IndexError):
            broken.result()


def test_one_process_fits_here_and_a_negative_count_is_refused():
    features, labels = blobs(seed=4)
    with linear.FitPool(1) as pool:
        fit = pool.submit(features, labels, splits=2)
        assert fit.done() and pool._executor is None
        assert fit.result() == linear.linear_accuracy(features, labels, splits=2, progress=False)
    assert linear.FitPool(0).processes == linear.usable_cores()
    with pytest.raises(ValueError, match="processes=-1"):
        linear.FitPool(-1)


def test_the_pools_module_and_every_task_the_evaluation_hands_it_start_without_tensorflow():
    """The modules of the functions run in the pool (linear's fits and raw-pixel floors, word2vec and the word
    lists, the pictures): a worker that imported TensorFlow would take seconds and its memory for nothing."""
    modules = "wsl_tf.eval.linear, wsl_tf.eval.embeddings, wsl_tf.eval.pictures"
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {modules}; print('tensorflow' in sys.modules, 'keras' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert imported == ["False", "False"]


def test_restandardised_weights_score_as_the_weights_they_came_from():
    rng = np.random.default_rng(0)
    features = rng.normal(3.0, 2.0, size=(60, 5)) * rng.uniform(0.1, 10, 5)
    before, after = features[:30], features
    weights = rng.normal(size=(6, 4))
    moved = linear.restandardised_weights(weights, before, after)
    (on_before,) = linear.standardised(before, features)[1:]
    (on_after,) = linear.standardised(after, features)[1:]
    np.testing.assert_allclose(on_after @ moved[:-1] + moved[-1], on_before @ weights[:-1] + weights[-1], atol=1e-9)


def test_each_split_is_a_task_of_its_own_and_the_fit_gathers_them_in_order():
    features, labels = blobs(spread=2.5, seed=5)
    with linear.FitPool(2) as pool:
        calls = []
        call = pool.call
        pool.call = lambda function, *args: calls.append(function) or call(function, *args)
        fit = pool.submit(features, labels, splits=4)
        assert calls == [linear.split_accuracy] * 4
        assert fit.result() == linear.linear_accuracy(features, labels, splits=4, progress=False)


def test_a_gathered_future_waits_for_all_and_passes_on_an_error():
    first, second = concurrent.futures.Future(), concurrent.futures.Future()
    both = linear.gathered([first, second], sum)
    first.set_result(2)
    assert not both.done()
    second.set_result(3)
    assert both.result() == 5
    failing = linear.gathered([first, broken := concurrent.futures.Future()], sum)
    broken.set_exception(KeyError("k"))
    with pytest.raises(KeyError):
        failing.result()
    assert linear.gathered([], len).result() == 0


def test_call_runs_a_function_in_a_worker_process():
    with linear.FitPool(2) as pool:
        assert pool.call(os.getpid).result() != os.getpid()
    with linear.FitPool(1) as pool:
        assert pool.call(os.getpid).result() == os.getpid()


def _thread_pools_after_loading_scipy_and_scikit_learn() -> list:
    import scipy.linalg  # noqa: F401 -- scipy's own OpenBLAS, loaded after the worker started.
    import sklearn.manifold  # noqa: F401 -- t-SNE's OpenMP.
    from threadpoolctl import threadpool_info

    return [(pool["user_api"], pool["num_threads"]) for pool in threadpool_info()]


def test_every_thread_pool_in_a_worker_has_one_thread():
    """Those loaded before the worker's start and those loaded by a task (a pool of two threads that the
    scheduler keeps pausing spins in its barriers)."""
    with linear.FitPool(2) as pool:
        pools = pool.call(_thread_pools_after_loading_scipy_and_scikit_learn).result()
    assert {"blas", "openmp"} <= {api for api, _ in pools} and {threads for _, threads in pools} == {1}


def test_the_workers_run_at_a_lower_priority_than_this_process():
    """They take the cores the main process leaves idle rather than slowing its training."""
    with linear.FitPool(2) as pool:
        niceness = pool.call(os.nice, 0).result()
    assert niceness == min(19, os.nice(0) + linear.WORKER_NICENESS) and niceness > os.nice(0)


def test_principal_components_are_numpys_svd_projections():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 200)) @ rng.normal(size=(200, 200))
    u, s, _ = np.linalg.svd(x - x.mean(0), full_matrices=False)
    got = linear.principal_components(x, 10)
    np.testing.assert_allclose(np.abs(got), np.abs(u[:, :10] * s[:10]), rtol=1e-3, atol=1e-3 * s[0])
    assert linear.principal_components(x, 500).shape == (60, 59)  # At most N - 1 components carry variance.


def test_the_raw_pixel_floor_in_a_worker_is_the_classifier_on_the_components_here():
    """pixel_floor_accuracy, one task of a pool: the components computed there, on one BLAS thread."""
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 30)
    pixels = rng.normal(size=(90, 300)).astype(np.float32)
    pixels[:, :20] += labels[:, None]  # Separable along a few directions.
    with linear.FitPool(2) as pool:
        got = pool.call(linear.pixel_floor_accuracy, pixels, labels, 16, 4).result()
    expected = linear.linear_accuracy(linear.principal_components(pixels, 16), labels, splits=4, progress=False)
    assert got == expected and got["accuracy_mean"] > 0.5
