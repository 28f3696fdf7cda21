"""Where the demo's evaluation spends its time: each experiment's wall seconds, as metrics.json records them.

Runs wsl-demo's evaluation (configs/demo.py's evaluation section, through
`wsl_tf.cli.demo.eval_options` and `evaluate_run`, the corpora fetched as
wsl-eval fetches them) on a trained run, by default the demo's own
(`wsl-demo`'s --workdir/run), with its feature cache emptied first
(--cold; --nocold reuses it). Each experiment runs in this one process, as
in the demo. Prints one JSON line:
{"bench": "evaluation", "run", "cold", "seconds": {experiment: s}, "total_s"}.
Target (issue 28): the whole evaluation within 3 minutes on the 2-core machine.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from absl import app, flags  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A trained run (the demo's: WORKDIR/run).", required=True)
flags.DEFINE_list("experiments", None, "Experiments to time (default: the demo's).")
flags.DEFINE_bool("cold", True, "Empty RUN/eval/cache first, as a first evaluation finds it.")


def main(argv):
    del argv
    from wsl_tf.eval import training_choices

    training_choices.prepare_replicas(FLAGS.workdir)  # Before TensorFlow starts, as wsl-eval does.
    from wsl_tf.cli.demo import eval_options
    from wsl_tf.cli.eval import fetched_resources
    from wsl_tf.configs import demo
    from wsl_tf.eval.run_evaluation import evaluate_run
    from wsl_tf.run_directory import RunDirectory

    settings = demo.get_config().evaluation
    experiments = tuple(FLAGS.experiments or settings.experiments)
    if FLAGS.cold:
        shutil.rmtree(RunDirectory(FLAGS.workdir).eval_cache, ignore_errors=True)
    started = time.perf_counter()
    metrics = evaluate_run(FLAGS.workdir, experiments, tuple(settings.transfer), fetched_resources(),
                           eval_options(settings, progress=False), log=lambda *_: None)
    print(json.dumps({"bench": "evaluation", "run": FLAGS.workdir, "cold": FLAGS.cold, "seconds": metrics["seconds"],
                      "total_s": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    app.run(main)
