"""The paper's image preprocessing, and optional training augmentation.

Joulin et al.: rescale to 256 x 256, crop the central 224 x 224, subtract the
image's mean pixel value and divide by its pixel standard deviation. Sizes are
configurable so that tests and the demo can use small images. Augmentation
(random crop in place of the central one, horizontal flip, brightness,
contrast and saturation jitter) uses stateless ops seeded per stream
position, so an augmented stream is as reproducible as the samples.
"""

import tensorflow as tf

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _header_uint(image_bytes, offset: int, length: int, big_endian: bool) -> tf.Tensor:
    """The unsigned integer at bytes [offset, offset + length) of an encoded image, as int64."""
    head = tf.strings.substr(image_bytes, 0, offset + length)  # From 0: never out of range, at most shorter.
    with tf.control_dependencies(
        [tf.debugging.assert_equal(tf.strings.length(head), offset + length, message="image header too short")]
    ):
        raw = tf.io.decode_raw(tf.strings.substr(head, offset, length), tf.uint8)
    powers = tf.constant([256 ** (length - 1 - i if big_endian else i) for i in range(length)], tf.int64)
    return tf.reduce_sum(tf.cast(raw, tf.int64) * powers)


def encoded_size(image_bytes: tf.Tensor) -> tf.Tensor:
    """int64 [height, width] of a JPEG, PNG, GIF or BMP, read from its header without decoding.

    [0, 0] for bytes of none of these formats (decoding will reject them).
    A few kilobytes of PNG can declare 30,000 x 30,000 pixels: the size is
    what a server checks before it decodes.
    """
    head = tf.strings.substr(image_bytes, 0, 8)

    def from_bmp():  # Width, then height (negative: top-down rows), little-endian int32.
        height = _header_uint(image_bytes, 22, 4, big_endian=False)
        return tf.stack(
            [tf.where(height >= 2**31, 2**32 - height, height), _header_uint(image_bytes, 18, 4, big_endian=False)]
        )

    return tf.case(
        [
            (tf.io.is_jpeg(image_bytes), lambda: tf.cast(tf.image.extract_jpeg_shape(image_bytes)[:2], tf.int64)),
            (
                tf.equal(head, PNG_SIGNATURE),
                lambda: tf.stack(
                    [
                        _header_uint(image_bytes, 20, 4, big_endian=True),
                        _header_uint(image_bytes, 16, 4, big_endian=True),
                    ]
                ),
            ),
            (
                tf.equal(tf.strings.substr(head, 0, 3), b"GIF"),
                lambda: tf.stack(
                    [
                        _header_uint(image_bytes, 8, 2, big_endian=False),
                        _header_uint(image_bytes, 6, 2, big_endian=False),
                    ]
                ),
            ),
            (tf.equal(tf.strings.substr(head, 0, 2), b"BM"), from_bmp),
        ],
        default=lambda: tf.zeros([2], tf.int64),
    )


def decode(image_bytes: tf.Tensor, max_pixels: int | None = None) -> tf.Tensor:
    """JPEG, PNG, GIF or BMP bytes -> uint8 [H, W, 3].

    JPEGs use the accurate integer DCT, as PIL does: TensorFlow's default fast
    DCT was off by about one grey level on average (up to 8) on real images.
    max_pixels: refuse (InvalidArgumentError) an image whose header declares
    more pixels, before decoding a byte of it.
    """
    if max_pixels is not None:
        size = encoded_size(image_bytes)
        with tf.control_dependencies(
            [
                tf.debugging.assert_less_equal(
                    size[0] * size[1],
                    tf.constant(max_pixels, tf.int64),
                    message=f"image larger than {max_pixels} pixels",
                )
            ]
        ):
            image_bytes = tf.identity(image_bytes)
    image = tf.cond(
        tf.io.is_jpeg(image_bytes),
        lambda: tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(image_bytes, channels=3, expand_animations=False),
    )
    image.set_shape([None, None, 3])
    return image


def resize(image: tf.Tensor, size: int) -> tf.Tensor:
    """An image [H, W, C] (or a batch [N, H, W, C]) as float32 [size, size, C], bilinear as PIL's; a no-op at that
    size.

    Antialiased only when a side shrinks: enlarging, the antialiased kernel
    is the plain bilinear one (the same values within 3e-5 of 255), and it
    took five times as long (a 64 px image to 72 px, as the demo reads them).
    """
    image = tf.cast(image, tf.float32)
    height, width = tf.shape(image)[-3], tf.shape(image)[-2]
    resized = tf.case(
        [
            (tf.logical_and(height == size, width == size), lambda: image),
            (
                tf.logical_and(height <= size, width <= size),
                lambda: tf.image.resize(image, [size, size], method="bilinear", antialias=False),
            ),
        ],
        default=lambda: tf.image.resize(image, [size, size], method="bilinear", antialias=True),
        exclusive=False,
    )
    resized.set_shape(image.shape[:-3].concatenate([size, size]).concatenate(image.shape[-1:]))
    return resized


def center_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    top, left = (height - size) // 2, (width - size) // 2
    return image[top : top + size, left : left + size, :]


def standardize(image: tf.Tensor) -> tf.Tensor:
    """(x - mean) / std over all the image's pixels and channels (std >= 1/sqrt(n))."""
    return tf.image.per_image_standardization(image)


def augment(image: tf.Tensor, crop_size: int, seed: tf.Tensor, jitter: float = 0.2) -> tf.Tensor:
    """Random crop, horizontal flip and photometric jitter of a float [0, 255] image."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 5)
    image = tf.image.stateless_random_crop(image, [crop_size, crop_size, 3], seeds[0])
    image = tf.image.stateless_random_flip_left_right(image, seeds[1])
    if jitter:
        image = tf.image.stateless_random_brightness(image, 255.0 * jitter, seeds[2])
        image = tf.image.stateless_random_contrast(image, 1 - jitter, 1 + jitter, seeds[3])
        image = tf.image.stateless_random_saturation(image, 1 - jitter, 1 + jitter, seeds[4])
    return tf.clip_by_value(image, 0.0, 255.0)


def preprocess(
    image_bytes,
    resize_size: int,
    crop_size: int,
    training_seed=None,
    jitter: float = 0.2,
    max_pixels: int | None = None,
):
    """Bytes -> standardized float32 [crop, crop, 3]; augmented when a seed is given.

    max_pixels: refuse larger images before decoding them (see `decode`).
    """
    image = resize(decode(image_bytes, max_pixels), resize_size)
    if training_seed is None:
        image = center_crop(image, crop_size)
    else:
        image = augment(image, crop_size, training_seed, jitter)
    image = standardize(image)
    image.set_shape([crop_size, crop_size, 3])
    return image
