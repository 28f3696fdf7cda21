"""What several test modules build: small images, a prepared dataset, a model config.

Fixtures stay in conftest.py files; plain functions live here and are imported.
"""

import io
import json
import struct
import zlib

import ml_collections
import numpy as np
from PIL import Image


def image_bytes(width=40, height=30, fmt="JPEG", seed=0, mode="RGB") -> bytes:
    """A small random image encoded in `fmt`."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
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


def prepare_jsonl_dataset(root, num_images, words, *, image_px, prefix="", probabilities=None, max_words=3,
                          key=lambda i: f"k{i}", **options) -> str:
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
    preparer.DatasetPreparer(JsonlSource(str(root / "list.jsonl")), settings, log=lambda *_: None).run()
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
    return ml_collections.ConfigDict(
        dict(name=name, num_words=num_words, image_size=image_size, width=width, **extra))


def architecture(model) -> list:
    """Every layer's class and config, depth first: a setting dropped on saving changes some layer."""
    found = []
    for layer in model.layers:
        config = {k: v for k, v in layer.get_config().items() if k != "backbone"}
        found.append((type(layer).__name__, config))
        if hasattr(layer, "layers"):
            found.extend(architecture(layer))
    return found
