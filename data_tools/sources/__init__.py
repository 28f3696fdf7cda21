"""One reader per raw collection format, each yielding (key, image bytes, text)."""

from data_tools.sources.base import Record, Skip, SkipRecord, Source, SourceError
from data_tools.sources.emoji import EmojiSource
from data_tools.sources.jsonl import JsonlSource
from data_tools.sources.openclipart import OpenClipartSource
from data_tools.sources.tuxpaint import TuxpaintSource
from data_tools.sources.webdataset import WebDatasetSource
from data_tools.sources.yfcc100m import Yfcc100mSource

SOURCES = {
    cls.name: cls
    for cls in (Yfcc100mSource, JsonlSource, WebDatasetSource, OpenClipartSource, TuxpaintSource, EmojiSource)
}

__all__ = ["Record", "Skip", "SkipRecord", "Source", "SourceError", "SOURCES"]
