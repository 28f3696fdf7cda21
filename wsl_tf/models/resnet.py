"""ResNet-50 (He, Zhang, Ren and Sun 2016), v1 as keras.applications builds it.

conv 64 7x7/2 - BN - maxpool 3/2 - bottleneck stacks of 3, 4, 6 and 3 blocks
(64, 128, 256 and 512 channels, x4 out; the first block of each stack
projects its shortcut, and of stacks 2-4 strides by 2 in its first 1x1
conv) - global average pooling. Convolutions keep their biases and batch
norm uses epsilon 1.001e-5, as keras.applications.ResNet50 does, so at
width 1.0 the trunk has its 23,587,712 parameters; the pooled 2048-d output
is the embedding. A width multiplier scales every layer, so tests and CPU
runs use narrow nets; inputs need at least 32 px.
"""

import keras

from wsl_tf.errors import ConfigError
from wsl_tf.models.backbone import Backbone
from wsl_tf.models.layers import scaled

MIN_IMAGE_SIZE = 32
STACKS = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (channels, blocks, first block's stride)
EXPANSION = 4
BN_EPSILON = 1.001e-5


def _conv_bn(x, channels: int, size: int, name: str, strides: int = 1, relu: bool = True):
    x = keras.layers.Conv2D(
        channels, size, strides=strides, padding="same" if size > 1 else "valid", name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def _bottleneck(x, channels: int, strides: int, project: bool, name: str):
    """1x1 (strided) - 3x3 - 1x1 x4, plus the shortcut (projected when the shape changes)."""
    shortcut = _conv_bn(x, EXPANSION * channels, 1, f"{name}_0", strides, relu=False) if project else x
    x = _conv_bn(x, channels, 1, f"{name}_1", strides)
    x = _conv_bn(x, channels, 3, f"{name}_2")
    x = _conv_bn(x, EXPANSION * channels, 1, f"{name}_3", relu=False)
    x = keras.layers.Add(name=f"{name}_add")([shortcut, x])
    return keras.layers.Activation("relu", name=f"{name}_out")(x)


@keras.saving.register_keras_serializable(package="wsl_tf")
class ResNet50(Backbone):
    """images [B, S, S, 3] -> {"embedding": [B, 2048 * width]}.

    image_size: input side S in pixels (>= 32; ImageNet: 224).
    width: multiplier on every layer's channels (1.0: the published net).
    dropout: rate on the pooled embedding (the published net: none).
    """

    def __init__(self, image_size=224, width=1.0, dropout=0.0, **kwargs):
        if image_size < MIN_IMAGE_SIZE:
            raise ConfigError(f"ResNet-50 needs image_size >= {MIN_IMAGE_SIZE}, got {image_size}")
        images = keras.Input((image_size, image_size, 3), name="images")
        x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(images)
        x = keras.layers.Conv2D(scaled(64, width), 7, strides=2, name="conv1_conv")(x)
        x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name="conv1_bn")(x)
        x = keras.layers.Activation("relu", name="conv1_relu")(x)
        x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
        for stack, (channels, blocks, stride) in enumerate(STACKS, start=2):
            for block in range(1, blocks + 1):
                x = _bottleneck(
                    x,
                    scaled(channels, width),
                    stride if block == 1 else 1,
                    project=block == 1,
                    name=f"conv{stack}_block{block}",
                )
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        embedding = keras.layers.Dropout(dropout, name="dropout")(x)
        super().__init__(
            images,
            {"embedding": embedding},
            arguments={"image_size": image_size, "width": width, "dropout": dropout},
            **kwargs,
        )
