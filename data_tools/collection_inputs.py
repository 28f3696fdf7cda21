"""The images of a collection, as wsl-embed reads them, by the kind of --input.

Each kind is scanned in a fixed order into (key, reference) pairs, and a
reference loaded into the image's encoded bytes (None when it cannot be
read): the local job chains the two (`images()`), the Beam job scans in the
launcher and loads on the workers. Kinds: a folder of images (recursive,
keyed by the paths under it), a JSON Lines file as wsl-prepare reads it,
webdataset tars, and a prepared dataset's split (whose scan already holds
the bytes: its records are read in shard order).
"""

import os
from collections.abc import Iterator

from data_tools.sources import base
from wsl_tf import fileio, records
from wsl_tf.errors import ConfigError, DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp")


class CollectionInput:
    """scan() -> (key, reference) in a fixed order; load(reference) -> encoded bytes or None."""

    def scan(self) -> Iterator[tuple[str, object]]:
        raise NotImplementedError

    def load(self, reference) -> bytes | None:
        raise NotImplementedError

    def images(self) -> Iterator[tuple[str, bytes | None]]:
        for key, reference in self.scan():
            yield key, self.load(reference)


class FolderInput(CollectionInput):
    def __init__(self, root: str):
        self.root = root

    def scan(self):
        import tensorflow as tf

        found = []
        for folder, _, names in tf.io.gfile.walk(self.root):
            found += [os.path.join(folder, n) for n in names if n.lower().endswith(IMAGE_SUFFIXES)]
        for path in sorted(found):
            yield os.path.relpath(path, self.root), path

    def load(self, path):
        import tensorflow as tf

        try:
            return fileio.read_bytes(path)
        except (OSError, tf.errors.OpError):
            return None


class SourceInput(CollectionInput):
    """A data_tools source (JSONL, webdataset): a record it cannot load has no bytes."""

    def __init__(self, source: base.Source):
        self.source = source

    def scan(self):
        for item in self.source.scan():
            yield item.key, None if isinstance(item, base.Skip) else item

    def load(self, item):
        if item is None:
            return None
        try:
            return self.source.load(item).image
        except base.SkipRecord:
            return None


class DatasetSplitInput(CollectionInput):
    """A prepared dataset's split, in shard order; each reference is the image's bytes."""

    def __init__(self, directory: str, split: str):
        self.directory, self.split = directory, split

    def scan(self):
        import tensorflow as tf

        for path in records.shard_paths(self.directory, self.split):
            for serialized in tf.data.TFRecordDataset(path):
                feature = tf.train.Example.FromString(serialized.numpy()).features.feature
                yield (
                    feature[records.KEY].bytes_list.value[0].decode("utf-8"),
                    feature[records.IMAGE].bytes_list.value[0],
                )

    def load(self, data):
        return data


def open_input(input_path: str, split: str | None) -> CollectionInput:
    """The collection --input names, by its kind; ConfigError or DataError naming the flag when it is none."""
    import tensorflow as tf

    if tf.io.gfile.isdir(input_path) and fileio.exists(os.path.join(input_path, records.METADATA_FILE)):
        if split not in records.SPLITS:
            raise ConfigError(f"--input={input_path} is a prepared dataset: give --split=train, val or test")
        return DatasetSplitInput(input_path, split)
    if split:
        raise ConfigError(f"--split={split}: only for a prepared dataset as --input")
    if tf.io.gfile.isdir(input_path):
        return FolderInput(input_path)
    if input_path.endswith(".jsonl"):
        from data_tools.sources.jsonl import JsonlSource

        return SourceInput(JsonlSource(input_path))
    if input_path.endswith(".tar") or "*" in input_path:
        from data_tools.sources.webdataset import WebDatasetSource

        return SourceInput(WebDatasetSource(input_path))
    if not tf.io.gfile.exists(input_path):
        raise DataError(f"--input={input_path}: no such file or directory")
    raise DataError(
        f"--input={input_path}: expected a folder of images, a .jsonl file, a prepared dataset or .tar shards"
    )
