"""Decode, check, resize and re-encode one image for storage.

Stored images are SIZE x SIZE JPEGs (the paper rescales to 256 x 256 before
cropping, ignoring the aspect ratio). Every way an image can be unusable is
turned into a `SkipRecord` with its reason, so one bad file never stops a job.
"""

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from data_tools.sources import base

# PIL's own bomb check would raise DecompressionBombError above 2x its limit;
# the explicit `max_pixels` check below governs instead.
Image.MAX_IMAGE_PIXELS = None
DEFAULT_MAX_PIXELS = 89_478_485  # PIL's default warning threshold.
JPEG_QUALITY = 90


def is_svg(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:65536].lower())


def _render_svg(data: bytes, size: int) -> bytes:
    try:
        import cairosvg
    except (ImportError, OSError):
        raise base.SkipRecord(base.UNSUPPORTED_FORMAT, "SVG needs cairosvg and libcairo") from None
    try:
        return cairosvg.svg2png(bytestring=data, output_width=size, output_height=size)
    except Exception as error:  # cairosvg raises many unrelated types.
        raise base.SkipRecord(base.CORRUPT_IMAGE, f"SVG render failed: {error}") from None


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white (clip art, stamps)."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def encode_image(data: bytes, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """A SIZE x SIZE RGB JPEG of `data`; SkipRecord if it cannot be had."""
    if not data:
        raise base.SkipRecord(base.CORRUPT_IMAGE, "empty file")
    if is_svg(data):
        data = _render_svg(data, size)
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise base.SkipRecord(base.UNSUPPORTED_FORMAT, "not an image PIL can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise base.SkipRecord(base.CORRUPT_IMAGE, f"unreadable header: {error}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise base.SkipRecord(base.TOO_MANY_PIXELS, f"{width}x{height} exceeds {max_pixels} pixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image.draft("RGB", (size, size))
            image = _to_rgb(ImageOps.exif_transpose(image))
            image = image.resize((size, size), Image.Resampling.BICUBIC)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as error:
        raise base.SkipRecord(base.CORRUPT_IMAGE, f"{image.format}: {error}") from None
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
