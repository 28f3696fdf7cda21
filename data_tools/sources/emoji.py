"""Emoji drawn by a dozen artists, each captioned by the Unicode CLDR in English or French (the corpus `emoji`).

Images: eleven Iconify emoji sets from npm (`@iconify-json/NAME/icons.json`:
each icon's SVG body; `chars.json` maps code points to icon names where the
set does so, and an icon it leaves out is matched by its name against the
CLDR English names: "grinning-face" and Firefox's "grinningface" are both
"grinning face") and OpenMoji's black line art (`openmoji/black/svg/HEX.svg`).
Each icon becomes an SVG the image step renders with cairosvg.

Text: the CLDR spoken name and keywords of the emoji (`cldr-annotations-full`
and `-derived-full`, which covers sequences such as families and flags) in
one of `languages`, chosen by a hash of the key among those the emoji has,
as for the Tux Paint stamps: an image never carries a word beside its
translation, so a translation has to come from the pictures.

Keys are GROUP/SUBGROUP/SET/HEX: the emoji's Unicode group and subgroup
(OpenMoji's table, `openmoji/data/openmoji.json`), so held-out images can be
labelled by them ("animal-mammal", "food-fruit"). Skipped and counted: an
icon that matches no emoji, an emoji without a caption in the languages,
and skin-tone variants (the same drawing again in five shades). Each set's
licence and author, as its package declares them, go into dataset.json; a
set under any other licence than those listed stays out.
"""

import dataclasses
import json
import os
import re

from data_tools.sources import base
from wsl_tf.keys import key_fraction

REUSABLE_LICENCES = ("Apache-2.0", "CC-BY-4.0", "CC-BY-SA-4.0", "MIT")
NO_EMOJI = "no_emoji_match"
SKIN_TONE = "skin_tone_variant"
_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
_VARIATION_SELECTOR = "\ufe0f"
BLACK_ART = "openmoji-black"


@dataclasses.dataclass(frozen=True)
class EmojiItem:
    key: str
    svg: str  # The whole SVG document, or the path of an SVG file.
    text: str
    language: str
    from_file: bool = False


def normalised(emoji: str) -> str:
    """The emoji without variation selectors: chars.json, CLDR and OpenMoji write U+FE0F differently."""
    return emoji.replace(_VARIATION_SELECTOR, "")


def emoji_of_hex(hexcode: str) -> str:
    """ "1f468-200d-1f469" -> the emoji those code points spell."""
    return "".join(chr(int(part, 16)) for part in hexcode.split("-") if part)


def hex_of(emoji: str) -> str:
    return "-".join(f"{ord(c):X}" for c in normalised(emoji))


def name_slug(name: str) -> str:
    """An icon or CLDR name reduced to its letters and digits, lowercased: how names are matched."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def icon_svg(icon: dict, icons: dict) -> str:
    """An Iconify icon as a standalone SVG document (its own size, else the set's, else 16)."""
    left, top = icon.get("left", icons.get("left", 0)), icon.get("top", icons.get("top", 0))
    width, height = icon.get("width", icons.get("width", 16)), icon.get("height", icons.get("height", 16))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'viewBox="{left} {top} {width} {height}" width="{width}" height="{height}">{icon["body"]}</svg>'
    )


def read_annotations(root: str, language: str) -> dict[str, tuple[str, list[str]]]:
    """normalised emoji -> (spoken name, keywords) in a language, from CLDR's full and derived annotations."""
    found = {}
    for package, folder in (
        ("cldr-annotations-full", "annotations"),
        ("cldr-annotations-derived-full", "annotationsDerived"),
    ):
        path = os.path.join(root, package, folder, language, "annotations.json")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as handle:
            annotations = json.load(handle)[folder]["annotations"]
        for emoji, entry in annotations.items():
            if "tts" in entry:
                found.setdefault(normalised(emoji), (entry["tts"][0], list(entry.get("default", []))))
    return found


def read_groups(root: str) -> dict[str, tuple[str, str]]:
    """normalised emoji -> (Unicode group, subgroup), from OpenMoji's table."""
    path = os.path.join(root, "openmoji", "data", "openmoji.json")
    with open(path, encoding="utf-8") as handle:
        return {normalised(e["emoji"]): (e["group"], e["subgroups"]) for e in json.load(handle)}


