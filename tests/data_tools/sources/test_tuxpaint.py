import collections

import pytest

from data_tools.sources import base
from data_tools.sources.tuxpaint import TuxpaintSource, parse_captions

CAPTION = """A US 25 cent piece ($.25) called a quarter.
de.utf8=Eine 25-Cent-Münze (0,25 $) der USA.
en_GB.utf8=A US 25 cent piece called a quarter.
fr.utf8=Une pièce de monnaie américaine de 25 cents, appelée “quarter”.
ca@valencia.utf8=Una moneda de vint-i-cinc cèntims.
"""


def test_parse_captions_first_line_is_english():
    captions = parse_captions(CAPTION)
    assert captions["en"] == "A US 25 cent piece ($.25) called a quarter."
    assert captions["fr"].startswith("Une pièce")
    assert set(captions) == {"en", "de", "en_GB", "fr", "ca@valencia"}


@pytest.fixture
def stamps(tmp_path, write_image):
    root = tmp_path / "stamps"
    for i in range(200):
        write_image(f"stamps/animals/s{i:03d}.png", fmt="PNG", width=8, height=8)
        (root / f"animals/s{i:03d}.txt").write_text(CAPTION, encoding="utf-8")
    (root / "animals/nocaption_mirror.png").write_bytes(b"")
    (root / "animals/orphan.txt").write_text("An orphan caption")
    (root / "animals/german.txt").write_text("de.utf8=Nur Deutsch")
    write_image("stamps/animals/german.png", fmt="PNG")
    return str(root)


def test_one_language_per_image_chosen_by_key_hash(stamps):
    source = TuxpaintSource(stamps, ["en", "fr"])
    records = [r for r in source.read() if isinstance(r, base.Record)]
    assert len(records) == 200
    languages = collections.Counter(r.language for r in records)
    assert set(languages) == {"en", "fr"} and min(languages.values()) > 70
    again = {r.key: r.language for r in TuxpaintSource(stamps, ["en", "fr"]).read() if isinstance(r, base.Record)}
    assert again == {r.key: r.language for r in records}
    assert all(r.text == parse_captions(CAPTION)[r.language] for r in records)


def test_missing_image_and_missing_language_are_skipped(stamps):
    skips = {s.key: s.reason for s in TuxpaintSource(stamps, ["en"]).read() if isinstance(s, base.Skip)}
    assert skips == {"animals/orphan": base.MISSING_FILE, "animals/german": base.NO_CAPTION}
