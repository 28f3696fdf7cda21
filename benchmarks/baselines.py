"""The word-prediction regression baseline: all K regressors fitted at once against one scikit-learn fit per word.

`wsl_tf.eval.baselines.regressor_scores` (what wsl-eval runs: K regressors
as one L-BFGS problem, float32 products, over the C grid from the strongest
penalty up) against the loop it replaced: a scikit-learn `LogisticRegression`
per word and C, on the same standardised features. The problem has the demo's
shape by default: 512 features, K = 100, words on a few per cent of the images.
Prints one JSON line: {"bench": "regression_baseline", "images", "words",
"joint_s", "per_word_s", "speedup", "joint_p_at_1", "per_word_p_at_1"}.

With --run=RUN (a trained run directory, e.g. the demo's runs/demo/run): the
iteration cap against convergence on that run's own problem, the random
network's features of its train / val / test images read as wsl-eval's word
prediction reads them; one JSON line per cap (baselines.MAX_ITER, then
--converged_iter): {"bench": "regression_baseline_iterations", "max_iter",
"seconds", "p_at_1", "p_at_5", "p_at_10", "train_images", "words"}.
"""

import json
import os
import sys

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.train_step import best_of  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 4800, "Train images the regressors fit on.")
flags.DEFINE_integer("words", 100, "K, one regressor each.")
flags.DEFINE_integer("dim", 512, "Feature size (the demo's 1/8-width AlexNet: 512).")
flags.DEFINE_integer("repeats", 3, "Timings of each; the best is reported.")
flags.DEFINE_string("run", None, "A trained run directory: measure the iteration cap on its own features instead.")
flags.DEFINE_integer("converged_iter", 300, "With --run: the iteration cap that stands for convergence.")


def word_problem(images, words, dim, seed=0):
    """Features with a low-rank signal and a few words per image, Zipf-like word frequencies."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(images, dim)).astype(np.float32)
    signal = x[:, :32] @ rng.normal(size=(32, words))
    frequency = 0.2 / np.arange(1, words + 1) ** 0.5
    noisy = signal + 4 * rng.normal(size=signal.shape)
    thresholds = np.array([np.quantile(noisy[:, k], 1 - frequency[k]) for k in range(words)])
    return x, (noisy > thresholds).astype(np.float32)


def per_word_scores(train, val, test):
    """The replaced loop: one scikit-learn fit per word and C, C chosen on val by precision@1."""
    from sklearn.linear_model import LogisticRegression

    from wsl_tf.eval.baselines import C_GRID
    from wsl_tf.precision import mean_precision_at_k, word_ids

    (x_train, y_train), (x_val, y_val), (x_test, _) = train, val, test
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))
    scored = {}
    for c in C_GRID:
        val_scores, test_scores = np.zeros((len(x_val), y_train.shape[1])), np.zeros((len(x_test), y_train.shape[1]))
        for k in range(y_train.shape[1]):
            fitted = LogisticRegression(C=c, max_iter=500).fit(x_train, y_train[:, k])
            val_scores[:, k], test_scores[:, k] = fitted.decision_function(x_val), fitted.decision_function(x_test)
        scored[c] = (val_scores, test_scores)
    best = max(C_GRID, key=lambda c: mean_precision_at_k(scored[c][0], word_ids(y_val), 1))
    return scored[best][1]


def run_features(run_dir: str):
    """(train, val, test) as (features, multi-hot labels) of a run's images through its random network: what
    wsl-eval's word prediction fits its floor on (run_evaluation.word_prediction)."""
    from wsl_tf.eval import baselines
    from wsl_tf.eval.run_evaluation import FloorNetworks, eval_settings, evaluation_split
    from wsl_tf.input.dataset import PreparedDataset
    from wsl_tf.run_directory import RunDirectory

    directory = RunDirectory(run_dir)
    config = directory.read_config()
    settings = eval_settings(config)
    dataset = PreparedDataset.of(config.data.dir or directory.read_data()["dir"])
    network = {"random": FloorNetworks(config, directory, None, settings, progress=False).random()}
    parts = []
    for split, limit in (
        ("train", settings.baseline_train_images),
        ("val", settings.test_images),
        (evaluation_split(dataset), settings.test_images),
    ):
        features, labels = baselines.split_features(
            network, dataset, config.input, config.model.num_words, split, limit
        )
        parts.append((features["random"], labels))
    return parts


def iterations(run_dir: str) -> None:
    """The regressors at baselines.MAX_ITER and at --converged_iter on a run's own problem, one JSON line each."""
    from wsl_tf.eval import baselines
    from wsl_tf.precision import mean_precision_at_k, word_ids

    train, val, test = run_features(run_dir)
    labels = word_ids(test[1])
    for cap in (baselines.MAX_ITER, FLAGS.converged_iter):
        seconds, scores = best_of(
            lambda cap=cap: baselines.regressor_scores(train, val, test, progress=False, max_iter=cap), 1
        )
        line = {"bench": "regression_baseline_iterations", "max_iter": cap, "seconds": round(seconds, 1)}
        line |= {f"p_at_{k}": round(mean_precision_at_k(scores, labels, k), 4) for k in (1, 5, 10)}
        print(json.dumps(line | {"train_images": len(train[1]), "words": int(train[1].shape[1])}), flush=True)


def main(argv):
    del argv
    if FLAGS.run:
        return iterations(FLAGS.run)
    from wsl_tf.eval.baselines import regressor_scores
    from wsl_tf.precision import mean_precision_at_k, word_ids

    x, y = word_problem(FLAGS.images + 2000, FLAGS.words, FLAGS.dim)
    n = FLAGS.images
    train, val, test = (x[:n], y[:n]), (x[n : n + 1000], y[n : n + 1000]), (x[n + 1000 :], y[n + 1000 :])
    result = {}
    for name, fit in (
        ("joint", lambda: regressor_scores(train, val, test, progress=False)),
        ("per_word", lambda: per_word_scores(train, val, test)),
    ):
        seconds, scores = best_of(fit, FLAGS.repeats)
        result[f"{name}_s"] = round(seconds, 2)
        result[f"{name}_p_at_1"] = round(mean_precision_at_k(scores, word_ids(test[1]), 1), 4)
    print(
        json.dumps(
            {
                "bench": "regression_baseline",
                "images": n,
                "words": FLAGS.words,
                **result,
                "speedup": round(result["per_word_s"] / result["joint_s"], 2),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
