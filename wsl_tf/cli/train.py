r"""wsl-train: train a run from a config, or resume it.

  wsl-train --config=configs/paper.py:alexnet,k=1000 --workdir=runs/a1k --config.data.dir=data/yfcc_k1000
  wsl-train --config=configs/cpu_small.py --workdir=/tmp/run --config.data.dir=runs/demo/data \
      --config.model.num_words=500 --config.train.batch_size_per_replica=64

Any key of the config is overridden with --config.KEY=VALUE. Rerun the same
command after a crash to resume from the last checkpoint. The run directory
gets config.json, checkpoints/, tensorboard/, history.json and summary.json.
oneDNN is on (TF_ENABLE_ONEDNN_OPTS=1) unless the environment says otherwise.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from wsl_tf.cli import common

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "A config file, FILE or FILE:ARGUMENT (configs/paper.py:googlenet,k=10000).", lock_config=True)
flags.DEFINE_string("workdir", None, "The run directory (config, checkpoints, TensorBoard, summary).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)  # TensorFlow's savers log every checkpoint at INFO.
    from wsl_tf.train.trainer import TrainingError, train

    try:
        train(FLAGS.config, FLAGS.workdir)
    except TrainingError as error:
        print(f"wsl-train: error: {error}", file=sys.stderr)
        return 1
    return 0


def run():
    common.run(main, "wsl-train")


if __name__ == "__main__":
    run()
