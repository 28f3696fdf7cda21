"""Transfer's linear classifier: wsl-eval's multinomial L-BFGS fit against scikit-learn's LogisticRegression.

`wsl_tf.eval.linear.linear_accuracy` (what wsl-eval runs: 10 random splits,
the C grid fitted from the strongest penalty up on one BLAS thread, a refit
at the chosen C) against the loop it replaced: scikit-learn's
LogisticRegression over the same splits, grid and refit. The problem has the
demo's shape by default: 2,000 images of 512 features, 10 classes (its
Fashion-MNIST set). Prints one JSON line: {"bench": "linear_classifier",
"images", "classes", "ours_s", "sklearn_s", "speedup", "ours_accuracy",
"sklearn_accuracy"}.

--run=RUN: the iteration cap against a converged fit on a run's own transfer
problems: each labelled set of the run's eval.transfer with the features its
evaluation cached (RUN/eval/cache: the end-to-end model's and the floor
networks'), linear_accuracy at each cap of --caps on one BLAS thread, as the
fit pool runs it. One JSON line per cap: {"bench": "linear_classifier_run",
"max_iter", "seconds", "accuracy": {features: mean}, "std": {...},
"max_abs_difference"} (against the last cap's accuracies).
"""

import json
import os
import sys

import numpy as np
from absl import app, flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.train_step import best_of  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("images", 2000, "Labelled images.")
flags.DEFINE_integer("classes", 10, "Classes.")
flags.DEFINE_integer("dim", 512, "Feature size (the demo's 1/8-width AlexNet: 512).")
flags.DEFINE_integer("splits", 10, "Random splits, as wsl-eval runs.")
flags.DEFINE_integer("repeats", 3, "Timings of each; the best is reported.")
flags.DEFINE_string("run", None, "A run evaluated with transfer (RUN/eval/cache holds its features).")
flags.DEFINE_list("caps", ["15", "30", "300"], "With --run: L-BFGS iteration caps; the last is the reference.")


def class_problem(images, classes, dim, seed=0):
    """Features whose class shows weakly in a 32-dimensional part (test accuracy about 0.47 at 10 classes)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, images)
    x = rng.normal(size=(images, dim)).astype(np.float32)
    x[:, :32] += 0.35 * rng.normal(size=(classes, 32))[labels]
    return x, labels


def sklearn_accuracy(features, labels, splits, seed=0):
    """The replaced loop: scikit-learn's LogisticRegression, warm-started along the grid, refit at the chosen C."""
    from sklearn.linear_model import LogisticRegression

    from wsl_tf.eval.linear import C_GRID, standardised

    rng = np.random.default_rng(seed)
    accuracies = []
    for _ in range(splits):
        order = rng.permutation(len(labels))
        a, b = int(0.6 * len(order)), int(0.8 * len(order))
        train, val, test = order[:a], order[a:b], order[b:]
        x_train, x_val = standardised(features[train], features[val])
        path = LogisticRegression(max_iter=2000, warm_start=True)
        scores = {c: path.set_params(C=c).fit(x_train, labels[train]).score(x_val, labels[val]) for c in C_GRID}
        both = np.concatenate([train, val])
        x_both, x_test = standardised(features[both], features[test])
        refit = LogisticRegression(C=max(C_GRID, key=scores.get), max_iter=2000).fit(x_both, labels[both])
        accuracies.append(refit.score(x_test, labels[test]))
    return float(np.mean(accuracies))


def run_problems(run: str) -> dict:
    """{features: (features, labels)} of the run's transfer sets as its evaluation cached them for its latest
    checkpoint (the model's and each floor network's), labels read as wsl-eval reads them."""
    from wsl_tf.cli.eval import fetched_resources
    from wsl_tf.eval.run_evaluation import FLOORS, FeatureCache, _labelled_set, eval_settings, transfer_cache_name
    from wsl_tf.input.dataset import PreparedDataset
    from wsl_tf.run_directory import RunDirectory

    directory = RunDirectory(run)
    config = directory.read_config()
    settings = eval_settings(config)
    dataset = PreparedDataset(config.data.dir or directory.read_data()["dir"])
    cache = FeatureCache(directory.eval_cache, directory.latest_checkpoint())
    problems = {}
    for spec in settings.transfer:
        labelled = _labelled_set(spec, dataset, fetched_resources(), settings.transfer_images)
        for floor in (None, *FLOORS):
            arrays = cache.read(transfer_cache_name(labelled.name, floor))
            if arrays is not None:
                problems[transfer_cache_name(labelled.name, floor)] = (arrays["embedding"], labelled.labels)
    if not problems:
        raise SystemExit(f"{directory.eval_cache}: no cached transfer features (run wsl-eval --experiments=transfer)")
    return problems


def compare_caps(run: str, caps: list[int]) -> None:
    import time

    from threadpoolctl import threadpool_limits

    from wsl_tf.eval import linear

    problems = run_problems(run)
    lines = []
    with threadpool_limits(limits=1, user_api="blas"):  # As a FitPool worker fits.
        for cap in caps:
            started = time.perf_counter()
            fits = {
                name: linear.linear_accuracy(x, y, progress=False, max_iter=cap) for name, (x, y) in problems.items()
            }
            lines.append(
                {
                    "bench": "linear_classifier_run",
                    "run": run,
                    "max_iter": cap,
                    "seconds": round(time.perf_counter() - started, 1),
                    "accuracy": {name: round(fit["accuracy_mean"], 4) for name, fit in fits.items()},
                    "std": {name: round(fit["accuracy_std"], 4) for name, fit in fits.items()},
                }
            )
    reference = lines[-1]["accuracy"]
    for line in lines:
        line["max_abs_difference"] = round(max(abs(line["accuracy"][n] - reference[n]) for n in reference), 4)
        print(json.dumps(line), flush=True)


def main(argv):
    del argv
    from wsl_tf.eval.linear import linear_accuracy

    if FLAGS.run:
        compare_caps(FLAGS.run, [int(cap) for cap in FLAGS.caps])
        return

    x, labels = class_problem(FLAGS.images, FLAGS.classes, FLAGS.dim)
    result = {}
    for name, fit in (
        ("ours", lambda: linear_accuracy(x, labels, FLAGS.splits, progress=False)["accuracy_mean"]),
        ("sklearn", lambda: sklearn_accuracy(x, labels, FLAGS.splits)),
    ):
        seconds, accuracy = best_of(fit, FLAGS.repeats)
        result[f"{name}_s"] = round(seconds, 2)
        result[f"{name}_accuracy"] = round(accuracy, 4)
    print(
        json.dumps(
            {
                "bench": "linear_classifier",
                "images": FLAGS.images,
                "classes": FLAGS.classes,
                **result,
                "speedup": round(result["sklearn_s"] / result["ours_s"], 2),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
