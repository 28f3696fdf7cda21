"""wsl-embed: run an export over a whole collection and write an index that wsl-search reads.

  wsl-embed --model=runs/demo/run/export --input=photos/ --output=index/photos
  wsl-embed --model=runs/demo/run/export --input=list.jsonl --output=index/mine --float16
  wsl-embed --model=runs/demo/run/export --input=runs/demo/data --split=test --output=index/test
  wsl-embed --model=runs/demo/run/export --input='shards/*.tar' --output=index/cc

--input is a folder of images (searched recursively; keys are the paths under
it), a JSON Lines file as wsl-prepare reads it, a prepared dataset directory
(with --split), or webdataset tars. Every image goes through the export's own
preprocessing (serving_default), --batch_size at a time, into TFRecord shards
of --shard_size images with each image's key, embedding, top words and
scores and a thumbnail, then manifest.json (wsl_tf/collection.py). An image
that cannot be read or decoded, or whose header declares more pixels than
the export allows, is counted and listed in bad.tsv, never fatal. A rerun
after a kill skips the finished shards and ends with the same files.
With --runner=DirectRunner|DataflowRunner|FlinkRunner|SparkRunner the job is
an Apache Beam pipeline (data_tools/beam_embedder.py: Beam's RunInference
with a model handler for the SavedModel) writing the same shards.
--index builds the approximate indexes wsl-search uses above 1,000,000
images (or with --search=approximate) now rather than on first search.
"""

from absl import app, flags

from wsl_tf.cli import command
from wsl_tf.errors import ConfigError

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
flags.DEFINE_string("model", None, "An export directory (RUN/export).", flag_values=FLAGS)
flags.DEFINE_string(
    "input", None, "A folder of images, a .jsonl file, a prepared dataset, or .tar shards (glob).", flag_values=FLAGS
)
flags.DEFINE_string(
    "split", None, "With a prepared dataset as --input: which split (train, val, test).", flag_values=FLAGS
)
flags.DEFINE_string("output", None, "The index directory to write.", flag_values=FLAGS)
flags.DEFINE_integer("batch_size", 64, "Images per call of the model.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_integer(
    "shard_size", 4096, "Images per shard, the unit a rerun resumes from.", lower_bound=1, flag_values=FLAGS
)
flags.DEFINE_bool(
    "float16", False, "Store embeddings as float16 (half the size; said in the manifest).", flag_values=FLAGS
)
flags.DEFINE_bool(
    "thumbnails", True, "Store a JPEG thumbnail of each image, for wsl-search's gallery.", flag_values=FLAGS
)
flags.DEFINE_bool("progress", True, "Show a progress bar with images/s.", flag_values=FLAGS)
flags.DEFINE_bool(
    "index",
    False,
    "Also build the approximate (faiss) indexes for word and image queries now, each with its recall@10 against "
    "exact search printed, instead of on wsl-search's first approximate query (the [ann] extra).",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "runner",
    "local",
    "local (this process) or an Apache Beam runner: DirectRunner, DataflowRunner, FlinkRunner, SparkRunner "
    "(pipeline options after --; the [beam] extra).",
    flag_values=FLAGS,
)
flags.mark_flags_as_required(["model", "input", "output"], flag_values=FLAGS)


def main(argv):
    if len(argv) > 1 and FLAGS.runner == "local":
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])} (pipeline options need a Beam --runner)")
    import tensorflow as tf

    from data_tools.collection_inputs import open_input
    from wsl_tf import collection
    from wsl_tf.cli.predict import saved_model_dir

    export = collection.export_identity(FLAGS.model)
    inputs = open_input(FLAGS.input, FLAGS.split)
    dtype = "float16" if FLAGS.float16 else "float32"
    if FLAGS.runner == "local":
        signatures = tf.saved_model.load(saved_model_dir(FLAGS.model)).signatures
        manifest = collection.write_index(
            signatures,
            inputs.images(),
            FLAGS.output,
            export,
            FLAGS.batch_size,
            FLAGS.shard_size,
            dtype,
            FLAGS.progress,
            FLAGS.thumbnails,
        )
    else:
        try:
            from data_tools import beam_embedder
        except ImportError as error:
            raise ConfigError(
                f"--runner={FLAGS.runner} needs Apache Beam: pip install 'wsl_tf[beam]' ({error})"
            ) from None
        manifest = beam_embedder.run_pipeline(
            inputs,
            saved_model_dir(FLAGS.model),
            FLAGS.output,
            export,
            FLAGS.runner,
            FLAGS.batch_size,
            FLAGS.shard_size,
            dtype,
            FLAGS.thumbnails,
            argv[1:],
        )
    print(
        f"wrote {FLAGS.output}: {manifest['images']:,} images in {len(manifest['shards'])} shards, "
        f"{manifest['bad_images']:,} without an embedding (listed in {collection.BAD})"
    )
    if FLAGS.index:
        index = collection.load_index(FLAGS.output)
        for kind in collection.QUERY_KINDS:
            collection.approximate_index(index, FLAGS.output, kind)
    return 0


def run():
    command.run(main, "wsl-embed", FLAGS)


if __name__ == "__main__":
    run()
