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
--index builds the approximate indexes wsl-search uses above 1,000,000
images (or with --search=approximate) now rather than on first search.
"""

import os

from absl import app, flags

from wsl_tf import fileio
from wsl_tf.cli import command
from wsl_tf.errors import ConfigError, DataError

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
flags.mark_flags_as_required(["model", "input", "output"], flag_values=FLAGS)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


def folder_images(root: str):
    """(path under root, bytes or None when unreadable) of every image file under root, in sorted order."""
    import tensorflow as tf

    found = []
    for folder, _, names in tf.io.gfile.walk(root):
        found += [os.path.join(folder, n) for n in names if n.lower().endswith(IMAGE_SUFFIXES)]
    for path in sorted(found):
        try:
            data = fileio.read_bytes(path)
        except (OSError, tf.errors.OpError):
            data = None
        yield os.path.relpath(path, root), data


def source_images(source):
    """(key, bytes or None) of a data_tools source's records: a record it cannot load has no bytes."""
    from data_tools.sources import base

    for item in source.scan():
        if isinstance(item, base.Skip):
            yield item.key, None
            continue
        try:
            record = source.load(item)
        except base.SkipRecord:
            yield getattr(item, "key", str(item)), None
            continue
        yield record.key, record.image


def dataset_images(directory: str, split: str):
    """(key, encoded image) of each record of a prepared dataset's split, in shard order."""
    import tensorflow as tf

    from wsl_tf import records

    for path in records.shard_paths(directory, split):
        for serialized in tf.data.TFRecordDataset(path):
            feature = tf.train.Example.FromString(serialized.numpy()).features.feature
            yield feature[records.KEY].bytes_list.value[0].decode("utf-8"), feature[records.IMAGE].bytes_list.value[0]


def collection_images(input_path: str, split: str | None):
    """The images of --input, by its kind; DataError when it is none of them."""
    import tensorflow as tf

    from wsl_tf import records

    if tf.io.gfile.isdir(input_path) and fileio.exists(os.path.join(input_path, records.METADATA_FILE)):
        if split not in records.SPLITS:
            raise ConfigError(f"--input={input_path} is a prepared dataset: give --split=train, val or test")
        return dataset_images(input_path, split)
    if split:
        raise ConfigError(f"--split={split}: only for a prepared dataset as --input")
    if tf.io.gfile.isdir(input_path):
        return folder_images(input_path)
    if input_path.endswith(".jsonl"):
        from data_tools.sources.jsonl import JsonlSource

        return source_images(JsonlSource(input_path))
    if input_path.endswith(".tar") or "*" in input_path:
        from data_tools.sources.webdataset import WebDatasetSource

        return source_images(WebDatasetSource(input_path))
    if not tf.io.gfile.exists(input_path):
        raise DataError(f"--input={input_path}: no such file or directory")
    raise DataError(
        f"--input={input_path}: expected a folder of images, a .jsonl file, a prepared dataset or .tar shards"
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    import tensorflow as tf

    from wsl_tf import collection
    from wsl_tf.cli.predict import saved_model_dir

    export = collection.export_identity(FLAGS.model)
    signatures = tf.saved_model.load(saved_model_dir(FLAGS.model)).signatures
    manifest = collection.write_index(
        signatures,
        collection_images(FLAGS.input, FLAGS.split),
        FLAGS.output,
        export,
        FLAGS.batch_size,
        FLAGS.shard_size,
        "float16" if FLAGS.float16 else "float32",
        FLAGS.progress,
        FLAGS.thumbnails,
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
