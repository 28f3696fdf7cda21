"""A worker's per-record work: text rules and image re-encoding applied, and a bad record a Skip, never a raise."""

import hashlib
import io

import numpy as np
from PIL import Image

from data_tools import worker
from data_tools.sources import base


class OneItemSource(base.Source):
    """load() returns the item's record, or raises what the item carries."""

    name = "one"

    def scan(self):
        return iter(())

    def load(self, item):
        if isinstance(item.outcome, BaseException):
            raise item.outcome
        return item.outcome


class Item:
    def __init__(self, key, outcome):
        self.key, self.outcome = key, outcome


def png(width=40, height=30) -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


TASK = worker.RecordTask(OneItemSource(), image_size=16, max_pixels=10_000)


def test_a_good_record_gets_its_sorted_distinct_words_and_a_square_jpeg_of_the_task_size():
    record = base.Record("k", png(), "Red cats, the RED cat and café!", "en")
    prepared = worker.prepare_record(Item("k", record), TASK)
    assert isinstance(prepared, worker.PreparedRecord)
    # Lowercased, accents folded, punctuation dropped, each word once, sorted; stop words are the preparer's.
    assert prepared.words == ("and", "cafe", "cat", "cats", "red", "the")
    decoded = Image.open(io.BytesIO(prepared.image))
    assert (decoded.format, decoded.size, decoded.mode) == ("JPEG", (16, 16), "RGB")
    assert (prepared.key, prepared.language) == ("k", "en")
    # The split is drawn from the source's bytes, not from the re-encoded JPEG.
    assert prepared.identity == hashlib.sha256(record.image).hexdigest()


def test_a_text_with_no_word_left_is_skipped_as_empty_text():
    prepared = worker.prepare_record(Item("k", base.Record("k", png(), "!!! 123 ...")), TASK)
    assert prepared == base.Skip("k", base.EMPTY_TEXT, "no words left after the text rules")


def test_an_image_that_does_not_decode_or_is_too_large_is_a_skip_with_its_reason():
    whole = png()
    truncated = whole[: len(whole) // 2]
    assert worker.prepare_record(Item("t", base.Record("t", truncated, "crow")), TASK).reason == base.CORRUPT_IMAGE
    big = worker.prepare_record(Item("b", base.Record("b", png(200, 100), "crow")), TASK)
    assert (big.key, big.reason) == ("b", base.TOO_MANY_PIXELS)


def test_a_loader_skip_passes_through_and_an_unexpected_error_becomes_reason_error():
    skip = worker.prepare_record(Item("m", base.SkipRecord(base.MISSING_FILE, "m.png")), TASK)
    assert skip == base.Skip("m", base.MISSING_FILE, "m.png")
    bug = worker.prepare_record(Item("z", ZeroDivisionError("division by zero")), TASK)
    assert bug == base.Skip("z", base.ERROR, "ZeroDivisionError: division by zero")
    scanned = base.Skip("s", base.BAD_LINE, "line 3")
    assert worker.prepare_record(scanned, TASK) is scanned


def test_a_worker_process_uses_the_task_set_once_by_init_worker():
    worker.init_worker(TASK)
    try:
        prepared = worker.prepare_record(Item("k", base.Record("k", png(), "crow")))
        assert prepared.words == ("crow",)
    finally:
        worker.init_worker(None)
