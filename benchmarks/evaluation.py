"""Where the demo's evaluation spends its time: each experiment's wall seconds, as metrics.json records them.

Runs `evaluate_run` with the run's own eval settings (the demo's run carries
configs/demo.py's), the corpora fetched as wsl-eval fetches them, on a
trained run such as the demo's (`wsl-demo`'s --workdir/run), with RUN/eval/
emptied first: no feature cache, no finished training-choice runs (--cold;
--nocold reuses them). The experiments run in this process in RUN_ORDER,
their pool work (transfer's classifiers, word2vec) in low-priority processes
beside it, as in the demo. Prints one JSON line: {"bench": "evaluation",
"run", "cold", "seconds": {experiment: s}, "evaluation_s" (metrics.json's
evaluation_seconds), "total_s" (with restoring the run)}.
Target (issue 28): the whole evaluation within 3 minutes on the 2-core machine.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # As wsl-eval and wsl-demo set it (wsl_tf/cli/command.py).

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A trained run (the demo's: WORKDIR/run).", required=True)
flags.DEFINE_list("experiments", None, "Experiments to time (default: the run's eval.experiments).")
flags.DEFINE_bool("cold", True, "Empty RUN/eval first, as a first evaluation finds it.")


def main(argv):
    del argv
    from wsl_tf.eval.run_evaluation import prepare_devices

    prepare_devices(FLAGS.workdir)  # Before TensorFlow starts, as wsl-eval does.
    from wsl_tf import fileio
    from wsl_tf.cli.eval import fetched_resources
    from wsl_tf.eval.run_evaluation import evaluate_run
    from wsl_tf.run_directory import RunDirectory

    if FLAGS.cold:
        fileio.remove_tree(RunDirectory(FLAGS.workdir).eval)
    started = time.perf_counter()
    overrides = {"experiments": tuple(FLAGS.experiments)} if FLAGS.experiments else None
    metrics = evaluate_run(FLAGS.workdir, overrides, fetched_resources(), progress=False, log=lambda *_: None)
    print(
        json.dumps(
            {
                "bench": "evaluation",
                "run": FLAGS.workdir,
                "cold": FLAGS.cold,
                "seconds": metrics["seconds"],
                "evaluation_s": metrics["evaluation_seconds"],
                "total_s": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    app.run(main)
