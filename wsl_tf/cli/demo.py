"""wsl-demo: the main job end to end on real data it fetches itself.

  wsl-demo                                  # runs/demo, configs/demo.py
  wsl-demo --workdir=/tmp/demo --config.run.train.max_epochs=2

Fetches the demo corpus from Debian's registry (cached in ~/.cache/wsl_tf),
prepares the dataset under WORKDIR/data, trains the paper's recipe on a
CPU-sized network under WORKDIR/run (rerunning resumes), and reports
precision@10 on the validation split next to a baseline that always predicts
the 10 most frequent training words. The trained model is exported to
WORKDIR/run/export (try: wsl-predict --model=WORKDIR/run/export IMAGE).
"""

import json
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from wsl_tf import configs
from wsl_tf.cli import common

_DEFAULT_CONFIG = os.path.join(os.path.dirname(configs.__file__), "demo.py")

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", _DEFAULT_CONFIG, "The demo's config file (default: the installed configs/demo.py).")
flags.DEFINE_string("workdir", "runs/demo", "Where the demo writes its dataset and run.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    logging.set_verbosity(logging.WARNING)
    from data_tools import corpora, preparer
    from data_tools.sources import SOURCES, SourceError
    from wsl_tf.dataset import PreparedDataset
    from wsl_tf.eval.word_prediction import evaluate, frequency_scores
    from wsl_tf.train.trainer import TrainingError, train

    data = FLAGS.config.data
    dataset_dir = os.path.join(FLAGS.workdir, "data")
    try:
        root = corpora.fetch(data.corpus)
        options = preparer.PrepareOptions(
            output_dir=dataset_dir, vocab_size=data.vocab_size, num_stopwords=data.num_stopwords,
            image_size=data.image_size, num_shards=data.num_shards, val_fraction=data.val_fraction,
            test_fraction=data.test_fraction, max_records=data.max_records)
        preparer.DatasetPreparer(SOURCES[data.corpus](root), options).run()
        dataset = PreparedDataset(dataset_dir)
        run = FLAGS.config.run
        run.data.dir = dataset_dir
        run.model.num_words = min(run.model.num_words, dataset.vocab_size)
        summary = train(run, os.path.join(FLAGS.workdir, "run"), dataset=dataset)
        baseline = evaluate(frequency_scores(dataset, run.model.num_words), dataset, run.input, run.model.num_words,
                            "val", run.eval.batch_size, run.eval.val_images)["precision_at_10"]
    except (corpora.FetchError, preparer.PrepareError, SourceError, TrainingError) as error:
        print(f"wsl-demo: error: {error}", file=sys.stderr)
        return 1
    final = summary["history"][-1] if summary["history"] else {}
    report = {"epochs": summary["epoch"], "steps": summary["step"], "learning_rate": summary["learning_rate"],
              "val_precision_at_10": round(final.get("precision_at_10", float("nan")), 4),
              "frequency_baseline_precision_at_10": round(baseline, 4),
              "export": os.path.join(FLAGS.workdir, "run", "export")}
    print("demo result: " + json.dumps(report))
    return 0


def run():
    common.run(main, "wsl-demo")


if __name__ == "__main__":
    run()
