"""AlexNet (Krizhevsky, Sutskever and Hinton 2012), single tower.

conv 96 11x11/4 - LRN - maxpool 3/2 - conv 256 5x5 - LRN - maxpool 3/2 -
conv 384 3x3 - conv 384 3x3 - conv 256 3x3 - maxpool 3/2 - fc 4096 - dropout -
fc 4096 - dropout, all ReLU. The kernels' initializer is Keras's default
(Glorot uniform) unless given: "he_normal" keeps the signal's scale through
the ReLUs, where Glorot shrinks it about 100 times by fc7 in a 1/8-width
net. The output of the second fc layer is the image
embedding (4096-d); the word layer is the task's head.

On 224 px inputs the first conv is padded by 2, as the Torch implementations
Joulin et al. used did: that gives the published 6x6x256 last pool (an
unpadded conv would give 5x5). A width multiplier scales every layer, so tests
and CPU runs use narrow nets; inputs need at least 63 px.
"""

import keras

from wsl_tf.errors import ConfigError
from wsl_tf.models.backbone import Backbone
from wsl_tf.models.layers import LocalResponseNormalization, scaled

MIN_IMAGE_SIZE = 63


@keras.saving.register_keras_serializable(package="wsl_tf")
class AlexNet(Backbone):
    """images [B, S, S, 3] -> {"embedding": [B, 4096 * width]}.

    image_size: input side S in pixels (>= 63; the paper: 224).
    width: multiplier on every layer's channels and units (1.0: the published net).
    dropout: rate after fc6 and fc7 (the paper: 0.5).
    kernel_initializer: the conv and fc kernels' Keras initializer (name).
    """

    def __init__(self, image_size=224, width=1.0, dropout=0.5, kernel_initializer="glorot_uniform", **kwargs):
        if image_size < MIN_IMAGE_SIZE:
            raise ConfigError(f"AlexNet needs image_size >= {MIN_IMAGE_SIZE}, got {image_size}")
        images = keras.Input((image_size, image_size, 3), name="images")

        def conv(x, channels, size, name, strides=1, padding="same"):
            return keras.layers.Conv2D(
                scaled(channels, width),
                size,
                strides=strides,
                padding=padding,
                activation="relu",
                kernel_initializer=kernel_initializer,
                name=name,
            )(x)

        def pool(x, name):
            return keras.layers.MaxPooling2D(3, strides=2, name=name)(x)

        x = keras.layers.ZeroPadding2D(2, name="conv1_pad")(images)
        x = conv(x, 96, 11, "conv1", strides=4, padding="valid")
        x = pool(LocalResponseNormalization(name="norm1")(x), "pool1")
        x = conv(x, 256, 5, "conv2")
        x = pool(LocalResponseNormalization(name="norm2")(x), "pool2")
        x = conv(x, 384, 3, "conv3")
        x = conv(x, 384, 3, "conv4")
        x = pool(conv(x, 256, 3, "conv5"), "pool5")
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(
            scaled(4096, width), activation="relu", kernel_initializer=kernel_initializer, name="fc6"
        )(x)
        x = keras.layers.Dropout(dropout, name="drop6")(x)
        x = keras.layers.Dense(
            scaled(4096, width), activation="relu", kernel_initializer=kernel_initializer, name="fc7"
        )(x)
        embedding = keras.layers.Dropout(dropout, name="drop7")(x)
        super().__init__(
            images,
            {"embedding": embedding},
            arguments={
                "image_size": image_size,
                "width": width,
                "dropout": dropout,
                "kernel_initializer": kernel_initializer,
            },
            **kwargs,
        )
