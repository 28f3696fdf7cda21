"""The paper's text rules: raw photo text in, target words out.

Joulin et al. (2016), section 3.1: remove numbers and punctuation (the `#` of
hashtags too), strip accents and special characters, lowercase, tokenize with
the Penn Treebank tokenizer, and use every hashtag and word as a target.

Each rule is its own function, applied by `words` in the paper's order, so a
test can pin each one. Two choices the paper leaves open, made here:

- Apostrophes are deleted, not replaced by a space, so "dog's" gives "dogs"
  rather than a stray "s"; but an apostrophe after a word's first and only
  letter, French elision ("l'arbre", "d’exclamation"), separates: the
  word is "arbre", not "larbre". Every other punctuation mark, digit and
  symbol becomes a space, so "beach,sunset" and "#sunset#beach" give two words.
- HTML tags, entities, URLs and e-mail addresses (common in Flickr
  descriptions) are removed first; otherwise "http www flickr com" or
  "gmail com" would become targets.
- Single letters of an alphabet ("f/1.8", "W3C", "b&w", the "I" of "I ❤
  NYC") are dropped after tokenizing: fragments, not words. A single
  character of a script without case (Chinese, Japanese) is a word and stays.

Letters of every script survive (Unicode-aware), so French, Russian or Hindi
captions keep their words: accents are stripped ("Café Zürich" -> "cafe
zurich"), while spacing vowel signs (Unicode category Mc, as in Devanagari)
are part of their word ("हिन्दी" stays one word).
"""

import functools
import html
import re
import unicodedata

from nltk.tokenize import TreebankWordTokenizer

_TAG = re.compile(r"<[^>]*>")
_URL = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
# The local part is optional: metadata with the name blanked out still says ". . @gmail.com".
_EMAIL = re.compile(r"(?:mailto:)?[\w.%+-]*@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
_APOSTROPHES = re.compile("['\u2019\u02bc\u2018`]")
# French elision: l'arbre, d’eau, qu'il, jusqu'ici (a lone letter, or qu and its compounds, before it).
_ELISION = re.compile("\\b([^\\W\\d_]|qu|jusqu|lorsqu|puisqu|quoiqu)['\u2019\u02bc]", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def strip_markup(text: str) -> str:
    """Remove HTML tags, decode HTML entities and drop URLs and e-mail addresses."""
    text = _TAG.sub(" ", text)
    text = html.unescape(text)
    return _EMAIL.sub(" ", _URL.sub(" ", text))


def remove_numbers_and_punctuation(text: str) -> str:
    """Split elisions, delete other apostrophes; turn digits and punctuation (incl. `#`) into spaces."""
    text = _APOSTROPHES.sub("", _ELISION.sub(r"\1 ", text))
    return "".join(" " if unicodedata.category(ch)[0] in ("N", "P") else ch for ch in text)


def strip_accents_and_special_characters(text: str) -> str:
    """Keep letters (accents dropped by NFKD), spacing marks and spaces; symbols become spaces.

    Symbols are judged before decomposition so that "™" is removed rather than
    decomposed into the letters "TM". Non-spacing marks (Mn: accents, the
    Devanagari virama) are dropped; spacing marks (Mc: Devanagari vowel signs)
    are kept, since they are written as part of the word.
    """
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch.isspace() or category == "Mc":
            kept.append(ch)
        elif category[0] == "L":
            kept.extend(
                part
                for part in unicodedata.normalize("NFKD", ch)
                if unicodedata.category(part)[0] == "L" or unicodedata.category(part) == "Mc"
            )
        elif category != "Mn":
            kept.append(" ")
    return "".join(kept)


def lowercase(text: str) -> str:
    return text.lower()


@functools.cache
def _tokenizer() -> TreebankWordTokenizer:
    return TreebankWordTokenizer()


def tokenize(text: str) -> list[str]:
    """Penn Treebank tokenization (nltk), on whitespace-normalised text."""
    return _tokenizer().tokenize(_SPACES.sub(" ", text).strip())


def drop_single_letters(tokens: list[str]) -> list[str]:
    """Drop one-letter tokens of cased alphabets (Latin, Greek, Cyrillic ...); keep single ideographs."""
    return [t for t in tokens if len(t) > 1 or unicodedata.category(t) != "Ll"]


def words(text: str) -> list[str]:
    """All target words of a text, in order, repeats kept."""
    text = strip_markup(text)
    text = remove_numbers_and_punctuation(text)
    text = strip_accents_and_special_characters(text)
    text = lowercase(text)
    return drop_single_letters(tokenize(text))


def target_words(text: str) -> list[str]:
    """The bag of distinct target words of a text, sorted."""
    return sorted(set(words(text)))
