"""wsl-eval: the paper's section 4 experiments on a trained run, into RUN/eval/.

  wsl-eval --workdir=runs/demo/run
  wsl-eval --workdir=runs/a1k --experiments=word_prediction,embeddings
  wsl-eval --workdir=runs/a1k --transfer=fashion_mnist,folder:/data/pets,voc2007:/data/VOC2007

Writes RUN/eval/metrics.json, RUN/eval/report.md (tables shaped like the
paper's, with coverage and chance, pictures inline) and the PNGs. Experiments:
word_prediction (precision@1/5/10 on the test split, with the word-frequency
and features + logistic regression baselines), transfer (linear classifiers on
the model's features, 10 random splits or VOC mAP, and zero-shot through the
word layer), embeddings (analogies, MEN, English-French translation, against
word2vec on the same captions), pictures (t-SNE maps, top images per word),
training_choices (the loss and sampling choices as four short runs, trained
here by wsl_tf/eval/training_choices.py, each scored on the test split under its natural
ranking and its raw scores, and by the transfer accuracy of its features on
--choice_transfer).
Labelled sets: fashion_mnist (fetched), categories[:SPLIT] (the run's own
dataset's test or SPLIT images, labelled by the subject folder of their key,
SOURCE/FOLDER/NAME, as Open Clip Art and the Tux Paint stamps file them),
folder:ROOT (ROOT/CLASS/*.jpg|png), voc2007:ROOT (Annotations/,
ImageSets/Main/, JPEGImages/). Word lists come
from wsl-fetch-data's corpora (analogies, men, freedict): only those the
chosen experiments need are fetched, when first needed; a corpus that cannot
be had leaves its section as one line saying so, and the others run. On a
dataset without a test split the held-out figures are on its val split.
Features are cached in RUN/eval/cache/, so a rerun reuses them; sections
of an earlier evaluation of the same checkpoint that this one does not rerun
are kept in metrics.json and the report.

Settings: the run's own config.json `eval` section (configs/paper.py
documents each key), overridden for this evaluation by
--config.eval.KEY=VALUE or by the short flags below, each the key of its
name (--test_images=500 is --config.eval.test_images=500). Every bad key is
named at once, before any work.
"""

from absl import app, flags, logging
from ml_collections import config_flags

from wsl_tf.cli import command

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
flags.DEFINE_string("workdir", None, "The run directory wsl-train wrote.", flag_values=FLAGS)
# --config.eval.KEY=VALUE: any eval setting of configs/paper.py (which the flag reads for the keys and their
# types), over the run's own config.json; only the overrides are used.
config_flags.DEFINE_config_file(
    "config", None, "Eval settings over the run's config: --config.eval.KEY=VALUE.", flag_values=FLAGS
)
# Short aliases, each writing the eval key of its name (unset: the run's config decides).
ALIASES = (
    "experiments",
    "transfer",
    "grid_words",
    "test_images",
    "baseline_train_images",
    "transfer_images",
    "class_network_steps",
    "choice_epochs",
    "choice_epoch_size",
    "choice_learning_rate",
    "choice_transfer",
)
flags.DEFINE_list("experiments", None, "= --config.eval.experiments: which experiments.", flag_values=FLAGS)
flags.DEFINE_list(
    "transfer",
    None,
    "= --config.eval.transfer: labelled sets: fashion_mnist, categories[:SPLIT], "
    "emoji_subgroups[:SPLIT], folder:ROOT, voc2007:ROOT.",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "grid_words", None, "= --config.eval.grid_words: words for the top-images picture.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "test_images", None, "= --config.eval.test_images: held-out images for word prediction.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "baseline_train_images",
    None,
    "= --config.eval.baseline_train_images: train images the per-word regressors fit on.",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "transfer_images", None, "= --config.eval.transfer_images: images per labelled set.", flag_values=FLAGS
)
flags.DEFINE_integer("class_network_steps", None, "= --config.eval.class_network_steps.", flag_values=FLAGS)
flags.DEFINE_integer(
    "choice_epochs", None, "= --config.eval.choice_epochs: epochs of each training choice.", flag_values=FLAGS
)
flags.DEFINE_integer("choice_epoch_size", None, "= --config.eval.choice_epoch_size.", flag_values=FLAGS)
flags.DEFINE_float(
    "choice_learning_rate",
    None,
    "= --config.eval.choice_learning_rate: the training choices' learning rate (0: the run's own).",
    flag_values=FLAGS,
)
flags.DEFINE_string("choice_transfer", None, "= --config.eval.choice_transfer (empty: none).", flag_values=FLAGS)
flags.DEFINE_bool("progress", True, "Show progress bars.", flag_values=FLAGS)
flags.mark_flags_as_required(["workdir"], flag_values=FLAGS)


def overrides_of_flags() -> dict:
    """The eval settings the command line gives: --config.eval.KEY=VALUE and the short aliases.

    ConfigError when an alias and its key are both given with different values.
    """
    from wsl_tf.errors import ConfigError

    overrides = config_flags.get_override_values(FLAGS["config"])
    others = [key for key in overrides if not key.startswith("eval.")]
    if others:
        raise ConfigError(
            f"--config.{others[0]}: wsl-eval reads the run's own config; it overrides only "
            f"--config.eval.KEY (the run's other settings are what it was trained with)"
        )
    given = {key.split(".", 1)[1]: value for key, value in overrides.items()}
    for key in ALIASES:
        value = FLAGS[key].value
        if value is None:
            continue
        value = tuple(value) if isinstance(value, list) else value
        if key in given and given[key] != value:
            raise ConfigError(
                f"--{key}={FLAGS[key].serialize().split('=', 1)[-1]} and "
                f"--config.eval.{key}={given[key]!r} disagree: give one"
            )
        given[key] = value
    return given


def fetched_resources(log=print):
    """Resources that fetch wsl-fetch-data's corpora when an experiment first needs one."""
    from data_tools import corpora
    from wsl_tf.eval.run_evaluation import Resources, ResourceUnavailable

    def fetch(name: str) -> str:
        try:
            return corpora.fetch(name, log=log)
        except corpora.FetchError as error:
            raise ResourceUnavailable(f"{name} could not be fetched: {str(error).splitlines()[0]}") from None

    return Resources(fetch=fetch)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)
    from wsl_tf.eval.run_evaluation import eval_settings, evaluate_run, prepare_devices
    from wsl_tf.run_directory import RunDirectory

    overrides = overrides_of_flags()
    eval_settings(RunDirectory(FLAGS.workdir).read_config(), overrides)  # Every bad key, before any work.
    prepare_devices(FLAGS.workdir)  # What evaluation trains trains on the run's replicas.
    evaluate_run(FLAGS.workdir, overrides, fetched_resources(), progress=FLAGS.progress)
    print(f"wrote {FLAGS.workdir}/eval/metrics.json and report.md")
    return 0


def run():
    command.run(main, "wsl-eval", FLAGS, default_config=command.installed_config("paper.py"))


if __name__ == "__main__":
    run()
