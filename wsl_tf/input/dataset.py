"""A dataset directory, opened once: its metadata, vocabulary, train index and shards.

The trainer, the pipelines and evaluation take one `PreparedDataset` instead
of a path, so a run reads dataset.json and vocab.tsv once and holds one copy
of the train index (multi-GB at YFCC100M scale) however many replicas draw
from it. The vocabulary and the index are read when first asked for.
"""

import functools
import hashlib
import os

import numpy as np

from wsl_tf import records
from wsl_tf.errors import DataError
from wsl_tf.input.index import TrainIndex
from wsl_tf.vocab import Vocabulary


class PreparedDataset:
    """What wsl-prepare wrote in `directory` (see wsl_tf/records.py for the format)."""

    def __init__(self, directory: str):
        """ValueError naming the directory if it is not a dataset directory of this schema version."""
        self.directory = directory
        self.metadata = records.read_metadata(directory)

    @classmethod
    def of(cls, dataset: "PreparedDataset | str") -> "PreparedDataset":
        """The dataset itself, or the dataset a directory path holds."""
        return dataset if isinstance(dataset, PreparedDataset) else cls(dataset)

    def __repr__(self) -> str:
        return f"PreparedDataset({self.directory!r})"

    @property
    def vocab_size(self) -> int:
        return self.metadata["vocab_size"]

    @property
    def max_words_per_image(self) -> int:
        return max(1, self.metadata["max_words_per_image"])

    @functools.cached_property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary.load(os.path.join(self.directory, records.VOCAB_FILE))

    @functools.cached_property
    def vocab_sha256(self) -> str:
        """Identifies the dictionary: a run directory refuses a dataset with another."""
        return hashlib.sha256(self.vocabulary.to_tsv().encode()).hexdigest()

    @functools.cached_property
    def train_index(self) -> TrainIndex:
        if "train_index" not in self.metadata:
            raise DataError(f"{self.directory}: no train index (prepared by an older wsl-prepare): rerun it")
        return TrainIndex.load(os.path.join(self.directory, self.metadata["train_index"]))

    def train_word_counts(self) -> np.ndarray:
        """N_k, the train images of each word in this dataset (vocab.tsv may count another's, with --vocab)."""
        return self.train_index.word_counts()

    def log_word_prior(self, num_words: int) -> np.ndarray:
        """log N_k / N [num_words], the train split's log word frequencies (a word with no train image counts
        half an image): what the natural ranking adds to a model's scores, weighted."""
        counts = self.train_word_counts()[:num_words].astype(np.float64)
        return np.log(np.maximum(counts, 0.5) / max(self.train_index.num_records, 1)).astype(np.float32)

    def shards(self, split: str) -> list[str]:
        """The split's shard paths in order; ValueError if none, or not those dataset.json lists."""
        paths = records.shard_paths(self.directory, split)
        listed = self.metadata.get("shards", {}).get(split)
        if not paths:
            raise DataError(f"{self.directory}: no {split} shards")
        if listed is not None and len(paths) != len(listed):
            raise DataError(f"{self.directory}: {len(paths)} {split} shards found, dataset.json lists {len(listed)}")
        return paths