class EmojiSource(base.Source):
    name = "emoji"

    def __init__(self, input_path: str, languages=("en", "fr")):
        self.root = base.require_path(input_path, "--input", directory=True)
        self.languages = tuple(languages)
        if not self.languages:
            raise base.SourceError("--languages: give at least one language, e.g. en,fr")
        if not os.path.isdir(os.path.join(self.root, "@iconify-json")):
            raise base.SourceError(f"--input={self.root}: no @iconify-json/ folder (wsl-fetch-data --corpora=emoji)")
        self.sets = self._licences()

    def _licences(self) -> dict:
        """set -> {"license", "author", "url", "included"} as each package declares them."""
        sets = {}
        for name in sorted(os.listdir(os.path.join(self.root, "@iconify-json"))):
            with open(os.path.join(self.root, "@iconify-json", name, "info.json"), encoding="utf-8") as handle:
                info = json.load(handle)
            sets[name] = {
                "license": info["license"]["spdx"],
                "author": info["author"]["name"],
                "url": info["license"].get("url", ""),
                "title": info.get("name", name),
            }
        if os.path.isdir(os.path.join(self.root, "openmoji", "black", "svg")):
            with open(os.path.join(self.root, "openmoji", "package.json"), encoding="utf-8") as handle:
                sets[BLACK_ART] = {
                    "license": json.load(handle).get("license", ""),
                    "author": "OpenMoji",
                    "url": "https://openmoji.org",
                    "title": "OpenMoji, black line art",
                }
        for entry in sets.values():
            entry["included"] = entry["license"] in REUSABLE_LICENCES
        return sets

    def describe(self) -> dict:
        return {"name": self.name, "root": self.root, "languages": list(self.languages), "sets": self.sets}

    def count(self) -> int:
        return sum(1 for _ in self.scan())

    def choose_language(self, key: str, available) -> str | None:
        candidates = [lang for lang in self.languages if lang in available]
        if not candidates:
            return None
        return candidates[int(key_fraction(key, salt="language") * len(candidates))]

    def scan(self):
        captions = {language: read_annotations(self.root, language) for language in self.languages}
        english = captions["en"] if "en" in captions else read_annotations(self.root, "en")
        by_name = {}
        for emoji, (tts, _) in sorted(english.items()):
            by_name.setdefault(name_slug(tts), emoji)
        groups = read_groups(self.root)

        def item(set_name, emoji, svg, icon, from_file=False):
            group, subgroup = groups.get(emoji, ("other", "other"))
            key = f"{group}/{subgroup}/{set_name}/{hex_of(emoji) if emoji else icon}"
            if emoji is None:
                return base.Skip(key, NO_EMOJI, f"{set_name}: icon {icon!r} matches no emoji by code point or name")
            if _SKIN_TONES & set(emoji):
                return base.Skip(key, SKIN_TONE, f"{set_name}: {icon}")
            available = {lang: captions[lang][emoji] for lang in self.languages if emoji in captions[lang]}
            language = self.choose_language(key, available)
            if language is None:
                return base.Skip(key, base.NO_CAPTION, f"{set_name}: {icon}: none of {','.join(self.languages)}")
            tts, keywords = available[language]
            return EmojiItem(key, svg, " ".join([tts, *keywords]), language, from_file)

        for set_name, licence in self.sets.items():
            if not licence["included"]:
                continue
            if set_name == BLACK_ART:
                folder = os.path.join(self.root, "openmoji", "black", "svg")
                for file in sorted(os.listdir(folder)):
                    if file.endswith(".svg"):
                        yield item(
                            set_name,
                            normalised(emoji_of_hex(file[:-4])),
                            os.path.join(folder, file),
                            file,
                            from_file=True,
                        )
                continue
            folder = os.path.join(self.root, "@iconify-json", set_name)
            with open(os.path.join(folder, "icons.json"), encoding="utf-8") as handle:
                icons = json.load(handle)
            chars = {}
            if os.path.exists(os.path.join(folder, "chars.json")):
                with open(os.path.join(folder, "chars.json"), encoding="utf-8") as handle:
                    for hexcode, icon_name in sorted(json.load(handle).items()):
                        chars.setdefault(icon_name, normalised(emoji_of_hex(hexcode)))
            for icon_name in sorted(icons["icons"]):
                emoji = chars.get(icon_name) or by_name.get(name_slug(icon_name))
                yield item(set_name, emoji, icon_svg(icons["icons"][icon_name], icons), icon_name)

    def load(self, item: EmojiItem) -> base.Record:
        svg = base.read_file(item.svg) if item.from_file else item.svg.encode("utf-8")
        return base.Record(item.key, svg, item.text, item.language)
