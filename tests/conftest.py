"""Test-wide set-up: quiet TensorFlow, 4 logical CPUs, small image helpers.

Logical devices can be configured only once per process, before TensorFlow
initialises its devices, so it is done here at import time; tests that need
two replicas use a MirroredStrategy over the first two.
"""

import io
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

_cpus = tf.config.list_physical_devices("CPU")
tf.config.set_logical_device_configuration(_cpus[0], [tf.config.LogicalDeviceConfiguration()] * 4)


@pytest.fixture(autouse=True)
def _fresh_collective_keys():
    """Each test's MirroredStrategy gets its own collective group keys.

    Collective all-reduces (MirroredStrategy's default on CPUs) number their
    groups from 1 in every strategy; a strategy over 4 devices after one over
    2 in the same process would join the old group. TensorFlow's own tests
    offset the keys the same way (the attribute exists for tests).
    """
    tf.distribute.MirroredStrategy._collective_key_base += 10_000
    yield


def image_bytes(width=40, height=30, fmt="JPEG", seed=0, mode="RGB") -> bytes:
    """A small random image encoded in `fmt`."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, size=(height, width, channels), dtype=np.uint8)
    image = Image.fromarray(pixels.squeeze(-1) if channels == 1 else pixels, mode)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def write_image(tmp_path):
    """write_image(relative path, **image_bytes kwargs) -> absolute path."""

    def write(relative: str, **kwargs) -> str:
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image_bytes(**kwargs))
        return str(path)

    return write


def prepare_jsonl_dataset(root, num_images, words, *, image_px, prefix="", probabilities=None, max_words=3,
                          **options) -> str:
    """A prepared dataset of `num_images` random PNGs captioned with random `words`.

    options: PrepareOptions fields (vocab_size, image_size, num_shards, ...).
    """
    import json

    from data_tools import preparer
    from data_tools.sources.jsonl import JsonlSource

    rng = np.random.default_rng(0)
    with open(root / "list.jsonl", "w") as handle:
        for i in range(num_images):
            (root / f"{i}.png").write_bytes(image_bytes(image_px, image_px, fmt="PNG", seed=i))
            chosen = rng.choice(words, size=rng.integers(1, max_words + 1), replace=False, p=probabilities)
            handle.write(json.dumps({"image": f"{i}.png", "text": prefix + " ".join(chosen), "key": f"k{i}"}) + "\n")
    out = root / "data"
    settings = preparer.PrepareOptions(output_dir=str(out), workers=0, progress=False, **options)
    preparer.DatasetPreparer(JsonlSource(str(root / "list.jsonl")), settings, log=lambda *_: None).run()
    return str(out)
