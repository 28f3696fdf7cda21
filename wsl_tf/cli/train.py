r"""wsl-train: train a run from a config, or resume it.

  wsl-train --config=configs/paper.py:alexnet,k=1000 --workdir=runs/a1k --config.data.dir=data/yfcc_k1000
  wsl-train --config=configs/cpu_small.py --workdir=/tmp/run --config.data.dir=runs/demo/data \
      --config.model.num_words=500 --config.train.batch_size_per_replica=64

Any key of the config is overridden with --config.KEY=VALUE. Rerun the same
command after a crash, a kill or a full disk (said in one line) to resume
from the last checkpoint: the run ends as an uninterrupted one would (with
deterministic ops, to the last bit). The run directory
gets config.json, checkpoints/, tensorboard/, history.json, summary.json and,
when the run ends (unless --config.train.export=False), export/: model.keras
and saved_model/ (see wsl-export). A config installed with the package may be
named alone: --config=cpu_small.py, --config=paper.py:alexnet,k=1000.
oneDNN is on (TF_ENABLE_ONEDNN_OPTS=1) unless the environment says otherwise.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from wsl_tf.cli import command

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
config_flags.DEFINE_config_file(
    "config",
    None,
    "A config file, FILE or FILE:ARGUMENT (configs/paper.py:googlenet,k=10000).",
    lock_config=True,
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "workdir", None, "The run directory (config, checkpoints, TensorBoard, summary).", flag_values=FLAGS
)
flags.mark_flags_as_required(["config", "workdir"], flag_values=FLAGS)


def train_and_export(config, workdir: str, log=print, dataset=None, callbacks=()) -> dict:
    """Train (or resume) the run, then export it to WORKDIR/export (the chief, unless train.export is off)."""
    from wsl_tf import serving
    from wsl_tf.train.trainer import train
    from wsl_tf.train.training_run import is_chief

    summary = train(config, workdir, callbacks=callbacks, log=log, dataset=dataset)
    if config.train.export and is_chief():
        serving.export_latest(workdir, log=log)
    return summary


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)  # TensorFlow's savers log every checkpoint at INFO.
    train_and_export(FLAGS.config, FLAGS.workdir)
    return 0


def run():
    command.run(main, "wsl-train", FLAGS)


if __name__ == "__main__":
    run()
