"""The YFCC100M metadata file (`yfcc100m_dataset`), one photo or video a line.

Two layouts exist, both tab-separated:
- the original 23 columns: photo id, user nsid, nickname, date taken, date
  uploaded, device, title, description, user tags, machine tags, longitude,
  latitude, accuracy, page URL, download URL, license name, license URL,
  server, farm, secret, original secret, original extension, marker;
- the 25-column release, which puts a line number and the photo hash in
  front of those (the id moves to the second column).
Title, description and tags are URL-encoded with '+' for spaces; user tags
are comma-separated. Marker 1 is a video (skipped). Images are found as
`image_dir/PHOTOID.jpg`, or with `image_layout="hash"` at
`image_dir/HASH[:3]/HASH[3:6]/HASH.jpg` as the public mirror stores them.
Files ending in .bz2 or .gz are decompressed on the fly.
"""

import bz2
import dataclasses
import gzip
import os
import urllib.parse

from data_tools.sources import base

LAYOUTS = ("id", "hash")
# Column positions (id, hash, title, description, user tags, marker) by width.
_COLUMNS = {23: (0, None, 6, 7, 8, 22), 25: (1, 2, 8, 9, 10, 24)}


@dataclasses.dataclass(frozen=True)
class YfccItem:
    key: str
    where: str
    title: bytes
    description: bytes
    tags: bytes
    image_path: str


def _open(path: str):
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _unquote(field: bytes, where: str) -> str:
    raw = urllib.parse.unquote_to_bytes(field.replace(b"+", b" "))
    return base.decode_text(raw, where)


class Yfcc100mSource(base.Source):
    name = "yfcc100m"

    def __init__(self, input_path: str, image_dir: str | None, image_layout: str = "id"):
        self.input_path = base.require_path(input_path, "--input")
        self.image_dir = base.require_path(image_dir, "--image_dir", directory=True)
        if image_layout not in LAYOUTS:
            raise base.SourceError(f"--image_layout={image_layout}: expected one of {', '.join(LAYOUTS)}")
        self.image_layout = image_layout

    def _image_path(self, photo_id: str, photo_hash: str) -> str:
        if self.image_layout == "id":
            return os.path.join(self.image_dir, f"{photo_id}.jpg")
        return os.path.join(self.image_dir, photo_hash[:3], photo_hash[3:6], f"{photo_hash}.jpg")

    def count(self) -> int | None:
        """Lines of an uncompressed metadata file (a read at disk speed); None for .bz2 / .gz, too slow to count."""
        if self.input_path.endswith((".bz2", ".gz")):
            return None
        try:
            with open(self.input_path, "rb") as handle:
                return sum(1 for line in handle if line.strip())
        except OSError:
            return None

    def scan(self):
        try:
            handle = _open(self.input_path)
        except OSError as error:
            raise base.SourceError(f"--input={self.input_path}: {error}") from None
        with handle:
            for number, line in enumerate(handle, start=1):
                line = line.rstrip(b"\r\n")
                if line:
                    yield self._item(number, line)

    def _item(self, number: int, line: bytes):
        where = f"{os.path.basename(self.input_path)}:{number}"
        fields = line.split(b"\t")
        columns = _COLUMNS.get(len(fields))
        if columns is None:
            return base.Skip(where, base.BAD_LINE, f"{len(fields)} columns, expected 23 or 25")
        id_col, hash_col, title, description, tags, marker = columns
        photo_id = fields[id_col].decode("ascii", "replace")
        if not photo_id.isdigit():
            return base.Skip(where, base.BAD_LINE, f"photo id {photo_id!r} is not a number")
        if fields[marker] == b"1":
            return base.Skip(photo_id, base.VIDEO, where)
        if fields[marker] != b"0":
            return base.Skip(photo_id, base.BAD_LINE, f"{where}: marker {fields[marker]!r}")
        photo_hash = "" if hash_col is None else fields[hash_col].decode("ascii", "replace")
        if self.image_layout == "hash" and not photo_hash:
            return base.Skip(photo_id, base.BAD_LINE, f"{where}: no photo hash in a 23-column line")
        return YfccItem(
            key=photo_id,
            where=where,
            title=fields[title],
            description=fields[description],
            tags=fields[tags],
            image_path=self._image_path(photo_id, photo_hash),
        )

    def load(self, item: YfccItem) -> base.Record:
        parts = [
            _unquote(item.title, item.where),
            _unquote(item.description, item.where),
        ]
        parts += [_unquote(tag, item.where) for tag in item.tags.split(b",") if tag]
        text = "\n".join(part for part in parts if part)
        return base.Record(item.key, base.read_file(item.image_path), text)
