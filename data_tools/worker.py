"""The per-record work of wsl-prepare, run in worker processes.

Loads a scanned item, applies the text rules and re-encodes the image. It
imports neither TensorFlow nor the job's writers, so workers start fast.
"""

import dataclasses

from data_tools import images
from data_tools.sources import base
from wsl_tf import records
from wsl_tf import text as text_rules


@dataclasses.dataclass(frozen=True)
class PreparedRecord:
    """A record ready to be split and written; `identity` (records.image_identity of the source's image bytes)
    decides its split."""

    key: str
    image: bytes
    words: tuple[str, ...]
    identity: str
    language: str = ""


@dataclasses.dataclass(frozen=True)
class RecordTask:
    """What a worker needs besides the item; set once per worker process."""

    source: base.Source
    image_size: int
    max_pixels: int


_task: RecordTask | None = None


def init_worker(task: RecordTask) -> None:
    global _task
    _task = task


def prepare_record(item, task: RecordTask | None = None) -> PreparedRecord | base.Skip:
    """One scanned item -> a prepared record, or the Skip that says why not.

    Never raises for a bad record: unexpected errors become reason "error".
    """
    task = task or _task
    if isinstance(item, base.Skip):
        return item
    try:
        record = task.source.load(item)
        words = tuple(text_rules.target_words(record.text))
        if not words:
            raise base.SkipRecord(base.EMPTY_TEXT, "no words left after the text rules")
        image = images.encode_image(record.image, task.image_size, task.max_pixels)
        return PreparedRecord(record.key, image, words, records.image_identity(record.image), record.language)
    except base.SkipRecord as skip:
        return base.Skip(item.key, skip.reason, skip.detail)
    except Exception as error:  # One bad record must never stop the job.
        return base.Skip(item.key, base.ERROR, f"{type(error).__name__}: {error}")
