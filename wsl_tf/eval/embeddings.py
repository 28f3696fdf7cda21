"""Word embeddings (paper section 4.3): analogies, MEN similarity, English-French translation.

Each evaluation takes a `WordEmbeddings` (words + a matrix, one row a word),
so it runs on the word layer of a trained model, on word2vec vectors, on
their concatenation, or on any vocabulary and matrix. Questions or pairs with
a word outside the vocabulary are removed and the coverage reported. Words
are compared after the paper's text rules (lowercase, accents stripped), as
the dictionary stores them.
"""

import dataclasses
import functools
import gzip
import math
import os
from collections.abc import Iterable

import numpy as np
from scipy.stats import spearmanr

from wsl_tf import text


@dataclasses.dataclass
class WordEmbeddings:
    """words[i]'s vector is vectors[i]; rows are L2-normalised for cosine similarity."""

    words: list[str]
    vectors: np.ndarray

    def __post_init__(self):
        self.vectors = np.asarray(self.vectors, np.float32)
        if len(self.words) != len(self.vectors):
            raise ValueError(f"{len(self.words)} words but {len(self.vectors)} vectors")
        self.index = {w: i for i, w in enumerate(self.words)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)

    def concatenate(self, other: "WordEmbeddings") -> "WordEmbeddings":
        """The words both have, each row the two unit rows side by side (the paper's combination)."""
        shared = [w for w in self.words if w in other.index]
        return WordEmbeddings(
            shared,
            np.concatenate(
                [self.unit[[self.index[w] for w in shared]], other.unit[[other.index[w] for w in shared]]], axis=1
            ),
        )


def word2vec(
    sentences: list[list[str]], words: list[str], epochs: int, seed: int = 0, dim: int = 100
) -> WordEmbeddings:
    """word2vec (gensim, skip-gram, one thread) on sentences of words, its vectors of `words` (in that order) that
    occur; every pair of words in a sentence is a context pair (window = the longest sentence): the records keep
    each image's distinct words, not their order. Needs no TensorFlow, so an evaluation trains it in its fit
    pool's workers."""
    from gensim.models import Word2Vec

    window = max((len(s) for s in sentences), default=2)
    model = Word2Vec(sentences, vector_size=dim, window=window, min_count=1, sg=1, epochs=epochs, seed=seed, workers=1)
    known = [w for w in words if w in model.wv]
    return WordEmbeddings(known, np.stack([model.wv[w] for w in known]) if known else np.zeros((0, dim)))


@functools.cache
def normalise(word: str) -> str | None:
    """The dictionary form of a word under the text rules, or None if it is not a single word.

    Cached: the word lists repeat their words (19,544 analogy questions over
    about 900 words), and the text rules cost a fraction of a millisecond a call.
    """
    tokens = text.words(word)
    return tokens[0] if len(tokens) == 1 else None


# --- Analogies -----------------------------------------------------------------------------------


def read_analogies(path: str) -> list[tuple[str, str, str, str]]:
    """Mikolov's questions-words.txt: 'a b c d' lines (a is to b as c is to d); ': section' lines skipped."""
    questions = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 4 and not line.startswith(":"):
                words = [normalise(p) for p in parts]
                if all(words):
                    questions.append(tuple(words))
    return questions


def analogy_accuracy(
    embeddings: WordEmbeddings, questions: Iterable[tuple[str, str, str, str]], block: int = 1024
) -> dict:
    """3CosAdd: d = argmax cos(x, b - a + c) over the vocabulary minus a, b and c; accuracy and coverage."""
    questions = list(questions)
    kept = [q for q in questions if all(w in embeddings.index for w in q)]
    if not kept:
        return {"accuracy": None, "questions": 0, "coverage": 0.0}
    ids = np.array([[embeddings.index[w] for w in q] for q in kept])
    correct = 0
    for start in range(0, len(ids), block):
        part = ids[start : start + block]
        unit = embeddings.unit
        target = unit[part[:, 1]] - unit[part[:, 0]] + unit[part[:, 2]]
        scores = target @ unit.T
        rows = np.arange(len(part))[:, None]
        scores[rows, part[:, :3]] = -np.inf
        correct += int(np.sum(np.argmax(scores, axis=1) == part[:, 3]))
    return {"accuracy": correct / len(kept), "questions": len(kept), "coverage": len(kept) / len(questions)}


# --- Similarity --------------------------------------------------------------------------------------


def read_similarity_pairs(path: str) -> list[tuple[str, str, float]]:
    """MEN-style 'word1 word2 score' lines (a '-n' / '-v' part-of-speech suffix is dropped)."""
    pairs = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 3:
                a, b = (normalise(p.rsplit("-", 1)[0] if p[-2:-1] == "-" else p) for p in parts[:2])
                if a and b:
                    pairs.append((a, b, float(parts[2])))
    return pairs


def similarity_correlation(embeddings: WordEmbeddings, pairs: Iterable[tuple[str, str, float]]) -> dict:
    """Spearman correlation of cosine similarities with the human scores, on the covered pairs."""
    pairs = list(pairs)
    kept = [p for p in pairs if p[0] in embeddings.index and p[1] in embeddings.index]
    if len(kept) < 2:
        return {"spearman": None, "pairs": len(kept), "coverage": len(kept) / max(len(pairs), 1)}
    a = embeddings.unit[[embeddings.index[p[0]] for p in kept]]
    b = embeddings.unit[[embeddings.index[p[1]] for p in kept]]
    rho = spearmanr(np.sum(a * b, axis=1), [p[2] for p in kept]).statistic
    return {"spearman": float(rho), "pairs": len(kept), "coverage": len(kept) / len(pairs)}


