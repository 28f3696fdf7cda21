"""The paper's text rules, each pinned on real-looking Flickr text."""

import pytest

from wsl_tf import text


def test_numbers_and_punctuation_become_spaces_and_hashtags_lose_their_hash():
    assert text.remove_numbers_and_punctuation("#sunset,#beach 2012!").split() == ["sunset", "beach"]


def test_apostrophes_are_deleted_not_split():
    assert text.words("Mary's dog’s bone") == ["marys", "dogs", "bone"]


def test_french_elision_separates_the_word_from_its_article():
    """CLDR's French names: "point d’exclamation", "feuille d’érable"; the word is the noun, not "derable"."""
    assert text.words("point d’exclamation, feuille d’érable, l'arbre") == [
        "point",
        "exclamation",
        "feuille",
        "erable",
        "arbre",
    ]
    assert text.words("qu'il jusqu'ici J’ai") == ["qu", "il", "jusqu", "ici", "ai"]
    assert text.words("rock'n roll, O'Brien's") == ["rockn", "roll", "briens"]


def test_numbers_inside_words_are_removed():
    assert text.words("Canon 50mm f/1.8 IMG_2034") == ["canon", "mm", "img"]


def test_accents_are_stripped_unicode_aware():
    assert text.words("Café Zürich") == ["cafe", "zurich"]
    assert text.words("Ñandú crème brûlée São Paulo") == ["nandu", "creme", "brulee", "sao", "paulo"]


def test_special_characters_are_removed_not_transliterated():
    assert text.words("I ❤ NYC ☀️ 😀 Brand™ ©2010") == ["nyc", "brand"]


def test_compatibility_letters_are_normalised():
    assert text.words("ﬁsh ﬂower") == ["fish", "flower"]


def test_letters_of_other_scripts_survive():
    assert text.words("Москва́ 東京") == ["москва", "東京"]


def test_spacing_marks_stay_inside_their_word():
    # Devanagari vowel signs (category Mc) are written as part of the word; the virama (Mn) goes like an accent.
    assert text.words("हिन्दी भाषा") == ["\u0939\u093f\u0928\u0926\u0940", "\u092d\u093e\u0937\u093e"]
    assert text.words("தமிழ் மொழி") == ["\u0ba4\u0bae\u0bbf\u0bb4", "\u0bae\u0bca\u0bb4\u0bbf"]


def test_lowercase():
    assert text.lowercase("New YORK") == "new york"


def test_penn_treebank_tokenizer_is_used():
    # Treebank splits these contractions; a whitespace split would not.
    assert text.tokenize("cannot gonna") == ["can", "not", "gon", "na"]


def test_markup_and_urls_are_removed_before_the_rules():
    description = 'Taken at <a href="http://www.flickr.com/groups/x">the lake</a> &amp; see www.example.com/page'
    assert text.words(description) == ["taken", "at", "the", "lake", "see"]


def test_email_addresses_are_removed_like_urls():
    assert text.words("Contact john.doe+photos@gmail.com or mailto:Jane_D@mail.example.co.uk today") == [
        "contact",
        "or",
        "today",
    ]
    assert text.words("shot @ the beach, @friends") == ["shot", "the", "beach", "friends"]


@pytest.mark.parametrize(
    "raw, expected",
    [
        (
            "Sunset over the Golden Gate Bridge #sanfrancisco #sunset",
            ["sunset", "over", "the", "golden", "gate", "bridge", "sanfrancisco", "sunset"],
        ),
        ("DSC_0042.JPG", ["dsc", "jpg"]),
        ("black-and-white   street\tphotography\n", ["black", "and", "white", "street", "photography"]),
        ("", []),
        ("2012 !!! ...", []),
    ],
)
def test_words_on_flickr_titles(raw, expected):
    assert text.words(raw) == expected


def test_target_words_are_the_sorted_bag():
    assert text.target_words("Dog dog DOG cat #dog") == ["cat", "dog"]


def test_single_letters_are_fragments_but_single_ideographs_are_words():
    assert text.words("W3C x-ray b&w Ω ы 猫 山") == ["ray", "猫", "山"]
    assert text.drop_single_letters(["a", "é", "ab", "中"]) == ["ab", "中"]


def test_an_address_with_its_name_blanked_out_is_still_an_address():
    assert text.words("clip art . . @gmail.com by me") == ["clip", "art", "by", "me"]
