"""The paper's preprocessing against a numpy/PIL reference on real images (tests/data)."""

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from wsl_tf.input import preprocessing

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


@pytest.fixture(scope="module")
def real_images():
    """A JPEG photo; a cut-out photo and a drawing as their RGBA PNGs and re-encoded as JPEGs."""
    images = [open(os.path.join(DATA, "grace_hopper.jpg"), "rb").read()]
    for name in ("crow.png", "pengwin.png"):
        images.append(open(os.path.join(DATA, name), "rb").read())
        out = io.BytesIO()
        Image.open(os.path.join(DATA, name)).convert("RGB").save(out, format="JPEG", quality=95)
        images.append(out.getvalue())
    return images


def reference(data: bytes, resize_size: int, crop_size: int) -> np.ndarray:
    """PIL decode and bilinear resize (float, per channel), numpy crop and standardisation."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.float32)
    resized = np.stack(
        [
            np.asarray(Image.fromarray(rgb[..., c], mode="F").resize((resize_size, resize_size), Image.BILINEAR))
            for c in range(3)
        ],
        axis=-1,
    )
    top = (resize_size - crop_size) // 2
    crop = resized[top : top + crop_size, top : top + crop_size]
    return (crop - crop.mean()) / max(crop.std(), 1 / np.sqrt(crop.size))


@pytest.mark.parametrize("resize_size, crop_size", [(256, 224), (64, 56), (640, 600)])
def test_matches_the_reference_on_real_images(real_images, resize_size, crop_size):
    assert len(real_images) == 5
    for data in real_images:
        got = preprocessing.preprocess(tf.constant(data), resize_size, crop_size).numpy()
        expected = reference(data, resize_size, crop_size)
        assert got.shape == (crop_size, crop_size, 3)
        assert np.abs(got - expected).max() < 1e-3
        assert got.mean() == pytest.approx(0, abs=1e-4) and got.std() == pytest.approx(1, abs=1e-3)


@pytest.mark.parametrize(
    "shape", [(64, 64, 3), (28, 28, 1), (50, 64, 3), (64, 80, 3), (100, 100, 3), (72, 30, 3), (5, 64, 64, 3)]
)
def test_resize_gives_the_antialiased_values_whether_it_enlarges_or_shrinks(shape):
    image = tf.constant(np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32))
    got = preprocessing.resize(image, 72)
    expected = tf.image.resize(image, [72, 72], method="bilinear", antialias=True)
    assert got.shape == (*shape[:-3], 72, 72, shape[-1])
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4)


def test_resize_keeps_an_image_of_the_size_as_it_is():
    image = tf.constant(np.random.default_rng(1).uniform(0, 255, (72, 72, 3)).astype(np.float32))
    np.testing.assert_array_equal(preprocessing.resize(image, 72).numpy(), image.numpy())


def test_standardization_of_a_flat_image_does_not_divide_by_zero():
    out = preprocessing.standardize(tf.fill([8, 8, 3], 17.0)).numpy()
    assert np.all(out == 0)


def test_augmentation_is_seeded_and_varies_with_the_seed(real_images):
    data = tf.constant(real_images[0])
    a = preprocessing.preprocess(data, 64, 48, training_seed=tf.constant([1, 5], tf.int64)).numpy()
    b = preprocessing.preprocess(data, 64, 48, training_seed=tf.constant([1, 5], tf.int64)).numpy()
    c = preprocessing.preprocess(data, 64, 48, training_seed=tf.constant([1, 6], tf.int64)).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (48, 48, 3) and np.abs(a - c).mean() > 0.05


def test_random_crops_cover_the_image_and_flips_happen():
    image = tf.reshape(tf.range(16 * 16 * 3, dtype=tf.float32) % 256, [16, 16, 3])
    corners, flips = set(), 0
    for i in range(60):
        out = preprocessing.augment(image, 8, tf.constant([0, i], tf.int64), jitter=0.0).numpy()
        corners.add(float(out[0, 0, 0]))
        flips += out[0, 0, 0] > out[0, -1, 0]
    assert len(corners) > 10 and 10 < flips < 50


@pytest.mark.parametrize("fmt, mode", [("JPEG", "RGB"), ("PNG", "RGBA"), ("PNG", "L"), ("GIF", "L"), ("BMP", "RGB")])
def test_encoded_size_reads_the_header_as_pil_does(fmt, mode):
    from tests.helpers import image_bytes

    data = image_bytes(37, 23, fmt=fmt, mode=mode)
    assert preprocessing.encoded_size(tf.constant(data)).numpy().tolist() == [23, 37]
    assert Image.open(io.BytesIO(data)).size == (37, 23)


def test_encoded_size_of_a_top_down_bmp_and_of_unknown_bytes():
    from tests.helpers import image_bytes

    data = bytearray(image_bytes(9, 5, fmt="BMP"))
    data[22:26] = (-5).to_bytes(4, "little", signed=True)  # Negative height: rows stored top-down.
    assert preprocessing.encoded_size(tf.constant(bytes(data))).numpy().tolist() == [5, 9]
    assert preprocessing.encoded_size(tf.constant(b"not an image")).numpy().tolist() == [0, 0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="header too short"):
        preprocessing.encoded_size(tf.constant(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x01"))


def test_an_image_over_max_pixels_is_refused_before_decoding():
    """A valid 2,000 x 2,000 PNG decodes without the limit and is refused, by its header, under a 1M-pixel limit."""
    from tests.helpers import png_bomb

    bomb = tf.constant(png_bomb(2000))
    assert preprocessing.decode(bomb).shape == (2000, 2000, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="image larger than 1000000 pixels"):
        preprocessing.decode(bomb, max_pixels=1_000_000)
    assert preprocessing.decode(bomb, max_pixels=4_000_000).shape == (2000, 2000, 3)
    assert preprocessing.encoded_size(tf.constant(png_bomb(30_000))).numpy().tolist() == [30_000, 30_000]
