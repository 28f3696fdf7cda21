"""Embedding evaluations against brute-force references, on bare vocabularies and matrices."""

import itertools

import numpy as np
import pytest
from scipy.stats import rankdata

from tests.helpers import write_freedict
from wsl_tf.eval import embeddings as emb

RNG = np.random.default_rng(0)
WORDS = [
    "man",
    "woman",
    "king",
    "queen",
    "paris",
    "france",
    "rome",
    "italy",
    "cat",
    "chat",
    "dog",
    "chien",
    "sun",
    "soleil",
    "sea",
    "mer",
]


def random_embeddings(dim=8):
    return emb.WordEmbeddings(WORDS, RNG.normal(size=(len(WORDS), dim)))


def test_analogies_match_a_brute_force_3cosadd_and_report_coverage():
    vectors = random_embeddings()
    questions = [
        ("man", "woman", "king", "queen"),
        ("paris", "france", "rome", "italy"),
        ("cat", "dog", "sun", "sea"),
        ("man", "king", "zebra", "queen"),
    ]
    unit = vectors.vectors / np.linalg.norm(vectors.vectors, axis=1, keepdims=True)
    correct = 0
    for a, b, c, d in questions[:3]:
        target = unit[WORDS.index(b)] - unit[WORDS.index(a)] + unit[WORDS.index(c)]
        best = max((w for w in WORDS if w not in (a, b, c)), key=lambda w: float(unit[WORDS.index(w)] @ target))
        correct += best == d
    got = emb.analogy_accuracy(vectors, questions)
    assert got == {"accuracy": pytest.approx(correct / 3), "questions": 3, "coverage": 0.75}


def test_a_planted_analogy_is_found():
    vectors = random_embeddings(dim=16)
    offset = vectors.vectors[WORDS.index("woman")] - vectors.vectors[WORDS.index("man")]
    vectors = emb.WordEmbeddings(
        WORDS,
        np.where(np.array(WORDS)[:, None] == "queen", vectors.vectors[WORDS.index("king")] + offset, vectors.vectors),
    )
    assert emb.analogy_accuracy(vectors, [("man", "woman", "king", "queen")])["accuracy"] == 1.0


def test_similarity_is_spearman_of_cosines_on_covered_pairs():
    vectors = random_embeddings()
    pairs = [
        ("cat", "dog", 40.0),
        ("sun", "sea", 30.0),
        ("king", "queen", 45.0),
        ("man", "woman", 20.0),
        ("paris", "zebra", 10.0),
    ]
    unit = vectors.vectors / np.linalg.norm(vectors.vectors, axis=1, keepdims=True)
    cosines = [float(unit[WORDS.index(a)] @ unit[WORDS.index(b)]) for a, b, _ in pairs[:4]]
    x, y = rankdata(cosines), rankdata([p[2] for p in pairs[:4]])
    expected = np.corrcoef(x, y)[0, 1]  # Spearman = Pearson of the ranks.
    got = emb.similarity_correlation(vectors, pairs)
    assert got["spearman"] == pytest.approx(expected) and (got["pairs"], got["coverage"]) == (4, 0.8)


def test_translation_precision_both_ways_against_a_brute_force():
    vectors = random_embeddings()
    en_fr = [("cat", "chat"), ("dog", "chien"), ("sun", "soleil"), ("sea", "mer"), ("sea", "sea"), ("zebra", "zebre")]
    pairs = emb.translation_pairs(vectors, en_fr, [("mer", "sea")])
    assert pairs == [("cat", "chat"), ("dog", "chien"), ("sea", "mer"), ("sun", "soleil")]  # Same word, unknown: out.
    got = emb.translation_precision(vectors, pairs)
    unit = vectors.vectors / np.linalg.norm(vectors.vectors, axis=1, keepdims=True)
    for direction, (s, t) in {"en_fr": (0, 1), "fr_en": (1, 0)}.items():
        for k in (1, 5, 10):
            hits = []
            for pair in pairs:
                candidates = sorted({p[t] for p in pairs})
                ranked = sorted(candidates, key=lambda w: -float(unit[WORDS.index(w)] @ unit[WORDS.index(pair[s])]))
                hits.append(pair[t] in ranked[:k])
            assert got[direction][f"p_at_{k}"] == pytest.approx(np.mean(hits)), (direction, k)
        assert got[direction]["pairs"] == 4 and got[direction]["chance"] == 0.25


def test_the_random_ranking_floor_is_the_mean_over_every_ordering_of_the_candidates():
    words = ["cat", "dog", "sun", "sea", "chat", "chien", "soleil", "mer"]
    vectors = emb.WordEmbeddings(words, RNG.normal(size=(8, 5)))
    pairs = [("cat", "chat"), ("dog", "chat"), ("dog", "chien"), ("sun", "soleil"), ("sea", "mer")]
    got = emb.translation_precision(vectors, pairs, ks=(1, 2, 3, 5))
    for direction, (s, t) in {"en_fr": (0, 1), "fr_en": (1, 0)}.items():
        queries, candidates = sorted({p[s] for p in pairs}), sorted({p[t] for p in pairs})
        for k in (1, 2, 3, 5):
            found = [
                np.mean(
                    [
                        any((q, c) in {(p[s], p[t]) for p in pairs} for c in order[:k])
                        for order in itertools.permutations(candidates)
                    ]
                )
                for q in queries
            ]
            assert got[direction][f"random_at_{k}"] == pytest.approx(np.mean(found)), (direction, k)


