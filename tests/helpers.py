"""What several test modules build: small images, a prepared dataset, a model config.

Fixtures stay in conftest.py files; plain functions live here and are imported.
"""

import gzip
import io
import json
import os
import struct
import zlib

import ml_collections
import numpy as np
from PIL import Image


def image_bytes(width=40, height=30, fmt="JPEG", seed=0, mode="RGB") -> bytes:
    """A small random image encoded in `fmt`."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}[mode]
    pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height: a decompression bomb's shape."""
    data = image_bytes(8, 8, fmt="PNG")
    ihdr = data.index(b"IHDR")
    fields = struct.pack(">II", width, height) + data[ihdr + 12 : ihdr + 17]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + fields))
    return data[: ihdr + 4] + fields + crc + data[ihdr + 21 :]


def png_bomb(side: int) -> bytes:
    """A valid all-black 1-bit greyscale PNG of side x side pixels: 30,000 px is about 110 KB that decodes to 2.7 GB
    of RGB."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" * (1 + (side + 7) // 8)  # Filter byte, then the packed bits.
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row * min(1024, side - start)) for start in range(0, side, 1024)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", data)
        + chunk(b"IEND", b"")
    )


def prepare_jsonl_dataset(
    root,
    num_images,
    words,
    *,
    image_px,
    prefix="",
    probabilities=None,
    max_words=3,
    key=lambda i: f"k{i}",
    log=lambda *_: None,
    **options,
) -> str:
    """A prepared dataset of `num_images` random PNGs captioned with random `words`, image i keyed key(i).

    options: PrepareOptions fields (vocab_size, image_size, num_shards, ...).
    """
    from data_tools import preparer
    from data_tools.sources.jsonl import JsonlSource

    rng = np.random.default_rng(0)
    with open(root / "list.jsonl", "w") as handle:
        for i in range(num_images):
            (root / f"{i}.png").write_bytes(image_bytes(image_px, image_px, fmt="PNG", seed=i))
            chosen = rng.choice(words, size=rng.integers(1, max_words + 1), replace=False, p=probabilities)
            handle.write(json.dumps({"image": f"{i}.png", "text": prefix + " ".join(chosen), "key": key(i)}) + "\n")
    out = root / "data"
    settings = preparer.PrepareOptions(output_dir=str(out), workers=0, progress=False, **options)
    preparer.DatasetPreparer(JsonlSource(str(root / "list.jsonl")), settings, log=log).run()
    return str(out)


def word_problem(seed=0, images=300, features=12, words=6) -> tuple[np.ndarray, np.ndarray]:
    """(features [images, features], multi-hot words [images, words]): each word a noisy linear function of x."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(images, features)).astype(np.float32)
    direction = rng.normal(size=(features, words))
    y = (x @ direction + rng.normal(size=(images, words)) > 1.5).astype(np.float32)
    return x, y


def model_config(name, num_words=50, image_size=64, width=0.125, **extra) -> ml_collections.ConfigDict:
    """A narrow model config for build_model."""
    return ml_collections.ConfigDict(dict(name=name, num_words=num_words, image_size=image_size, width=width, **extra))


def architecture(model) -> list:
    """Every layer's class and config, depth first: a setting dropped on saving changes some layer."""
    found = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k != "backbone"}
        found.append((type(layer).__name__, config))
        if hasattr(layer, "layers"):
            found.extend(architecture(layer))
    return found


def run_command(module, *argv) -> int:
    """A command's `run()` in this process, as its console script calls it, with argv; its exit status.

    Output goes to the test's capsys. The command's own flags are reset to
    their defaults first, so calls do not leak into each other.
    """
    import sys

    program = {"wsl_tf.cli.prepare": "wsl-prepare", "wsl_tf.cli.fetch_data": "wsl-fetch-data"}.get(
        module.__name__, "wsl-" + module.__name__.rsplit(".", 1)[-1]
    )
    saved = sys.argv
    sys.argv = [program, *argv]
    try:
        module.run()
    except SystemExit as exit_:
        return 0 if exit_.code is None else exit_.code
    finally:
        sys.argv = saved
    return 0


