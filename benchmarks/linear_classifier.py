"""Transfer's linear classifier: wsl-eval's multinomial L-BFGS fit against scikit-learn's LogisticRegression.

`wsl_tf.eval.linear.linear_accuracy` (what wsl-eval runs: 10 random splits,
the C grid fitted from the strongest penalty up on one BLAS thread, a refit
at the chosen C) against the loop it replaced: scikit-learn's
LogisticRegression over the same splits, grid and refit. The problem has the
demo's shape by default: 2,000 images of 512 features, 10 classes (its
Fashion-MNIST set). Prints one JSON line: {"bench": "linear_classifier",
"images", "classes", "ours_s", "sklearn_s", "speedup", "ours_accuracy",
"sklearn_accuracy"}.
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


def main(argv):
    del argv
    from wsl_tf.eval.linear import linear_accuracy

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
