"""The source contract: scan then load, a bad record as a Skip naming why, and the shared file helpers."""

import os

import pytest

from data_tools.sources import base


class ListSource(base.Source):
    """Items are (key, text) pairs; a text of None is unusable, a key 'skip' is skipped at scan."""

    name = "list"

    def __init__(self, items):
        self.items = items
        self._loaded = []

    def scan(self):
        for key, text in self.items:
            yield base.Skip(key, base.BAD_LINE, "scanned bad") if key == "skip" else _Item(key, text)

    def load(self, item):
        self._loaded.append(item.key)
        if item.text is None:
            raise base.SkipRecord(base.EMPTY_TEXT, "no text")
        return base.Record(item.key, b"bytes", item.text)


class _Item:
    def __init__(self, key, text):
        self.key, self.text = key, text


def test_read_chains_scan_and_load_in_order_and_turns_an_unusable_record_into_a_skip():
    source = ListSource([("a", "red"), ("skip", "x"), ("b", None), ("c", "blue")])
    out = list(source.read())
    assert out == [
        base.Record("a", b"bytes", "red"),
        base.Skip("skip", base.BAD_LINE, "scanned bad"),
        base.Skip("b", base.EMPTY_TEXT, "no text"),
        base.Record("c", b"bytes", "blue"),
    ]
    assert source._loaded == ["a", "b", "c"]  # A scan-time skip is never loaded.


def test_describe_lists_the_public_settings_as_strings_and_hides_private_ones():
    assert ListSource([("a", "x")]).describe() == {"name": "list", "items": "[('a', 'x')]"}


def test_skip_record_message_joins_reason_and_detail():
    assert str(base.SkipRecord(base.CORRUPT_IMAGE, "x.png")) == "corrupt_image: x.png"
    assert str(base.SkipRecord(base.VIDEO)) == "video"


def test_files_under_walks_depth_first_in_sorted_order_and_filters_by_suffix(tmp_path):
    for path in ("b/2.png", "b/1.png", "a/z.png", "a/y.txt", "c.png", "a/deeper/0.png"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"")
    found = [os.path.relpath(p, tmp_path) for p in base.files_under(str(tmp_path), ".png")]
    assert found == ["c.png", "a/z.png", "a/deeper/0.png", "b/1.png", "b/2.png"]


def test_read_file_names_a_missing_or_unreadable_file_as_a_skip(tmp_path):
    good = tmp_path / "good.bin"
    good.write_bytes(b"\x00\x01")
    assert base.read_file(str(good)) == b"\x00\x01"
    for missing in (tmp_path / "nope.bin", tmp_path):  # Absent, and a directory.
        with pytest.raises(base.SkipRecord) as raised:
            base.read_file(str(missing))
        assert (raised.value.reason, raised.value.detail) == (base.MISSING_FILE, str(missing))
    loop = tmp_path / "loop"  # Opening it fails with ELOOP, an OSError that is not a missing file (even as root).
    os.symlink(loop, loop)
    with pytest.raises(base.SkipRecord) as raised:
        base.read_file(str(loop))
    assert (raised.value.reason, raised.value.detail) == (
        base.UNREADABLE_FILE,
        f"{loop}: Too many levels of symbolic links",
    )


def test_decode_text_names_where_and_the_byte_that_is_not_utf8():
    assert base.decode_text("café".encode(), "x.txt") == "café"
    with pytest.raises(base.SkipRecord) as raised:
        base.decode_text(b"ok \xff", "x.txt")
    assert raised.value.reason == base.UNDECODABLE_TEXT
    assert raised.value.detail == "x.txt: invalid start byte at byte 3"


def test_require_path_names_the_flag_and_what_is_wrong(tmp_path):
    file = tmp_path / "a.jsonl"
    file.write_text("")
    assert base.require_path(str(file), "--input") == str(file)
    assert base.require_path(str(tmp_path), "--input", directory=True) == str(tmp_path)
    with pytest.raises(base.SourceError, match=r"^--input is required for this source$"):
        base.require_path(None, "--input")
    with pytest.raises(base.SourceError, match=r"^--input=.*a\.jsonl: not a directory$"):
        base.require_path(str(file), "--input", directory=True)
    with pytest.raises(base.SourceError, match=r"^--input=.*nope: no such file or directory$"):
        base.require_path(str(tmp_path / "nope"), "--input")
