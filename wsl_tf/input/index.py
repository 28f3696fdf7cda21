"""The train split's index: where each record is, and which records each word has.

Written by wsl-prepare next to the shards as `train-index.npz`:

- `shard` [N] int32, `offset` [N] int64, `length` [N] int32: record n (train
  records numbered in shard order) is the serialized Example at byte
  `offset` of train shard `shard`, `length` bytes long;
- `word_offsets` [K + 1] int64 and `word_records` [pairs] (int32, or int64
  past 2^31 records): the records of word w, ascending, are
  word_records[word_offsets[w]:word_offsets[w + 1]] (a CSR matrix).

It is what lets the uniform-per-word sampler draw a word, then one of its
images, and read just that record, without one tf.data pipeline per word.
Its size is about 16 bytes a record plus 4 a (record, word) pair.
"""

import array
import dataclasses
import io

import numpy as np

from wsl_tf import fileio
from wsl_tf.errors import DataError

# A TFRecord is: uint64 length, uint32 CRC of it, the data, uint32 CRC of the data.
RECORD_HEADER_BYTES = 12
RECORD_FOOTER_BYTES = 4


class TrainIndexBuilder:
    """Collects record positions and word lists as shards are written, in order."""

    def __init__(self, num_shards: int, num_words: int):
        self.num_words = num_words
        self._shard_positions = [0] * num_shards
        self._shard, self._offset, self._length = array.array("i"), array.array("q"), array.array("i")
        self._pair_records, self._pair_words = array.array("q"), array.array("i")
        self.max_words_per_record = 0

    def add(self, shard: int, length: int, word_ids) -> None:
        """Record the next Example written to train shard `shard`."""
        record = len(self._shard)
        self._shard.append(shard)
        self._offset.append(self._shard_positions[shard] + RECORD_HEADER_BYTES)
        self._length.append(length)
        self._shard_positions[shard] += RECORD_HEADER_BYTES + length + RECORD_FOOTER_BYTES
        self._pair_records.extend([record] * len(word_ids))
        self._pair_words.extend(word_ids)
        self.max_words_per_record = max(self.max_words_per_record, len(word_ids))

    def arrays(self) -> dict:
        words = np.frombuffer(self._pair_words, dtype=np.int32)
        order = np.argsort(words, kind="stable")  # Records stay ascending within a word.
        record_dtype = np.int32 if len(self._shard) < 2**31 else np.int64
        counts = np.bincount(words, minlength=self.num_words)
        return {
            "shard": np.frombuffer(self._shard, dtype=np.int32),
            "offset": np.frombuffer(self._offset, dtype=np.int64),
            "length": np.frombuffer(self._length, dtype=np.int32),
            "word_offsets": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            "word_records": np.frombuffer(self._pair_records, dtype=np.int64)[order].astype(record_dtype),
        }

    def save(self, path: str) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **self.arrays())
        fileio.write_bytes_atomic(path, buffer.getvalue())


@dataclasses.dataclass(frozen=True)
class TrainIndex:
    shard: np.ndarray
    offset: np.ndarray
    length: np.ndarray
    word_offsets: np.ndarray
    word_records: np.ndarray

    @classmethod
    def load(cls, path: str) -> "TrainIndex":
        """The index wsl-prepare wrote; ValueError naming the file when it is missing, damaged or inconsistent."""
        import zipfile

        import tensorflow as tf

        try:
            with tf.io.gfile.GFile(path, "rb") as handle:
                data = np.load(io.BytesIO(handle.read()))
                index = cls(**{field.name: data[field.name] for field in dataclasses.fields(cls)})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, tf.errors.OpError) as error:
            raise DataError(
                f"{path}: damaged train index ({type(error).__name__}: {fileio.error_line(error)}); rerun wsl-prepare"
            ) from None
        problem = index.inconsistency()
        if problem:
            raise DataError(f"{path}: damaged train index ({problem}); rerun wsl-prepare")
        return index

    def inconsistency(self) -> str | None:
        """What makes the arrays disagree with each other, or None."""
        records = len(self.shard)
        if not (len(self.offset) == len(self.length) == records):
            return f"{records} shard numbers, {len(self.offset)} offsets, {len(self.length)} lengths"
        offsets = self.word_offsets
        if (
            len(offsets) == 0
            or offsets[0] != 0
            or offsets[-1] != len(self.word_records)
            or np.any(np.diff(offsets) < 0)
        ):
            return "word offsets do not partition the word records"
        if len(self.word_records) and (self.word_records.min() < 0 or self.word_records.max() >= records):
            return f"a word record outside 0..{records - 1}"
        if records and (self.offset.min() < 0 or self.length.min() < 0):
            return "a negative offset or length"
        return None

    @property
    def num_records(self) -> int:
        return len(self.shard)

    @property
    def num_words(self) -> int:
        return len(self.word_offsets) - 1

    def word_counts(self) -> np.ndarray:
        """N_k: the train images of each word."""
        return np.diff(self.word_offsets)

    def records_of(self, word: int) -> np.ndarray:
        return self.word_records[self.word_offsets[word] : self.word_offsets[word + 1]]
