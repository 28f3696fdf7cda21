"""Open Clip Art (Debian `openclipart-svg`, renders in `openclipart-png`).

Each drawing is an SVG whose RDF metadata (a `cc:Work`) carries `dc:title`,
`dc:description` and `dc:subject` keywords: the text of the record, less the
words of the drawing's author's name (`dc:creator`, `dc:rights`), which
artists write into descriptions and keywords ("SVG Gradient Collection by
Alan Horkan") and which would otherwise become dictionary words. The image
is the PNG render at the same relative path under the png tree when there is
one (`png_root`, by default `../png` beside the svg tree); otherwise the SVG
itself, which the image step renders with cairosvg.
"""

import dataclasses
import os
import re
import xml.etree.ElementTree as ElementTree

from data_tools.sources import base

_DC = "{http://purl.org/dc/elements/1.1/}"


@dataclasses.dataclass(frozen=True)
class OpenClipartItem:
    key: str
    svg_path: str
    png_path: str | None


def _find_work(pieces):
    """The cc:Work element, parsing only as far as its end (SVG bodies are large)."""
    parser = ElementTree.XMLPullParser(events=("end",))
    for piece in pieces:
        parser.feed(piece)
        for _, element in parser.read_events():
            if element.tag.endswith("}Work"):
                return element
    parser.close()
    return None


def _pieces(svg: bytes, size: int = 16384):
    return (svg[start : start + size] for start in range(0, len(svg), size))


def metadata_text(svg, where: str) -> str:
    """Title, description and keywords of the SVG's cc:Work, one per line.

    `svg` is the file's bytes or an iterable of its successive pieces.
    """
    try:
        work = _find_work(_pieces(svg) if isinstance(svg, bytes) else svg)
    except ElementTree.ParseError as error:
        raise base.SkipRecord(base.BAD_LINE, f"{where}: invalid XML: {error}") from None
    if work is None:
        return ""
    parts = [(child.text or "").strip() for child in work if child.tag in (_DC + "title", _DC + "description")]
    for subject in work.findall(_DC + "subject"):
        parts += [(li.text or "").strip() for li in subject.iter() if li.tag.endswith("}li")]
    author = _author_words(work)
    if author:
        pattern = re.compile(r"\b(?:" + "|".join(map(re.escape, sorted(author))) + r")\b", re.IGNORECASE)
        parts = [" ".join(pattern.sub(" ", part).split()) for part in parts]
    return "\n".join(part for part in parts if part)


def _author_words(work) -> set[str]:
    """The words (2+ letters) of the names in the work's dc:creator and dc:rights agents."""
    words = set()
    for role in ("creator", "rights"):
        for element in work.findall(_DC + role):
            for title in element.iter(_DC + "title"):
                words.update(w for w in re.findall(r"[^\W\d_]{2,}", title.text or "") if w.lower() != "by")
    return words


class OpenClipartSource(base.Source):
    name = "openclipart"

    def __init__(self, input_path: str, png_root: str | None = None):
        self.root = base.require_path(input_path, "--input", directory=True)
        default_png = os.path.join(os.path.dirname(os.path.abspath(self.root)), "png")
        self.png_root = png_root or (default_png if os.path.isdir(default_png) else None)

    def count(self) -> int:
        return sum(1 for _ in self.scan())  # A directory walk: seconds at most.

    def scan(self):
        for path in base.files_under(self.root, ".svg"):
            key = os.path.relpath(path, self.root)[: -len(".svg")]
            png = os.path.join(self.png_root, key + ".png") if self.png_root else None
            yield OpenClipartItem(key, path, png if png and os.path.exists(png) else None)

    def load(self, item: OpenClipartItem) -> base.Record:
        if item.png_path is None:
            svg = base.read_file(item.svg_path)
            return base.Record(item.key, svg, metadata_text(svg, item.svg_path))
        try:
            with open(item.svg_path, "rb") as handle:
                text = metadata_text(iter(lambda: handle.read(16384), b""), item.svg_path)
        except OSError as error:
            raise base.SkipRecord(base.UNREADABLE_FILE, f"{item.svg_path}: {error}") from None
        return base.Record(item.key, base.read_file(item.png_path), text)
