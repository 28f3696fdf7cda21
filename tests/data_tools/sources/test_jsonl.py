import json

import pytest

from data_tools.sources import base
from data_tools.sources.jsonl import JsonlSource


def test_reads_records_keys_and_caption_lists(tmp_path, write_image):
    write_image("a.jpg", seed=1)
    write_image("sub/b.png", fmt="PNG", seed=2)
    lines = [
        {"image": "a.jpg", "text": "A dog on a beach"},
        {"image": "sub/b.png", "text": ["first caption", "second"], "key": "b-key"},
    ]
    path = tmp_path / "list.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n")
    out = list(JsonlSource(str(path)).read())
    assert [(r.key, r.text) for r in out] == [("a.jpg", "A dog on a beach"), ("b-key", "first caption\nsecond")]
    assert out[1].image == (tmp_path / "sub/b.png").read_bytes()


def test_image_dir_flag(tmp_path, write_image):
    write_image("images/a.jpg")
    path = tmp_path / "list.jsonl"
    path.write_text(json.dumps({"image": "a.jpg", "text": "x"}))
    (record,) = JsonlSource(str(path), str(tmp_path / "images")).read()
    assert record.key == "a.jpg"


def test_bad_lines_are_skipped_with_their_line_numbers(tmp_path):
    path = tmp_path / "list.jsonl"
    path.write_bytes(
        b'{"image": "a.jpg", "text": \n'
        b'["not", "an", "object"]\n'
        b'{"image": "a.jpg", "text": 5}\n'
        b'{"image": "a.jpg", "text": "caf\xe9"}\n'
        b'{"image": "missing.jpg", "text": "fine"}\n'
    )
    out = list(JsonlSource(str(path)).read())
    assert [(s.key, s.reason) for s in out] == [
        ("list.jsonl:1", base.BAD_LINE),
        ("list.jsonl:2", base.BAD_LINE),
        ("list.jsonl:3", base.BAD_LINE),
        ("list.jsonl:4", base.UNDECODABLE_TEXT),
        ("missing.jpg", base.MISSING_FILE),
    ]
    assert "invalid JSON" in out[0].detail


def test_directory_input_is_refused(tmp_path):
    with pytest.raises(base.SourceError, match="expected a .jsonl file"):
        JsonlSource(str(tmp_path))
