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
Features are cached in RUN/eval/cache/, so a rerun reuses them.
"""

import sys

from absl import app, flags, logging

from wsl_tf.cli import command

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
flags.DEFINE_string("workdir", None, "The run directory wsl-train wrote.", flag_values=FLAGS)
flags.DEFINE_list("experiments", ["word_prediction", "transfer", "embeddings", "pictures"], "Which experiments.", flag_values=FLAGS)
flags.DEFINE_list("transfer", ["fashion_mnist"],
                  "Labelled sets: fashion_mnist, categories[:SPLIT], folder:ROOT, voc2007:ROOT.", flag_values=FLAGS)
flags.DEFINE_list("grid_words", [], "Words for the top-images picture (default: the 6 most frequent).", flag_values=FLAGS)
flags.DEFINE_integer("test_images", 2000, "Test-split images for word prediction.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer("baseline_train_images", 20_000,
                     "Train images the per-word regression baselines fit on (all of a smaller train split).",
                     lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer("transfer_images", 2000, "At most this many images per labelled set.", lower_bound=10, flag_values=FLAGS)
flags.DEFINE_integer("class_network_steps", 300, "Training steps of the class-label baseline network.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer("choice_epochs", 4, "training_choices: epochs of each short run.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer("choice_epoch_size", 4096, "training_choices: images per epoch of each short run.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_string("choice_transfer", "emoji_subgroups",
                    "training_choices: the labelled set each run's features transfer to (a --transfer spec; "
                    "empty: none).", flag_values=FLAGS)
flags.DEFINE_bool("progress", True, "Show progress bars.", flag_values=FLAGS)
flags.mark_flags_as_required(["workdir"], flag_values=FLAGS)


def fetched_resources(log=print):
    """Resources that fetch wsl-fetch-data's corpora when an experiment first needs one."""
    from data_tools import corpora
    from wsl_tf.eval.run_evaluation import ResourceUnavailable, Resources

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
    from wsl_tf.eval import training_choices
    from wsl_tf.eval.run_evaluation import EvalOptions, evaluate_run

    options = EvalOptions(test_images=FLAGS.test_images, baseline_train_images=FLAGS.baseline_train_images,
                          transfer_max_images=FLAGS.transfer_images,
                          class_network_steps=FLAGS.class_network_steps, grid_words=tuple(FLAGS.grid_words),
                          choice_epochs=FLAGS.choice_epochs, choice_epoch_size=FLAGS.choice_epoch_size,
                          choice_transfer=FLAGS.choice_transfer, progress=FLAGS.progress)
    if "training_choices" in FLAGS.experiments:
        training_choices.prepare_replicas(FLAGS.workdir)
    evaluate_run(FLAGS.workdir, FLAGS.experiments, FLAGS.transfer, fetched_resources(), options)
    print(f"wrote {FLAGS.workdir}/eval/metrics.json and report.md")
    return 0


def run():
    command.run(main, "wsl-eval", FLAGS)


if __name__ == "__main__":
    run()
