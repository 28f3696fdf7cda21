"""wsl-demo: the main job end to end on real data it fetches itself.

  wsl-demo                                  # runs/demo, configs/demo.py
  wsl-demo --workdir=/tmp/demo --config.data.max_records=500

Fetches the demo corpus from Debian's registry (cached in ~/.cache/wsl_tf),
prepares the dataset directory under WORKDIR/data and prints its summary.
"""

import os
import sys

from absl import app, flags
from ml_collections import config_flags

from data_tools import corpora, preparer
from data_tools.sources import SOURCES, SourceError

_DEFAULT_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "configs", "demo.py")

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", os.path.normpath(_DEFAULT_CONFIG), "The demo's config file.")
flags.DEFINE_string("workdir", "runs/demo", "Where the demo writes its dataset and run.")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    data = FLAGS.config.data
    try:
        root = corpora.fetch(data.corpus)
        options = preparer.PrepareOptions(
            output_dir=os.path.join(FLAGS.workdir, "data"),
            vocab_size=data.vocab_size,
            num_stopwords=data.num_stopwords,
            image_size=data.image_size,
            num_shards=data.num_shards,
            val_fraction=data.val_fraction,
            test_fraction=data.test_fraction,
            max_records=data.max_records,
        )
        preparer.DatasetPreparer(SOURCES[data.corpus](root), options).run()
    except (corpora.FetchError, preparer.PrepareError, SourceError) as error:
        print(f"wsl-demo: error: {error}", file=sys.stderr)
        return 1
    return 0


def run():
    app.run(main)


if __name__ == "__main__":
    run()
