"""The YFCC100M reader on small files written in the release's exact formats."""

import bz2
import urllib.parse

import pytest

from data_tools.sources import base
from data_tools.sources.yfcc100m import Yfcc100mSource


def _encode(text: str) -> str:
    return urllib.parse.quote_plus(text)


def yfcc_line(photo_id, title="", description="", tags=(), marker=0, photo_hash=None, line_number=None):
    """One line of yfcc100m_dataset: 23 columns, or 25 with line number and hash in front."""
    columns = [
        str(photo_id),
        "12345678@N00",
        "some+user",
        "2010-07-04 18:22:41.0",
        "1278288161",
        "Canon+EOS+5D",
        _encode(title),
        _encode(description),
        ",".join(_encode(t) for t in tags),
        "",
        "-122.419",
        "37.775",
        "16",
        f"http://www.flickr.com/photos/12345678@N00/{photo_id}/",
        f"http://farm5.staticflickr.com/4011/{photo_id}_abc123.jpg",
        "Attribution-NonCommercial-ShareAlike License",
        "http://creativecommons.org/licenses/by-nc-sa/2.0/",
        "4011",
        "5",
        "abc123",
        "def456",
        "jpg",
        str(marker),
    ]
    assert len(columns) == 23
    if photo_hash is not None:
        columns = [str(line_number), columns[0], photo_hash] + columns[1:]
        assert len(columns) == 25
    return "\t".join(columns) + "\n"


@pytest.fixture
def images(tmp_path, write_image):
    write_image("img/6985418911.jpg", seed=1)
    write_image("img/4420023408.jpg", seed=2)
    write_image("img/d29/e2b/d29e2bde7a3f1b53e8e6b1f3c5a6c3e.jpg", seed=3)
    return str(tmp_path / "img")


def test_23_column_lines_decode_title_description_and_tags(tmp_path, images):
    path = tmp_path / "yfcc100m_dataset"
    path.write_text(
        yfcc_line(
            6985418911,
            "Sunset at Ocean Beach",
            "Shot with my <b>50mm</b> lens",
            tags=("sanfrancisco", "golden gate", "café"),
        )
        + yfcc_line(4420023408, "Clip", tags=("video",), marker=1)
    )
    out = list(Yfcc100mSource(str(path), images).read())
    assert out[0].key == "6985418911"
    assert out[0].text == "Sunset at Ocean Beach\nShot with my <b>50mm</b> lens\nsanfrancisco\ngolden gate\ncafé"
    assert out[0].image == (tmp_path / "img/6985418911.jpg").read_bytes()
    assert out[1] == base.Skip("4420023408", base.VIDEO, "yfcc100m_dataset:2")


def test_raw_field_encoding_is_exactly_url_plus_encoding(tmp_path, images):
    line = yfcc_line(6985418911, "Golden Gate", tags=("a,b",))
    assert "\tGolden+Gate\t" in line and "\ta%2Cb\t" in line
    path = tmp_path / "f"
    path.write_text(line)
    (record,) = Yfcc100mSource(str(path), images).read()
    assert record.text == "Golden Gate\na,b"


def test_25_column_release_with_hash_layout(tmp_path, images):
    photo_hash = "d29e2bde7a3f1b53e8e6b1f3c5a6c3e"
    path = tmp_path / "yfcc100m_dataset"
    path.write_text(yfcc_line(1234, "Hash layout", photo_hash=photo_hash, line_number=0))
    (record,) = Yfcc100mSource(str(path), images, image_layout="hash").read()
    assert record.key == "1234" and record.text == "Hash layout"
    (same,) = Yfcc100mSource(str(path), images, image_layout="hash").read()
    assert same.image == record.image


def test_25_column_release_with_id_layout(tmp_path, images):
    path = tmp_path / "yfcc100m_dataset"
    path.write_text(yfcc_line(6985418911, "Id layout", photo_hash="abc", line_number=7))
    (record,) = Yfcc100mSource(str(path), images).read()
    assert record.image == (tmp_path / "img/6985418911.jpg").read_bytes()


def test_bz2_compressed_file(tmp_path, images):
    path = tmp_path / "yfcc100m_dataset.bz2"
    path.write_bytes(bz2.compress(yfcc_line(6985418911, "Compressed").encode()))
    (record,) = Yfcc100mSource(str(path), images).read()
    assert record.text == "Compressed"


def test_bad_lines_are_skipped_with_reasons(tmp_path, images):
    path = tmp_path / "yfcc100m_dataset"
    path.write_bytes(
        b"only\tthree\tcolumns\n"
        + yfcc_line("notanumber", "x").encode()
        + yfcc_line(999, "no image file").encode()
        + yfcc_line(4420023408, "bad utf8").replace("bad+utf8", "bad%FF%FEutf8").encode()
        + yfcc_line(6985418911, "no hash").encode()
    )
    out = list(Yfcc100mSource(str(path), images).read())
    assert [(s.reason, s.key) for s in out[:4]] == [
        (base.BAD_LINE, "yfcc100m_dataset:1"),
        (base.BAD_LINE, "yfcc100m_dataset:2"),
        (base.MISSING_FILE, "999"),
        (base.UNDECODABLE_TEXT, "4420023408"),
    ]
    assert "3 columns" in out[0].detail
    hashed = list(Yfcc100mSource(str(path), images, image_layout="hash").read())
    assert hashed[-1].reason == base.BAD_LINE and "no photo hash" in hashed[-1].detail


def test_flag_errors(tmp_path, images):
    with pytest.raises(base.SourceError, match="--input=.*no such file"):
        Yfcc100mSource(str(tmp_path / "missing"), images)
    (tmp_path / "f").write_text("")
    with pytest.raises(base.SourceError, match="--image_dir is required"):
        Yfcc100mSource(str(tmp_path / "f"), None)
    with pytest.raises(base.SourceError, match="--image_layout=flat"):
        Yfcc100mSource(str(tmp_path / "f"), images, image_layout="flat")
