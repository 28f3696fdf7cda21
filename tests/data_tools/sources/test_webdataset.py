"""WebDataset shards laid out as img2dataset writes them."""

import io
import json
import tarfile

import pytest

from data_tools.sources import base
from data_tools.sources.webdataset import WebDatasetSource
from tests.helpers import image_bytes


def write_tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def img2dataset_shard(path, first_key, captions):
    members = []
    for i, caption in enumerate(captions):
        key = f"{first_key + i:09d}"
        members += [
            (f"{key}.jpg", image_bytes(seed=i)),
            (f"{key}.txt", caption.encode()),
            (f"{key}.json", json.dumps({"caption": caption, "url": "x"}).encode()),
        ]
    write_tar(path, members)


def test_reads_img2dataset_shards_in_order(tmp_path):
    img2dataset_shard(tmp_path / "00000.tar", 0, ["a red car", "two dogs"])
    img2dataset_shard(tmp_path / "00001.tar", 10000, ["a boat"])
    out = list(WebDatasetSource(str(tmp_path)).read())
    assert [(r.key, r.text) for r in out] == [
        ("000000000", "a red car"),
        ("000000001", "two dogs"),
        ("000010000", "a boat"),
    ]
    assert out[1].image == image_bytes(seed=1)


def test_json_caption_when_no_txt_and_missing_image(tmp_path):
    write_tar(
        tmp_path / "s.tar",
        [
            ("k1.json", json.dumps({"caption": "from json"}).encode()),
            ("k1.png", image_bytes(fmt="PNG")),
            ("k2.txt", b"caption without an image"),
            ("k3.jpg", image_bytes()),
            ("k3.txt", b"\xff\xfe"),
        ],
    )
    out = list(WebDatasetSource(str(tmp_path / "s.tar")).read())
    assert out[0].text == "from json"
    assert (out[1].key, out[1].reason) == ("k2", base.MISSING_FILE)
    assert (out[2].key, out[2].reason) == ("k3", base.UNDECODABLE_TEXT)


def test_truncated_shard_is_one_skip_and_reading_goes_on(tmp_path):
    img2dataset_shard(tmp_path / "00000.tar", 0, ["first", "second", "third"])
    data = (tmp_path / "00000.tar").read_bytes()
    cut = data.index(b"000000001.jpg") + 512 + 300  # Inside the second image's bytes.
    (tmp_path / "00000.tar").write_bytes(data[:cut])
    img2dataset_shard(tmp_path / "00001.tar", 100, ["next shard"])
    out = list(WebDatasetSource(str(tmp_path / "*.tar")).read())
    assert [getattr(r, "reason", None) for r in out] == [None, base.BAD_ARCHIVE, None]
    assert out[0].text == "first"
    assert out[-1].text == "next shard"


def test_no_shards_is_a_clear_error(tmp_path):
    with pytest.raises(base.SourceError, match="no .tar shards"):
        WebDatasetSource(str(tmp_path / "*.tar"))
