"""JSON Lines lists of images and texts.

One object a line: `{"image": path, "text": "..."}` with an optional `"key"`
(default: the image path) and `"language"` (the caption's, e.g. "fr"; it
picks the stop-word list of `wsl-prepare --stopwords=list`). Relative image paths are taken under `image_dir`,
which defaults to the JSONL file's own directory. `"text"` may also be a list
of strings (several captions of one image), which are joined.
"""

import dataclasses
import json
import os

from data_tools.sources import base


@dataclasses.dataclass(frozen=True)
class JsonlItem:
    key: str
    text: str
    image_path: str
    language: str = ""


class JsonlSource(base.Source):
    name = "jsonl"

    def __init__(self, input_path: str, image_dir: str | None = None):
        self.input_path = base.require_path(input_path, "--input")
        if os.path.isdir(self.input_path):
            raise base.SourceError(f"--input={input_path}: expected a .jsonl file, got a directory")
        self.image_dir = (
            base.require_path(image_dir, "--image_dir", directory=True)
            if image_dir
            else os.path.dirname(os.path.abspath(self.input_path))
        )

    def count(self) -> int:
        with open(self.input_path, "rb") as handle:
            return sum(1 for line in handle if line.strip())

    def scan(self):
        name = os.path.basename(self.input_path)
        with open(self.input_path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    yield self._item(f"{name}:{number}", line)

    def _item(self, where: str, line: bytes):
        try:
            obj = json.loads(base.decode_text(line, where))
        except base.SkipRecord as skip:
            return base.Skip(where, skip.reason, skip.detail)
        except json.JSONDecodeError as error:
            return base.Skip(where, base.BAD_LINE, f"invalid JSON: {error.msg} at column {error.colno}")
        if not isinstance(obj, dict) or not isinstance(obj.get("image"), str):
            found = (
                f"found fields: {', '.join(sorted(obj)) or 'none'}"
                if isinstance(obj, dict)
                else f"found a JSON {type(obj).__name__}"
            )
            return base.Skip(
                where, base.BAD_LINE, f'expected an object with an "image" path and a "text" caption ({found})'
            )
        text = obj.get("text", "")
        if isinstance(text, list) and all(isinstance(t, str) for t in text):
            text = "\n".join(text)
        if not isinstance(text, str):
            return base.Skip(where, base.BAD_LINE, '"text" must be a string or a list of strings')
        key = obj.get("key", obj["image"])
        if not isinstance(key, str) or not key:
            return base.Skip(where, base.BAD_LINE, '"key" must be a non-empty string')
        language = obj.get("language", "")
        if not isinstance(language, str):
            return base.Skip(where, base.BAD_LINE, '"language" must be a string')
        return JsonlItem(key, text, os.path.join(self.image_dir, obj["image"]), language)

    def load(self, item: JsonlItem) -> base.Record:
        return base.Record(item.key, base.read_file(item.image_path), item.text, item.language)
