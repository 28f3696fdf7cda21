"""wsl-demo: the main job end to end on real data it fetches itself.

  wsl-demo                                  # runs/demo, configs/demo.py
  wsl-demo --workdir=/tmp/demo --config.run.train.max_epochs=2

Fetches the demo corpora (Open Clip Art and the Tux Paint stamps from Debian's
registry, emoji drawn by a dozen artists from npm's, the stamps and emoji
captioned in English or French; cached in ~/.cache/wsl_tf),
prepares the dataset under WORKDIR/data, trains the paper's recipe on a
CPU-sized network under WORKDIR/run (rerunning resumes), exports it to
WORKDIR/run/export (try: wsl-predict --model=WORKDIR/run/export IMAGE), runs
the paper's evaluation on it (wsl-eval: WORKDIR/run/eval/report.md) and prints
the report's word-prediction table. A stage whose output is complete is
skipped on a rerun.

When things go wrong it says so in one line: no registry reachable (what to
fetch by hand and where to put it), no disk space (how much it needs), an
interrupted run (rerun the same command: it resumes).
"""

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from wsl_tf import configs, fileio
from wsl_tf.cli import command

_DEFAULT_CONFIG = os.path.join(os.path.dirname(configs.__file__), "demo.py")

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
config_flags.DEFINE_config_file(
    "config", None, "The demo's config file (default: the installed configs/demo.py).", flag_values=FLAGS
)
flags.DEFINE_string("workdir", "runs/demo", "Where the demo writes its dataset and run.", flag_values=FLAGS)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)
    import tensorflow as tf

    # The comparison runs build new models in this process, and TensorFlow warns of "retracing" each time.
    tf.get_logger().setLevel("ERROR")
    from data_tools import corpora, preparer
    from wsl_tf.cli.train import train_and_export
    from wsl_tf.eval.baselines import frequency_scores
    from wsl_tf.input.dataset import PreparedDataset
    from wsl_tf.precision import split_precision
    from wsl_tf.run_directory import RunDirectory

    data = FLAGS.config.data
    dataset_dir = os.path.join(FLAGS.workdir, "data")
    run_dir = RunDirectory(os.path.join(FLAGS.workdir, "run"))
    try:
        source = demo_source(data)
        settings = {key: value for key, value in data.items() if key not in SOURCE_SETTINGS}
        options = preparer.PrepareOptions.from_settings(
            settings,
            "data",
            output_dir=dataset_dir,
            stopword_lists=corpora.fetch("stopwords") if data.stopwords == "list" else None,
        )
        preparer.DatasetPreparer(source, options).run()
        dataset = PreparedDataset(dataset_dir)
        run_config = FLAGS.config.run
        run_config.data.dir = dataset_dir
        run_config.model.num_words = min(run_config.model.num_words, dataset.vocab_size)
        summary = train_and_export(run_config, run_dir.path, dataset=dataset)
        baseline = split_precision(
            frequency_scores(dataset, run_config.model.num_words),
            dataset,
            run_config.input,
            run_config.model.num_words,
            "val",
            run_config.eval.batch_size,
            run_config.eval.val_images,
        )["precision_at_10"]
        metrics = evaluation(run_dir.path)
    except KeyboardInterrupt:
        print(
            "wsl-demo: interrupted. Rerun the same command to resume: finished stages are kept and training "
            "goes on from its last checkpoint.",
            file=sys.stderr,
        )
        return 130
    final = summary["history"][-1] if summary["history"] else {}
    report = {
        "epochs": summary["epoch"],
        "steps": summary["step"],
        "learning_rate": summary["learning_rate"],
        "val_precision_at_10": round(final["precision_at_10"], 4) if final else None,
        "frequency_baseline_precision_at_10": round(baseline, 4),
        "export": run_dir.export,
    }
    print("demo result: " + fileio.dumps_strict(report))
    print(headline(metrics, run_dir.report_path))
    return 0


DISK_NEEDED = "1 GB"


# The keys of the config's data section that say which corpora to read; the others are wsl-prepare's options.
SOURCE_SETTINGS = ("corpora", "languages", "max_records_each")


def demo_source(data):
    """The configured corpora (fetched if missing) as one source; Tux Paint in data.languages."""
    from data_tools import corpora
    from data_tools.sources import SOURCES
    from data_tools.sources.combined import CombinedSource

    sources = []
    for corpus in data.corpora:
        root = corpora.fetch(corpus)
        multilingual = corpus in ("tuxpaint", "emoji")  # One caption language per image, chosen by key hash.
        sources.append(SOURCES[corpus](root, tuple(data.languages)) if multilingual else SOURCES[corpus](root))
    return sources[0] if len(sources) == 1 else CombinedSource(sources, data.get("max_records_each", 0))


def evaluation(run_dir: str) -> dict:
    """RUN/eval/metrics.json: reused when it holds every experiment of the run's eval settings for its latest
    checkpoint, else wsl-eval's run with those settings (the config's run.eval, in the run's config.json)."""
    from wsl_tf.cli.eval import fetched_resources
    from wsl_tf.eval.run_evaluation import eval_settings, evaluate_run
    from wsl_tf.run_directory import RunDirectory

    run = RunDirectory(run_dir)
    latest, previous = run.latest_checkpoint(), run.read_metrics()
    wanted = eval_settings(run.read_config()).experiments
    if previous is not None:
        if previous.get("checkpoint") == latest and set(wanted) <= set(previous.get("experiments", ())):
            print(f"evaluation of {latest} already done: {run.metrics_path}")
            return previous
    return evaluate_run(run_dir, resources=fetched_resources())


def headline(metrics: dict, report_path: str) -> str:
    """The report's word-prediction table, as text, and where the whole report is."""
    lines = [f"report: {report_path}"]
    prediction = metrics.get("word_prediction")
    if prediction and "unavailable" in prediction:
        lines.append(f"word prediction not run: {prediction['unavailable']}")
    elif prediction:
        from wsl_tf.eval.report import word_prediction_table

        table, notes = word_prediction_table(prediction)
        lines += [
            f"word prediction, {prediction.get('split', 'test')} split, {prediction['images']} images:",
            *table,
            *notes,
        ]
    return "\n".join(lines)


def run():
    command.run(
        main,
        "wsl-demo",
        FLAGS,
        default_config=_DEFAULT_CONFIG,
        disk_hint=f" (the demo needs about {DISK_NEEDED}: the corpora cached in ~/.cache/wsl_tf, the dataset "
        "and run in --workdir; or pass --workdir on another disk)",
    )


if __name__ == "__main__":
    run()
