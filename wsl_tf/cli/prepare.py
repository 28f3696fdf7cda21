r"""wsl-prepare: turn a raw image-text collection into a dataset directory.

  wsl-prepare --source=yfcc100m --input=yfcc100m_dataset --image_dir=images/ \
      --output_dir=data/yfcc_k1000 --vocab_size=1000
  wsl-prepare --source=tuxpaint --languages=en,fr --output_dir=data/tux
  wsl-prepare --source=emoji --languages=en,fr --output_dir=data/emoji --stopwords=list --num_stopwords=0
  wsl-prepare --runner=DataflowRunner --source=yfcc100m --input=gs://b/yfcc100m_dataset \
      --image_dir=gs://b/images --output_dir=gs://b/yfcc_k100000 --vocab_size=100000 \
      -- --project=P --region=R --temp_location=gs://b/tmp

With --runner=DirectRunner|DataflowRunner|FlinkRunner|SparkRunner (needs the
[beam] extra) the job is an Apache Beam pipeline (data_tools/beam_preparer.py);
arguments after "--" are passed to Beam as pipeline options.

Writes vocab.tsv, stopwords.tsv, dataset.json, skipped.tsv and TFRecord shards
{split}-{i:05d}-of-{n:05d}.tfrecord (see wsl_tf/records.py). Bad records are
skipped and counted; a killed run resumes where it stopped when rerun, and
ends byte-identical to an uninterrupted one. A full disk stops it with one
line and no partial shard; rerun once there is space.
"""

from absl import app, flags

from data_tools import corpora, preparer
from data_tools.sources import SOURCES, SourceError
from data_tools.sources.yfcc100m import LAYOUTS
from data_tools.stopwords import RULES as STOPWORD_RULES
from wsl_tf.cli import command

DEFAULTS = preparer.PrepareOptions(output_dir="")  # The options' defaults are PrepareOptions' own.

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
flags.DEFINE_enum("source", None, sorted(SOURCES), "Format of the raw collection.", flag_values=FLAGS)
flags.DEFINE_string(
    "input",
    None,
    "The collection: a yfcc100m_dataset file (.bz2/.gz ok), a .jsonl file, .tar "
    "shards (file, directory or glob), or the openclipart svg / tuxpaint stamps / emoji "
    "directory (default for those three: the copy wsl-fetch-data cached).",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "image_dir", None, "Where images are (yfcc100m: required; jsonl: default the file's directory).", flag_values=FLAGS
)
flags.DEFINE_enum(
    "image_layout",
    "id",
    LAYOUTS,
    "yfcc100m: images as IMAGE_DIR/PHOTOID.jpg (id) or IMAGE_DIR/abc/def/HASH.jpg (hash).",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "languages", ["en"], "tuxpaint, emoji: caption languages; one is chosen per image by key hash.", flag_values=FLAGS
)
flags.DEFINE_string(
    "png_dir", None, "openclipart: the tree of PNG renders (default: png/ beside the svg tree).", flag_values=FLAGS
)
flags.DEFINE_string("output_dir", None, "The dataset directory to write.", flag_values=FLAGS)
flags.DEFINE_integer(
    "vocab_size", DEFAULTS.vocab_size, "K, the number of dictionary words (paper: 1,000 to 100,000).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "num_stopwords",
    DEFAULTS.num_stopwords,
    "How many of the most common words to drop first (paper: 500).",
    flag_values=FLAGS,
)
flags.DEFINE_enum(
    "stopwords",
    DEFAULTS.stopwords,
    list(STOPWORD_RULES),
    "frequent: the paper's rule alone (--num_stopwords); list: first drop, from each caption, the "
    "stop words of its language's classic list (the corpus `stopwords`, fetched if missing).",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "stopword_lists", None, "With --stopwords=list: the lists' folder (default: the fetched corpus).", flag_values=FLAGS
)
flags.DEFINE_string(
    "vocab", None, "Reuse this vocab.tsv instead of building one (e.g. for an eval set).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "image_size", DEFAULTS.image_size, "Stored images are SIZE x SIZE JPEGs (paper: 256).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "num_shards",
    DEFAULTS.num_shards,
    "Shards of the train split; val and test get proportionally many.",
    flag_values=FLAGS,
)
flags.DEFINE_float("val_fraction", DEFAULTS.val_fraction, "Fraction of keys in the val split.", flag_values=FLAGS)
flags.DEFINE_float("test_fraction", DEFAULTS.test_fraction, "Fraction of keys in the test split.", flag_values=FLAGS)
flags.DEFINE_integer(
    "workers", DEFAULTS.workers, "Worker processes decoding images (0: in this process).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "chunk_size", DEFAULTS.chunk_size, "Records per staged chunk, the unit a rerun resumes from.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "max_pixels", DEFAULTS.max_pixels, "Images with more pixels are skipped (decompression bombs).", flag_values=FLAGS
)
flags.DEFINE_integer(
    "max_records",
    DEFAULTS.max_records,
    "Read only the first N items of the source (0: all), for trial runs.",
    flag_values=FLAGS,
)
flags.DEFINE_bool("progress", True, "Show a progress bar.", flag_values=FLAGS)
flags.DEFINE_string(
    "runner",
    "local",
    "local (this machine's worker processes) or an Apache Beam runner: DirectRunner, "
    "DataflowRunner, FlinkRunner, SparkRunner (pipeline options after --).",
    flag_values=FLAGS,
)
flags.mark_flags_as_required(["source", "output_dir"], flag_values=FLAGS)

# Flags that are PrepareOptions fields of the same name (--vocab is vocab_path).
OPTION_FLAGS = (
    "output_dir",
    "vocab_size",
    "num_stopwords",
    "stopwords",
    "image_size",
    "num_shards",
    "val_fraction",
    "test_fraction",
    "workers",
    "chunk_size",
    "max_pixels",
    "max_records",
    "progress",
)


def make_source():
    """The source the flags describe; SourceError if they do not fit."""
    name = FLAGS.source
    if name == "yfcc100m":
        return SOURCES[name](FLAGS.input, FLAGS.image_dir, FLAGS.image_layout)
    if name == "jsonl":
        return SOURCES[name](FLAGS.input, FLAGS.image_dir)
    if name == "webdataset":
        return SOURCES[name](FLAGS.input)
    path = FLAGS.input or corpora.corpus_path(name)
    if not FLAGS.input and not corpora.is_fetched(name):
        raise SourceError(f"no --input given and {name} is not fetched: run wsl-fetch-data --corpora={name}")
    if name == "openclipart":
        return SOURCES[name](path, FLAGS.png_dir)
    return SOURCES[name](path, FLAGS.languages)


def stopword_lists() -> str | None:
    """--stopword_lists, or with --stopwords=list the fetched corpus `stopwords` (fetched now if missing)."""
    if FLAGS.stopwords != "list" or FLAGS.stopword_lists:
        return FLAGS.stopword_lists
    return corpora.fetch("stopwords")


def main(argv):
    if len(argv) > 1 and FLAGS.runner == "local":
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])} (pipeline options need a Beam --runner)")
    options = preparer.PrepareOptions(
        vocab_path=FLAGS.vocab, stopword_lists=stopword_lists(), **{name: FLAGS[name].value for name in OPTION_FLAGS}
    )
    if FLAGS.runner == "local":
        preparer.DatasetPreparer(make_source(), options).run()
    else:
        from data_tools import beam_preparer

        beam_preparer.run_pipeline(make_source(), options, FLAGS.runner, argv[1:])
    return 0


def run():
    command.run(main, "wsl-prepare", FLAGS)


if __name__ == "__main__":
    run()
