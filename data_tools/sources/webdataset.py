"""WebDataset tar shards, as img2dataset writes them (CC3M, CC12M, LAION).

Each sample is a run of adjacent tar members sharing a key: `KEY.jpg` (or
.jpeg/.png/.webp), `KEY.txt` with the caption and optionally `KEY.json`,
whose "caption" field is used when there is no .txt. The key is the member
path up to the first dot of its file name. A truncated or corrupt tar is
counted as one skipped record and reading goes on with the next shard.
"""

import dataclasses
import glob
import json
import os
import tarfile

from data_tools.sources import base

IMAGE_EXTENSIONS = ("jpg", "jpeg", "png", "webp")


@dataclasses.dataclass(frozen=True)
class WebDatasetItem:
    key: str
    members: dict  # extension -> bytes


def _split_name(name: str) -> tuple[str, str]:
    directory, filename = os.path.split(name)
    stem, _, extension = filename.partition(".")
    return os.path.join(directory, stem), extension.lower()


class WebDatasetSource(base.Source):
    name = "webdataset"

    def __init__(self, input_path: str):
        if input_path and os.path.isdir(input_path):
            paths = sorted(glob.glob(os.path.join(input_path, "*.tar")))
        else:
            paths = sorted(glob.glob(input_path or ""))
        if not paths:
            raise base.SourceError(f"--input={input_path}: no .tar shards found")
        self.paths = [base.require_path(p, "--input") for p in paths]

    def scan(self):
        for path in self.paths:
            yield from self._scan_tar(path)

    def _scan_tar(self, path: str):
        key, members = None, {}
        try:
            with tarfile.open(path, "r|*") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    member_key, extension = _split_name(member.name)
                    if member_key != key and members:
                        yield WebDatasetItem(key, members)
                        members = {}
                    key = member_key
                    members[extension] = tar.extractfile(member).read()
        except (tarfile.TarError, OSError, EOFError) as error:
            yield base.Skip(os.path.basename(path), base.BAD_ARCHIVE, str(error))
            return
        if members:
            yield WebDatasetItem(key, members)

    def load(self, item: WebDatasetItem) -> base.Record:
        image = next((item.members[e] for e in IMAGE_EXTENSIONS if e in item.members), None)
        if image is None:
            raise base.SkipRecord(base.MISSING_FILE, f"{item.key}: no image member")
        if "txt" in item.members:
            text = base.decode_text(item.members["txt"], f"{item.key}.txt")
        elif "json" in item.members:
            try:
                caption = json.loads(item.members["json"]).get("caption") or ""
            except (ValueError, AttributeError):
                raise base.SkipRecord(base.BAD_LINE, f"{item.key}.json: invalid JSON") from None
            text = caption if isinstance(caption, str) else ""
        else:
            text = ""
        return base.Record(item.key, image, text)
