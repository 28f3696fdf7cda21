import pytest

from wsl_tf.vocab import Vocabulary, VocabularyError


def test_drops_stopwords_then_keeps_the_k_most_common():
    counts = {"the": 100, "a": 90, "dog": 50, "cat": 40, "sky": 30, "sea": 20}
    vocab, stop = Vocabulary.from_counts(counts, size=3, num_stopwords=2)
    assert stop.words == ("the", "a")
    assert vocab.words == ("dog", "cat", "sky")
    assert vocab.counts == (50, 40, 30)


def test_ties_are_broken_alphabetically_whatever_the_insertion_order():
    forward = {"b": 5, "a": 5, "c": 5, "d": 1}
    backward = dict(reversed(list(forward.items())))
    for counts in (forward, backward):
        vocab, _ = Vocabulary.from_counts(counts, size=2, num_stopwords=1)
        assert vocab.words == ("b", "c")


def test_small_corpus_gives_fewer_than_k_words():
    vocab, _ = Vocabulary.from_counts({"x": 3, "y": 2, "z": 1}, size=100, num_stopwords=1)
    assert vocab.words == ("y", "z")


def test_ids_are_sorted_distinct_and_ignore_unknown_words():
    vocab = Vocabulary(("dog", "cat", "sky"), (3, 2, 1))
    assert vocab.ids(["sky", "dog", "unknown", "sky"]) == [0, 2]
    assert vocab.id_of("cat") == 1 and "cat" in vocab and "cow" not in vocab


def test_save_load_round_trip(tmp_path):
    vocab = Vocabulary(("dog", "café", "sky"), (3, 2, 1))
    path = str(tmp_path / "vocab.tsv")
    vocab.save(path)
    assert Vocabulary.load(path) == vocab
    assert (tmp_path / "vocab.tsv").read_text(encoding="utf-8") == "dog\t3\ncafé\t2\nsky\t1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.tsv"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("dog 3\n", "vocab.tsv:1: expected 'word<TAB>count'"),
        ("", "vocabulary is empty"),
        ("dog\t3\ndog\t2\n", "repeated words"),
        ("dog\tmany\n", "vocab.tsv:1"),
    ],
)
def test_bad_vocab_files_name_the_file_and_line(tmp_path, content, message):
    path = tmp_path / "vocab.tsv"
    path.write_text(content)
    with pytest.raises(VocabularyError, match=message):
        Vocabulary.load(str(path))


def test_missing_vocab_file(tmp_path):
    with pytest.raises(VocabularyError, match="cannot read vocabulary"):
        Vocabulary.load(str(tmp_path / "nope.tsv"))


@pytest.mark.parametrize("size, stop", [(0, 0), (5, -1)])
def test_bad_sizes(size, stop):
    with pytest.raises(VocabularyError):
        Vocabulary.from_counts({"a": 1}, size=size, num_stopwords=stop)
