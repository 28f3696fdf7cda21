"""The emoji reader on a tiny corpus in the npm packages' real formats: code points, name matches, sequences,
skin tones, licences, one caption language per image."""

import collections

import pytest

from data_tools.sources import base
from data_tools.sources.emoji import EmojiSource, emoji_of_hex, hex_of, icon_svg, name_slug
from tests.helpers import write_emoji_corpus


@pytest.fixture
def corpus(tmp_path):
    return write_emoji_corpus(tmp_path / "emoji")


def scanned(source):
    items = list(source.scan())
    return (
        {i.key: i for i in items if not isinstance(i, base.Skip)},
        {i.key: i for i in items if isinstance(i, base.Skip)},
    )


def test_icons_are_matched_by_code_point_or_by_name_and_keyed_by_group_and_subgroup(corpus):
    good, skipped = scanned(EmojiSource(corpus, ("en", "fr")))
    assert sorted(good) == [
        "animals-nature/animal-mammal/beta/1F431",  # "catface" is "cat face" by name.
        "animals-nature/animal-mammal/openmoji-black/1F431",
        "flags/country-flag/alpha/1F1EB-1F1F7",  # A flag: two regional indicators; captioned in English only.
        "people-body/family/alpha/1F468-200D-1F469-200D-1F467",  # A ZWJ sequence, from chars.json.
        "smileys-emotion/face-smiling/alpha/1F600",
        "smileys-emotion/face-smiling/beta/1F600",  # "grinning-face" by name.
        "smileys-emotion/face-smiling/openmoji-black/1F600",
    ]
    reasons = collections.Counter(skip.reason for skip in skipped.values())
    assert reasons == {"skin_tone_variant": 1, "no_emoji_match": 1}
    assert (
        skipped["other/other/beta/mystery-blob"].detail == "beta: icon 'mystery-blob' matches no emoji by code "
        "point or name"
    )
    assert not any("/gamma/" in key for key in [*good, *skipped])  # Not licensed for reuse: left out.


def test_each_image_is_captioned_in_one_language_chosen_by_its_key(corpus):
    source = EmojiSource(corpus, ("en", "fr"))
    good, _ = scanned(source)
    captions = {
        "en": {
            "1F600": "grinning face face grin",
            "1F431": "cat face cat face pet",
            "1F468-200D-1F469-200D-1F467": "family: man, woman, girl family",
            "1F1EB-1F1F7": "flag: France flag",
        },
        "fr": {
            "1F600": "visage rieur visage sourire",
            "1F431": "tête de chat chat tête animal",
            "1F468-200D-1F469-200D-1F467": "famille : homme, femme et fille famille",
        },
    }
    for key, item in good.items():
        emoji = key.rsplit("/", 1)[1]
        assert item.language == source.choose_language(key, {lang for lang in captions if emoji in captions[lang]})
        assert item.text == captions[item.language][emoji]
    assert {item.language for item in good.values()} == {"en", "fr"}
    english_only, skipped = scanned(EmojiSource(corpus, ("en",)))
    assert all(item.language == "en" for item in english_only.values())
    assert "flags/country-flag/alpha/1F1EB-1F1F7" in english_only and not [
        s for s in skipped.values() if s.reason == base.NO_CAPTION
    ]


def test_an_emoji_without_a_caption_in_the_languages_is_skipped(corpus):
    _, skipped = scanned(EmojiSource(corpus, ("fr",)))
    assert skipped["flags/country-flag/alpha/1F1EB-1F1F7"].reason == base.NO_CAPTION


def test_a_record_is_a_rendered_svg_and_licences_go_into_the_description(corpus):
    from data_tools import images

    source = EmojiSource(corpus, ("en", "fr"))
    records = [r for r in source.read() if not isinstance(r, base.Skip)]
    assert len(records) == 7 and all(images.is_svg(r.image) for r in records)
    assert len(images.encode_image(records[0].image, 32)) > 100  # cairosvg renders it.
    sets = source.describe()["sets"]
    assert {name: (s["license"], s["included"]) for name, s in sets.items()} == {
        "alpha": ("Apache-2.0", True),
        "beta": ("CC-BY-4.0", True),
        "gamma": ("Proprietary", False),
        "openmoji-black": ("CC-BY-SA-4.0", True),
    }


def test_code_points_names_and_svg_documents():
    assert hex_of(emoji_of_hex("1f468-200d-1f469")) == "1F468-200D-1F469"
    assert hex_of("\u2764\ufe0f") == "2764"  # The variation selector is not part of the key.
    assert name_slug("Grinning-Face") == name_slug("grinning face") == name_slug("grinningface") == "grinningface"
    svg = icon_svg({"body": "<g/>", "width": 20}, {"width": 16, "height": 12, "left": 1})
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and 'viewBox="1 0 20 12"' in svg


def test_a_folder_without_iconify_sets_is_a_clear_error(tmp_path):
    with pytest.raises(base.SourceError, match="no @iconify-json/ folder"):
        EmojiSource(str(tmp_path))


def test_a_prepared_emoji_dataset_records_each_sets_licence(corpus, tmp_path):
    import json

    from data_tools import preparer

    options = preparer.PrepareOptions(
        output_dir=str(tmp_path / "out"),
        vocab_size=20,
        num_stopwords=0,
        image_size=16,
        num_shards=1,
        val_fraction=0.0,
        test_fraction=0.0,
        workers=0,
        progress=False,
    )
    preparer.DatasetPreparer(EmojiSource(corpus, ("en", "fr")), options, log=lambda *_: None).run()
    metadata = json.loads((tmp_path / "out" / "dataset.json").read_text())
    sets = metadata["source"]["sets"]
    assert sets["alpha"]["license"] == "Apache-2.0" and sets["openmoji-black"]["license"] == "CC-BY-SA-4.0"
    assert sets["gamma"]["included"] is False
    assert metadata["images"]["train"] == 7 and metadata["skipped"] == {"no_emoji_match": 1, "skin_tone_variant": 1}