def write_freedict(prefix: str, entries) -> None:
    """PREFIX.index and PREFIX.dict.dz in dictd's format, FreeDict's: (headword, entry text) pairs."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def encode(number):
        digits = ""
        while True:
            digits = alphabet[number % 64] + digits
            number //= 64
            if not number:
                return digits

    data, index = b"", []
    for headword, body in entries:
        raw = body.encode()
        index.append(f"{headword}\t{encode(len(data))}\t{encode(len(raw))}\n")
        data += raw
    with open(f"{prefix}.index", "w", encoding="utf-8") as handle:
        handle.write("00databaseshort\tA\tB\n" + "".join(index))
    with open(f"{prefix}.dict.dz", "wb") as handle:
        handle.write(gzip.compress(data))


def write_idx(path: str, array: np.ndarray) -> None:
    """A gzipped IDX file (Fashion-MNIST's format) of a uint8 array."""
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as handle:
        handle.write(header + array.astype(np.uint8).tobytes())


def write_small_corpora(root) -> dict:
    """The evaluation's four corpora in their real formats, tiny, over conftest's RUN_WORDS: {name: path}.

    fashion_mnist: 120 random 28 x 28 images, 12 of each class; analogies: 2
    questions; men: 3 pairs; freedict: 4 English-French pairs (cat-chat,
    dog-chien, sun-soleil, sea-mer) and their reverse.
    """
    root = str(root)
    fashion = os.path.join(root, "fashion_mnist")
    os.makedirs(fashion, exist_ok=True)
    rng = np.random.default_rng(0)
    for part, count in (("train", 100), ("t10k", 20)):
        write_idx(os.path.join(fashion, f"{part}-images-idx3-ubyte.gz"), rng.integers(0, 256, (count, 28, 28)))
        write_idx(os.path.join(fashion, f"{part}-labels-idx1-ubyte.gz"), np.arange(count) % 10)
    analogies = os.path.join(root, "questions-words.txt")
    with open(analogies, "w") as handle:
        handle.write(": family\nman woman king queen\nking queen man woman\nboy girl brother sister\n")
    men = os.path.join(root, "men.txt")
    with open(men, "w") as handle:
        handle.write("cat-n dog-n 40.0\nsun-n sea-n 30.0\ncar-n automobile-n 49.0\nzebra-n cat-n 20.0\n")
    freedict = os.path.join(root, "freedict")
    os.makedirs(freedict, exist_ok=True)
    write_freedict(
        os.path.join(freedict, "freedict-eng-fra"),
        [("cat", "cat\nchat\n"), ("dog", "dog\nchien\n"), ("sun", "sun\nsoleil\n"), ("sea", "sea\nmer\n")],
    )
    write_freedict(os.path.join(freedict, "freedict-fra-eng"), [("chat", "chat\ncat\n"), ("mer", "mer\nsea\n")])
    return {"fashion_mnist": fashion, "analogies": analogies, "men": men, "freedict": freedict}


def write_emoji_corpus(root) -> str:
    """A tiny `emoji` corpus in the npm packages' real formats; returns its root.

    Sets: "alpha" (Apache-2.0) maps code points in chars.json (a face, a ZWJ family, a skin-tone variant, a flag);
    "beta" (CC-BY-4.0) has no chars.json: its icons are matched by name ("grinning-face", "catface", and
    "mystery-blob" which matches nothing); "gamma" is under a licence not listed for reuse. OpenMoji's black art
    has the face and the cat. CLDR annotations in English and French, OpenMoji's table of groups.
    """
    root = str(root)
    face, cat, family, tone, flag = (
        "\U0001f600",
        "\U0001f431",
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "\U0001f44b\U0001f3fd",
        "\U0001f1eb\U0001f1f7",
    )

    def body(*name):
        """Each set draws each emoji its own way: a square of a colour of its own (identical drawings under two
        keys would be duplicates)."""
        return f'<rect width="16" height="16" fill="#{zlib.crc32("/".join(name).encode()) % 0xFFFFFF:06x}"/>'

    def write(path, value):
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w", encoding="utf-8") as handle:
            handle.write(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))

    def iconify(name, licence, icons, chars=None):
        write(
            f"@iconify-json/{name}/icons.json",
            {"prefix": name, "width": 16, "height": 16, "icons": {icon: {"body": body(name, icon)} for icon in icons}},
        )
        write(
            f"@iconify-json/{name}/info.json",
            {
                "prefix": name,
                "name": name.title(),
                "author": {"name": "Artist"},
                "license": {"title": licence, "spdx": licence, "url": "u"},
            },
        )
        if chars is not None:
            write(f"@iconify-json/{name}/chars.json", chars)

    iconify(
        "alpha",
        "Apache-2.0",
        ["smile", "family", "wave-tone", "france"],
        {
            "1f600": "smile",
            "1f468-200d-1f469-200d-1f467": "family",
            "1f44b-1f3fd": "wave-tone",
            "1f1eb-1f1f7": "france",
        },
    )
    iconify("beta", "CC-BY-4.0", ["grinning-face", "catface", "mystery-blob"])
    iconify("gamma", "Proprietary", ["smile"], {"1f600": "smile"})
    write("openmoji/package.json", {"license": "CC-BY-SA-4.0"})
    for code in ("1F600", "1F431"):
        write(
            f"openmoji/black/svg/{code}.svg",
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">{body("openmoji", code)}</svg>',
        )
    write(
        "openmoji/data/openmoji.json",
        [
            {"emoji": face, "group": "smileys-emotion", "subgroups": "face-smiling"},
            {"emoji": cat, "group": "animals-nature", "subgroups": "animal-mammal"},
            {"emoji": family, "group": "people-body", "subgroups": "family"},
            {"emoji": flag, "group": "flags", "subgroups": "country-flag"},
        ],
    )
    english = {
        face: {"default": ["face", "grin"], "tts": ["grinning face"]},
        cat: {"default": ["cat", "face", "pet"], "tts": ["cat face"]},
    }
    french = {
        face: {"default": ["visage", "sourire"], "tts": ["visage rieur"]},
        cat: {"default": ["chat", "tête", "animal"], "tts": ["tête de chat"]},
    }
    write("cldr-annotations-full/annotations/en/annotations.json", {"annotations": {"annotations": english}})
    write("cldr-annotations-full/annotations/fr/annotations.json", {"annotations": {"annotations": french}})
    write(
        "cldr-annotations-derived-full/annotationsDerived/en/annotations.json",
        {
            "annotationsDerived": {
                "annotations": {
                    family: {"default": ["family"], "tts": ["family: man, woman, girl"]},
                    tone: {"default": ["wave"], "tts": ["waving hand: medium skin tone"]},
                    flag: {"default": ["flag"], "tts": ["flag: France"]},
                }
            }
        },
    )
    write(
        "cldr-annotations-derived-full/annotationsDerived/fr/annotations.json",
        {
            "annotationsDerived": {
                "annotations": {family: {"default": ["famille"], "tts": ["famille : homme, femme et fille"]}}
            }
        },
    )
    return root


