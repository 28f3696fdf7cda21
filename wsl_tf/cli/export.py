"""wsl-export: write a run's model for serving and for scripts.

  wsl-export --workdir=runs/a1k                    # -> runs/a1k/export/
  wsl-export --workdir=runs/a1k --output=/srv/models/a1k --top_k=20

From the centre weights of the run's latest checkpoint it writes OUTPUT/model.keras
(keras.models.load_model after `import wsl_tf.models`) and OUTPUT/saved_model/
(TensorFlow only: signatures serving_default, embed and word_vectors; the
dictionary inside). wsl-train and wsl-demo already export every run they
finish to WORKDIR/export; use this to export a run mid-way, elsewhere, or with
another top_k. The output directory is replaced whole, atomically.
"""

from absl import app, flags, logging

from wsl_tf.cli import command

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
flags.DEFINE_string("workdir", None, "The run directory wsl-train wrote.", flag_values=FLAGS)
flags.DEFINE_string("output", None, "Where to write (default: WORKDIR/export).", flag_values=FLAGS)
flags.DEFINE_integer("top_k", 10, "Words serving_default returns per image.", lower_bound=1, flag_values=FLAGS)
flags.mark_flags_as_required(["workdir"], flag_values=FLAGS)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)
    from wsl_tf import serving

    path = serving.export_run(FLAGS.workdir, FLAGS.output, FLAGS.top_k)
    print(f"exported {path} (model.keras, saved_model/)")
    return 0


def run():
    command.run(main, "wsl-export", FLAGS)


if __name__ == "__main__":
    run()
