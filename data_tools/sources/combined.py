"""Several sources read as one collection, one after another.

Keys become `SOURCE/KEY` (the source's name, numbered when two sources share
it, then its own key), so records of different sources never collide and the split rule (a hash of the key)
stays fixed for each. The demo combines Open Clip Art, the Tux Paint stamps
and the emoji, the last two captioned in English or French. `max_items_each`
reads only the first items of each source (a slice of every corpus, for
trial runs), where --max_records would read the first source alone.
"""

import dataclasses
import itertools
from typing import Any

from data_tools.sources import base


@dataclasses.dataclass(frozen=True)
class CombinedItem:
    key: str
    source: int  # Index into CombinedSource.sources.
    item: Any


class CombinedSource(base.Source):
    name = "combined"

    def __init__(self, sources, max_items_each: int = 0):
        self.sources = list(sources)
        self.max_items_each = max_items_each
        if not self.sources:
            raise base.SourceError("a combined source needs at least one source")
        names = [source.name for source in self.sources]
        self._prefixes = [name if names.count(name) == 1 else f"{name}{i}" for i, name in enumerate(names)]

    def count(self) -> int | None:
        counts = [source.count() for source in self.sources]
        if None in counts:
            return None
        return sum(min(c, self.max_items_each) if self.max_items_each else c for c in counts)

    def scan(self):
        for index, source in enumerate(self.sources):
            items = source.scan()
            for item in itertools.islice(items, self.max_items_each) if self.max_items_each else items:
                key = f"{self._prefixes[index]}/{item.key}"
                yield (
                    dataclasses.replace(item, key=key)
                    if isinstance(item, base.Skip)
                    else CombinedItem(key, index, item)
                )

    def load(self, item: CombinedItem) -> base.Record:
        return dataclasses.replace(self.sources[item.source].load(item.item), key=item.key)

    def describe(self) -> dict:
        described = {"name": self.name, "sources": [source.describe() for source in self.sources]}
        return {**described, "max_items_each": self.max_items_each} if self.max_items_each else described