def write_stopword_lists(root, english=("the", "of", "with", "a"), french=("le", "la", "car", "avec")) -> str:
    """Stop-word lists in the stopwords wheel's layout (languages.json, NAME/default.txt); returns root."""
    root = str(root)
    for name, words in (("english", english), ("french", french)):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        with open(os.path.join(root, name, "default.txt"), "w", encoding="utf-8") as handle:
            handle.write("".join(f"{w}\n" for w in words))
    with open(os.path.join(root, "languages.json"), "w") as handle:
        json.dump({"en": "english", "fr": "french"}, handle)
    return root


def zipf_index(num_records=4000, num_words=40, seed=0, empty_every=25):
    """Records with 1-4 Zipf-distributed words; every 25th record has none; the last word none."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, num_words)  # Word num_words - 1 never occurs.
    p /= p.sum()
    pairs = []
    for record in range(num_records):
        if record % empty_every:
            for word in set(rng.choice(num_words - 1, size=rng.integers(1, 5), p=p)):
                pairs.append((word, record))
    pairs.sort()
    words = np.array([w for w, _ in pairs])
    offsets = np.concatenate([[0], np.cumsum(np.bincount(words, minlength=num_words))])
    zeros = np.zeros(num_records)
    from wsl_tf.input.index import TrainIndex

    return TrainIndex(
        zeros.astype(np.int32),
        zeros.astype(np.int64),
        zeros.astype(np.int32),
        offsets.astype(np.int64),
        np.array([r for _, r in pairs], np.int32),
    )
