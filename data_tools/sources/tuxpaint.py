"""Tux Paint stamps (Debian `tuxpaint-stamps-default`): images with captions
in about 77 languages.

Each stamp `NAME.png` (or `NAME.svg`) has a caption file `NAME.txt`: the
first line is English, then one `LOCALE.utf8=caption` line per translation.
The `*_mirror` images have no caption file and are mirrored copies, so the
reader is driven by the caption files. For each stamp one caption language is
chosen among `languages` that it has, by a hash of its key: with
`languages=("en", "fr")` about half the images get English text and half
French, the multilingual corpus of the translation experiment.
"""

import dataclasses
import os
import re

from data_tools.sources import base
from wsl_tf.keys import key_fraction

_LOCALE_LINE = re.compile(r"^([A-Za-z]{2,3}(?:_[A-Za-z]{2})?(?:@\w+)?)\.utf-?8=(.*)$")


@dataclasses.dataclass(frozen=True)
class TuxpaintItem:
    key: str
    caption_path: str
    image_path: str


def parse_captions(text: str) -> dict[str, str]:
    """Locale -> caption; lines before the first locale line are English."""
    captions: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = _LOCALE_LINE.match(line.strip())
        if match:
            captions.setdefault(match.group(1), []).append(match.group(2))
        elif line.strip() and len(captions) <= ("en" in captions):
            captions.setdefault("en", []).append(line.strip())
    return {locale: " ".join(lines) for locale, lines in captions.items()}


class TuxpaintSource(base.Source):
    name = "tuxpaint"

    def __init__(self, input_path: str, languages=("en",)):
        self.root = base.require_path(input_path, "--input", directory=True)
        self.languages = tuple(languages)
        if not self.languages:
            raise base.SourceError("--languages: give at least one language, e.g. en,fr")

    def count(self) -> int:
        return sum(1 for _ in self.scan())  # A directory walk: seconds at most.

    def scan(self):
        for path in base.files_under(self.root, ".txt"):
            stem = path[: -len(".txt")]
            key = os.path.relpath(stem, self.root)
            image = next((stem + e for e in (".png", ".svg") if os.path.exists(stem + e)), None)
            if image is None:
                yield base.Skip(key, base.MISSING_FILE, f"{stem}.png or .svg")
            else:
                yield TuxpaintItem(key, path, image)

    def choose_language(self, key: str, available) -> str | None:
        candidates = [lang for lang in self.languages if lang in available]
        if not candidates:
            return None
        return candidates[int(key_fraction(key, salt="language") * len(candidates))]

    def load(self, item: TuxpaintItem) -> base.Record:
        text = base.decode_text(base.read_file(item.caption_path), item.caption_path)
        captions = parse_captions(text)
        language = self.choose_language(item.key, captions)
        if language is None:
            raise base.SkipRecord(base.NO_CAPTION, f"{item.caption_path}: none of {','.join(self.languages)}")
        return base.Record(item.key, base.read_file(item.image_path), captions[language], language)