# --- Translation ---------------------------------------------------------------------------------------

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _dictd_number(encoded: str) -> int:
    value = 0
    for character in encoded:
        value = value * 64 + _BASE64.index(character)
    return value


def read_freedict(index_path: str) -> list[tuple[str, str]]:
    """(headword, translation) pairs of single words from a dictd dictionary (FreeDict's .index + .dict.dz)."""
    data_path = index_path[: -len(".index")] + ".dict.dz"
    opener = gzip.open if data_path.endswith(".dz") else open
    with opener(data_path, "rb") as handle:
        data = handle.read()
    pairs = []
    with open(index_path, encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3 or fields[0].startswith("00database"):
                continue
            source = normalise(fields[0])
            if source is None:
                continue
            entry = data[_dictd_number(fields[1]) : _dictd_number(fields[1]) + _dictd_number(fields[2])]
            for body in entry.decode("utf-8", "replace").splitlines()[1:]:
                body = body.strip()
                if body[:1].isdigit() and ". " in body:
                    body = body.split(". ", 1)[1]
                for candidate in body.replace(";", ",").split(","):
                    target = (
                        normalise(candidate.strip()) if candidate.strip() and " " not in candidate.strip() else None
                    )
                    if target:
                        pairs.append((source, target))
    return pairs


def translation_pairs(
    embeddings: WordEmbeddings, en_fr: Iterable[tuple[str, str]], fr_en: Iterable[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """The (English, French) pairs whose two words are in the vocabulary and differ, each once."""
    both = {(e, f) for e, f in en_fr} | {(e, f) for f, e in fr_en}
    return sorted((e, f) for e, f in both if e != f and e in embeddings.index and f in embeddings.index)


def _random_hit(candidates: int, answers: int, k: int) -> float:
    """Probability that k of the candidates, drawn at random, hold one of the query's answers."""
    return 1.0 - math.comb(candidates - answers, k) / math.comb(candidates, k) if k < candidates else 1.0


def translation_precision(embeddings: WordEmbeddings, pairs: list[tuple[str, str]], ks=(1, 5, 10)) -> dict:
    """Both directions: rank the other language's words of the pairs by cosine; precision@k, pairs, chance.

    A query (a distinct source word) counts as found at k when any of its
    pair partners is among its k nearest. chance = 1 / pairs, as in the paper
    (Table 5: 0.0032 at 309); random_at_k is what a random ranking of the same
    candidates scores at k, the floor to read each precision@k against.
    """
    result = {}
    for name, (source, target) in {"en_fr": (0, 1), "fr_en": (1, 0)}.items():
        queries = sorted({p[source] for p in pairs})
        candidates = sorted({p[target] for p in pairs})
        if not queries:
            result[name] = {
                **{f"{kind}_at_{k}": None for kind in ("p", "random") for k in ks},
                "pairs": 0,
                "queries": 0,
                "chance": None,
            }
            continue
        answers = {q: set() for q in queries}
        for pair in pairs:
            answers[pair[source]].add(pair[target])
        q_rows = embeddings.unit[[embeddings.index[w] for w in queries]]
        c_rows = embeddings.unit[[embeddings.index[w] for w in candidates]]
        order = np.argsort(-(q_rows @ c_rows.T), axis=1, kind="stable")
        scores = {}
        for k in ks:
            found = [bool(answers[q] & {candidates[j] for j in order[i, :k]}) for i, q in enumerate(queries)]
            scores[f"p_at_{k}"] = float(np.mean(found))
        random = {
            f"random_at_{k}": float(np.mean([_random_hit(len(candidates), len(answers[q]), k) for q in queries]))
            for k in ks
        }
        result[name] = {**scores, **random, "pairs": len(pairs), "queries": len(queries), "chance": 1.0 / len(pairs)}
    return result


def translation_examples(
    embeddings: WordEmbeddings, pairs: list[tuple[str, str]], count: int = 12, k: int = 5
) -> list[dict]:
    """The `count` most frequent English words of the pairs (dictionary order), each with its k nearest French
    words among the pairs' (by cosine) and its FreeDict translations: what a reader can check by eye."""
    french = sorted({f for _, f in pairs})
    answers = {}
    for e, f in pairs:
        answers.setdefault(e, set()).add(f)
    queries = sorted(answers, key=lambda w: embeddings.index[w])[:count]
    if not queries:
        return []
    similarity = (
        embeddings.unit[[embeddings.index[w] for w in queries]]
        @ embeddings.unit[[embeddings.index[w] for w in french]].T
    )
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    return [
        {"word": q, "nearest": [french[j] for j in row], "translations": sorted(answers[q])}
        for q, row in zip(queries, order)
    ]


def freedict_pairs(root: str) -> tuple[list, list]:
    """(English->French, French->English) pairs from the freedict corpus directory."""
    return (
        read_freedict(os.path.join(root, "freedict-eng-fra.index")),
        read_freedict(os.path.join(root, "freedict-fra-eng.index")),
    )


# The word lists the embeddings are scored on: corpus -> the lists it holds.
WORD_LISTS = {"analogies": ("analogies",), "men": ("men",), "freedict": ("en_fr", "fr_en")}


def read_word_lists(paths: dict) -> dict:
    """The analogy questions, MEN pairs and FreeDict pairs of the corpora in paths ({corpus of WORD_LISTS: its
    directory}), read once for every set of embeddings (the evaluation reads them in its fit pool: FreeDict's
    dictionaries take about 3 s)."""
    readers = {
        "analogies": lambda path: {"analogies": read_analogies(path)},
        "men": lambda path: {"men": read_similarity_pairs(path)},
        "freedict": lambda path: dict(zip(WORD_LISTS["freedict"], freedict_pairs(path))),
    }
    return {key: value for corpus, path in paths.items() for key, value in readers[corpus](path).items()}
