"""wsl-train: train a run from a config, or resume it.

  wsl-train --config=configs/alexnet_k1000.py --workdir=runs/a1k --config.data.dir=data/yfcc_k1000
  wsl-train --config=configs/cpu_small.py --workdir=/tmp/run --config.data.dir=runs/demo/data \
      --config.model.num_words=500 --config.train.batch_size_per_replica=64

Rerun the same command after a crash to resume from the last checkpoint.
oneDNN is switched on (TF_ENABLE_ONEDNN_OPTS=1) unless the environment says
otherwise: convnets ran 1.5-1.65x faster with it on these CPUs. A missing
config file or a misspelled override key ends in one line on stderr.
"""

from wsl_tf.cli import common

common.prepare_environment()

import sys  # noqa: E402

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "A config file in configs/.", lock_config=True)
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
