"""Stop words by list, each caption's own language: the lists as the wheel lays them out, and the rule applied by
wsl-prepare (English "car" stays, French "car" goes)."""

import json

import pytest
import tensorflow as tf

from data_tools import preparer
from data_tools.sources.jsonl import JsonlSource
from data_tools.stopwords import FUNCTION_WORDS, StopwordLists
from tests.helpers import image_bytes, write_stopword_lists
from wsl_tf import records


def test_lists_pass_through_the_text_rules_and_codes_fall_back_to_their_language(tmp_path):
    root = write_stopword_lists(tmp_path, english=("aren't", "the", "a"), french=("début", "car", "qu'il"))
    lists = StopwordLists.load(root)
    assert lists.for_language("en") == {"arent", "the"}  # "a" is no word under the text rules.
    assert lists.for_language("fr") == {"debut", "car", "qu", "il"} | FUNCTION_WORDS["fr"]
    assert lists.for_language("fr_CA") == lists.for_language("fr-CA") == lists.for_language("fr")
    assert lists.for_language("") == lists.for_language("en")  # A caption without a language is English.
    assert lists.for_language("de") == frozenset()
    assert lists.drop(("car", "the", "red"), "en") == ("car", "red")
    assert lists.drop(("car", "de", "rouge"), "fr") == ("rouge",)
    assert lists.sizes() == {"en": 2, "fr": 4 + len(FUNCTION_WORDS["fr"])}
    with pytest.raises(ValueError, match="no stop-word lists"):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "languages.json").write_text("{}")
        StopwordLists.load(str(tmp_path / "empty"))


def test_the_list_rule_drops_each_captions_own_languages_stop_words(tmp_path):
    captions = [
        ("the red car", "en"),
        ("la voiture rouge car elle roule", "fr"),
        ("a car with the sun", "en"),
        ("le soleil avec la voiture", "fr"),
        ("car", "fr"),
    ] * 4
    with open(tmp_path / "list.jsonl", "w") as handle:
        for i, (text, language) in enumerate(captions):
            (tmp_path / f"{i}.png").write_bytes(image_bytes(16, 16, fmt="PNG", seed=i))
            handle.write(json.dumps({"image": f"{i}.png", "text": text, "language": language, "key": f"k{i}"}) + "\n")
    lists = write_stopword_lists(tmp_path / "lists")
    options = preparer.PrepareOptions(
        output_dir=str(tmp_path / "out"),
        vocab_size=50,
        num_stopwords=0,
        stopwords="list",
        stopword_lists=lists,
        image_size=16,
        num_shards=1,
        val_fraction=0.0,
        test_fraction=0.0,
        workers=0,
        progress=False,
    )
    metadata = preparer.DatasetPreparer(JsonlSource(str(tmp_path / "list.jsonl")), options, log=lambda *_: None).run()
    words = [line.split("\t")[0] for line in open(tmp_path / "out" / "vocab.tsv")]
    assert sorted(words) == ["car", "elle", "red", "rouge", "roule", "soleil", "sun", "voiture"]
    assert metadata["stopword_rule"] == "list"
    # Each record keeps its own words: the French "car" (because) is gone, the English one (a car) stays.
    by_key = {}
    for serialized in tf.data.TFRecordDataset(records.shard_paths(str(tmp_path / "out"), "train")):
        parsed = records.parse_example(serialized)
        by_key[parsed[records.KEY].numpy().decode()] = sorted(words[i] for i in parsed[records.WORD_IDS].numpy())
    assert by_key["k0"] == ["car", "red"] and by_key["k1"] == ["elle", "rouge", "roule", "voiture"]
    assert "k4" not in by_key  # French "car" alone: no word left, so the train image has no target.


def test_the_list_rule_needs_its_lists(tmp_path):
    with pytest.raises(preparer.PrepareError, match="--stopwords=list needs the lists' folder"):
        preparer.PrepareOptions(output_dir=str(tmp_path), stopwords="list").validate()
    with pytest.raises(preparer.PrepareError, match="--stopwords=often: expected one of frequent, list"):
        preparer.PrepareOptions(output_dir=str(tmp_path), stopwords="often").validate()
