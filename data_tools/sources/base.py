"""What every source reader yields, and how it reports a bad record.

A source is read in two steps so that the expensive part runs in parallel:
`scan()` walks the collection in a fixed order in the main process and yields
light items (a path, a line's fields) or a `Skip`; `load(item)` runs in a
worker and returns a `Record` (key, image bytes, text) or raises `SkipRecord`.
`read()` chains the two for callers that want plain records.
"""

import abc
import dataclasses
import os
from collections.abc import Iterator
from typing import Any

from wsl_tf.errors import DataError

# Why a record was skipped; these names are the keys of dataset.json's
# "skipped" table and the second column of skipped.tsv.
BAD_LINE = "bad_line"
MISSING_FILE = "missing_file"
UNREADABLE_FILE = "unreadable_file"
UNDECODABLE_TEXT = "undecodable_text"
EMPTY_TEXT = "empty_text"
NO_CAPTION = "no_caption_in_languages"
VIDEO = "video"
CORRUPT_IMAGE = "corrupt_image"
UNSUPPORTED_FORMAT = "unsupported_format"
TOO_MANY_PIXELS = "too_many_pixels"
BAD_ARCHIVE = "bad_archive"
ERROR = "error"
DUPLICATE_KEY = "duplicate_key"  # The key of an earlier record of the collection.
DUPLICATE = "duplicate"  # The image bytes and words of an earlier record, under another key.


class SourceError(DataError):
    """The collection as a whole cannot be read (bad path, wrong format)."""


class SkipRecord(Exception):
    """One record cannot be used; the job goes on without it."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True)
class Record:
    key: str
    image: bytes
    text: str
    language: str = ""


@dataclasses.dataclass(frozen=True)
class Skip:
    key: str
    reason: str
    detail: str = ""


class Source(abc.ABC):
    """A raw collection: an ordered scan plus a per-item loader."""

    name: str = ""

    @abc.abstractmethod
    def scan(self) -> Iterator[Any]:
        """Items (each with a `key`) or `Skip`s, in a fixed order."""

    @abc.abstractmethod
    def load(self, item: Any) -> Record:
        """The record of one scanned item; raises SkipRecord when unusable."""

    def count(self) -> int | None:
        """How many items scan() yields, where that is cheap to know (for a progress total); else None."""
        return None

    def describe(self) -> dict:
        """The source's configuration (its public attributes), for dataset.json."""
        return {"name": self.name, **{k: str(v) for k, v in sorted(vars(self).items()) if not k.startswith("_")}}

    def read(self) -> Iterator[Record | Skip]:
        for item in self.scan():
            if isinstance(item, Skip):
                yield item
                continue
            try:
                yield self.load(item)
            except SkipRecord as skip:
                yield Skip(item.key, skip.reason, skip.detail)


def files_under(root: str, suffix: str) -> Iterator[str]:
    """Paths of the files under root ending in suffix, in a fixed (sorted, depth-first) order."""
    for directory, subdirs, files in os.walk(root):
        subdirs.sort()
        for name in sorted(files):
            if name.endswith(suffix):
                yield os.path.join(directory, name)


def read_file(path: str) -> bytes:
    """The bytes of a file, or SkipRecord naming why they cannot be had."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise SkipRecord(MISSING_FILE, path) from None
    except OSError as error:
        raise SkipRecord(UNREADABLE_FILE, f"{path}: {error.strerror}") from None


def decode_text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SkipRecord(UNDECODABLE_TEXT, f"{where}: {error.reason} at byte {error.start}") from None


def require_path(path: str | None, flag: str, directory: bool = False) -> str:
    """Check a path flag names something readable; SourceError otherwise."""
    if not path:
        raise SourceError(f"{flag} is required for this source")
    if directory and not os.path.isdir(path):
        raise SourceError(f"{flag}={path}: not a directory")
    if not directory and not os.path.exists(path):
        raise SourceError(f"{flag}={path}: no such file or directory")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{flag}={path}: not readable")
    return path