def test_concatenation_keeps_shared_words_with_both_unit_rows():
    a = emb.WordEmbeddings(["cat", "dog", "sun"], RNG.normal(size=(3, 4)))
    b = emb.WordEmbeddings(["dog", "cat", "sea"], RNG.normal(size=(3, 2)))
    both = a.concatenate(b)
    assert both.words == ["cat", "dog"] and both.vectors.shape == (2, 6)
    np.testing.assert_allclose(both.vectors[0], np.concatenate([a.unit[0], b.unit[1]]), rtol=1e-6)


def test_freedict_entries_give_single_word_pairs_under_the_text_rules(tmp_path):
    entries = [
        ("cat", "cat /kæt/\n1. chat\n2. matou, chatte\n"),
        ("sea", "sea /siː/\nmer; océan\n"),
        ("ice cream", "ice cream\nglace\n"),
        ("hello", "hello\nbonjour madame\n"),
    ]
    write_freedict(str(tmp_path / "tiny"), entries)
    assert emb.read_freedict(str(tmp_path / "tiny.index")) == [
        ("cat", "chat"),
        ("cat", "matou"),
        ("cat", "chatte"),
        ("sea", "mer"),
        ("sea", "ocean"),
    ]


@pytest.mark.network
def test_the_real_word_lists_parse(tmp_path):
    from data_tools import corpora

    questions = emb.read_analogies(corpora.fetch("analogies", log=lambda *_: None))
    assert len(questions) == 19544 and questions[0] == ("athens", "greece", "baghdad", "iraq")
    pairs = emb.read_similarity_pairs(corpora.fetch("men", log=lambda *_: None))
    assert len(pairs) == 3000 and pairs[0] == ("sun", "sunlight", 50.0)
    en_fr, fr_en = emb.freedict_pairs(corpora.fetch("freedict", log=lambda *_: None))
    assert ("cat", "chat") in set(en_fr) and ("chat", "cat") in set(fr_en) and len(en_fr) > 5000


def test_no_pairs_give_the_same_keys_as_some_pairs_with_nothing_measured():
    vectors = emb.WordEmbeddings(["cat", "chat"], RNG.normal(size=(2, 3)))
    some = emb.translation_precision(vectors, [("cat", "chat")])
    none = emb.translation_precision(vectors, [])
    for direction in ("en_fr", "fr_en"):
        assert set(none[direction]) == set(some[direction])
        assert none[direction]["pairs"] == 0 and none[direction]["random_at_10"] is None


def test_nothing_covered_is_none_not_nan():
    """A figure that does not exist is None, written as null: strict JSON readers refuse NaN."""
    vectors = random_embeddings()
    assert emb.analogy_accuracy(vectors, [("zebra", "okapi", "cat", "dog")]) == {
        "accuracy": None,
        "questions": 0,
        "coverage": 0.0,
    }
    assert emb.similarity_correlation(vectors, [("zebra", "cat", 3.0)])["spearman"] is None


def test_translation_examples_are_the_nearest_french_words_of_the_most_frequent_english_ones():
    vectors = random_embeddings()
    pairs = [("cat", "chat"), ("dog", "chien"), ("sun", "soleil"), ("sea", "mer")]
    got = emb.translation_examples(vectors, pairs, count=3, k=2)
    assert [e["word"] for e in got] == ["cat", "dog", "sun"]  # Dictionary order: the most frequent first.
    unit = vectors.unit
    for example in got:
        french = ["chat", "chien", "mer", "soleil"]
        similarity = [float(unit[WORDS.index(example["word"])] @ unit[WORDS.index(f)]) for f in french]
        assert example["nearest"] == [french[i] for i in np.argsort(similarity)[::-1][:2]]
    assert got[0]["translations"] == ["chat"] and emb.translation_examples(vectors, []) == []


def test_word2vec_trains_the_same_vectors_in_a_pool_worker_as_here():
    from wsl_tf.eval.linear import FitPool

    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)] + ["never"]
    sentences = [[words[j] for j in rng.choice(40, 4, replace=False)] for _ in range(300)]
    here = emb.word2vec(sentences, words, epochs=2)
    with FitPool(2) as pool:
        there = pool.call(emb.word2vec, sentences, words, 2).result()
    assert here.words == words[:40]  # In the order asked for; a word never seen has no vector.
    np.testing.assert_array_equal(there.vectors, here.vectors)
    assert there.words == here.words and here.vectors.shape == (40, 100)
