import io

import numpy as np
import pytest
from PIL import Image

from data_tools import images
from data_tools.sources import base
from tests.helpers import image_bytes, png_claiming_size


def decode(data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return np.asarray(image.convert("RGB"), dtype=np.int32)


@pytest.mark.parametrize("fmt, mode", [("JPEG", "RGB"), ("PNG", "RGBA"), ("PNG", "L"), ("GIF", "L"), ("WEBP", "RGB")])
def test_any_readable_image_becomes_a_square_rgb_jpeg(fmt, mode):
    out = decode(images.encode_image(image_bytes(50, 20, fmt=fmt, mode=mode), size=32))
    assert out.shape == (32, 32, 3)


def test_resize_matches_a_pil_reference():
    y, x = np.mgrid[0:48, 0:64]
    smooth = np.stack([x * 4, y * 5, (x + y) * 2], axis=-1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(smooth).save(out, format="PNG")
    source = out.getvalue()
    reference = np.asarray(Image.open(io.BytesIO(source)).convert("RGB").resize((32, 32), Image.BICUBIC), np.int32)
    assert np.abs(decode(images.encode_image(source, 32)) - reference).mean() < 3  # JPEG loss only.


def test_transparency_is_composited_on_white():
    clear = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    out = io.BytesIO()
    clear.save(out, format="PNG")
    assert decode(images.encode_image(out.getvalue(), 16)).min() >= 250


def test_exif_orientation_is_applied():
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20] = (255, 0, 0)
    pixels[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6  # Rotate 90 degrees clockwise to display.
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", exif=exif.tobytes())
    result = decode(images.encode_image(out.getvalue(), 32))
    top, bottom = result[:12].mean(axis=(0, 1)), result[-12:].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 60  # The left (red) half is now on top.
    assert bottom[2] > 200 and bottom[0] < 60


def test_svg_is_rendered():
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="#00f"/></svg>'
    )
    out = decode(images.encode_image(svg, 16)).mean(axis=(0, 1))
    assert out[2] > 200 and out[0] < 40


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", base.CORRUPT_IMAGE),
        (b"this is not an image at all", base.UNSUPPORTED_FORMAT),
        (image_bytes(200, 200)[:400], base.CORRUPT_IMAGE),
        (png_claiming_size(100_000, 100_000), base.TOO_MANY_PIXELS),
        (b"<svg><not closed", base.CORRUPT_IMAGE),
    ],
    ids=["empty", "unsupported", "truncated", "bomb", "bad_svg"],
)
def test_bad_images_raise_skip_with_reason(data, reason):
    with pytest.raises(base.SkipRecord) as caught:
        images.encode_image(data, 32)
    assert caught.value.reason == reason


def test_pixel_limit_is_configurable():
    with pytest.raises(base.SkipRecord, match="40x30 exceeds 1000 pixels"):
        images.encode_image(image_bytes(40, 30), 32, max_pixels=1000)
