"""The dictionary of target words: the K most common after the stop words.

Joulin et al. drop the 500 most common words and keep the K most common of the
rest (K = 1,000 / 10,000 / 100,000). Counts here are image counts: the number
of training images whose text holds the word, which is also the N_k of the
paper's class-balanced loss. Ties are broken alphabetically so that the
dictionary is the same on every machine.

On disk a vocabulary is `vocab.tsv`: one `word<TAB>count` line per word, the
word's id is its line number, most frequent first.
"""

import dataclasses
from collections.abc import Iterable, Mapping

from wsl_tf import fileio
from wsl_tf.errors import DataError


class VocabularyError(DataError):
    """A vocabulary file or request that cannot be used."""


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Words in id order with their training image counts."""

    words: tuple[str, ...]
    counts: tuple[int, ...]

    def __post_init__(self):
        if len(self.words) != len(self.counts):
            raise VocabularyError("words and counts differ in length")
        object.__setattr__(self, "_ids", {word: i for i, word in enumerate(self.words)})
        if len(self._ids) != len(self.words):
            raise VocabularyError("vocabulary has repeated words")

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self._ids

    def id_of(self, word: str) -> int:
        return self._ids[word]

    def ids(self, words: Iterable[str]) -> list[int]:
        """Sorted distinct ids of the dictionary words among `words`."""
        return sorted({self._ids[w] for w in words if w in self._ids})

    @classmethod
    def from_counts(cls, counts: Mapping[str, int], size: int, num_stopwords: int) -> tuple["Vocabulary", "Vocabulary"]:
        """(dictionary, stop words) from word -> image count.

        The `num_stopwords` most common words are the stop words; the next
        `size` form the dictionary (fewer if the corpus has fewer words).
        """
        if size < 1:
            raise VocabularyError(f"vocabulary size must be positive, got {size}")
        if num_stopwords < 0:
            raise VocabularyError(f"number of stop words must be >= 0, got {num_stopwords}")
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        stop = ranked[:num_stopwords]
        kept = ranked[num_stopwords : num_stopwords + size]
        return cls._of(kept), cls._of(stop)

    @classmethod
    def _of(cls, pairs) -> "Vocabulary":
        return cls(tuple(w for w, _ in pairs), tuple(int(c) for _, c in pairs))

    def to_tsv(self) -> str:
        return "".join(f"{w}\t{c}\n" for w, c in zip(self.words, self.counts))

    def save(self, path: str) -> None:
        fileio.write_text_atomic(path, self.to_tsv())

    @classmethod
    def load(cls, path: str) -> "Vocabulary":
        try:
            text = fileio.read_text(path)
        except Exception as error:  # gfile raises NotFoundError and others.
            raise VocabularyError(f"cannot read vocabulary {path}: {error}") from None
        pairs = []
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split("\t")
            if len(fields) != 2 or not fields[0] or not fields[1].isdigit():
                raise VocabularyError(f"{path}:{number}: expected 'word<TAB>count', got {line!r}")
            pairs.append((fields[0], int(fields[1])))
        if not pairs:
            raise VocabularyError(f"{path}: vocabulary is empty")
        try:
            return cls._of(pairs)
        except VocabularyError as error:
            raise VocabularyError(f"{path}: {error}") from None
