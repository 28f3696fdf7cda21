"""GoogLeNet (Szegedy et al. 2015, Inception v1) with its auxiliary towers.

The layer table is the paper's Table 1: a stem (conv 7x7/2, maxpool, LRN,
conv 1x1, conv 3x3, LRN, maxpool), inception modules 3a-3b, maxpool, 4a-4e,
maxpool, 5a-5b, global average pooling and dropout 0.4. The pooled 5b output
is the image embedding (1024-d). As in the paper, auxiliary towers sit on the
outputs of 4a and 4d: average pool 5x5/3, conv 1x1 128, fc 1024, dropout
0.7; each feeds its own word layer in the task, its loss weighted 0.3.

All convolutions and pools use "same" padding, so any input size works; on
inputs too small for the towers' 5x5 pool (4a output under 5x5, i.e. below
about 65 px) the towers average globally instead. A width multiplier scales
every layer.
"""

import keras

from wsl_tf.models.backbone import Backbone
from wsl_tf.models.layers import LocalResponseNormalization, scaled

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
AUX_AFTER = ("4a", "4d")


@keras.saving.register_keras_serializable(package="wsl_tf")
class GoogLeNet(Backbone):
    """images -> {"embedding": [B, 1024 * width], "aux_4a": [B, 1024 * width], "aux_4d": ...}.

    image_size: input side S in pixels (any; the paper: 224).
    width: multiplier on every layer's channels and units (1.0: the published net).
    dropout: rate before the word layer (the paper: 0.4).
    aux_dropout: rate in the auxiliary towers (0.7).
    aux_towers: False drops the towers (and their word layers and losses).
    """

    default_aux_loss_weight = 0.3  # Szegedy et al.: each tower's loss counts 0.3.

    def __init__(self, image_size=224, width=1.0, dropout=0.4, aux_dropout=0.7, aux_towers=True, **kwargs):
        images = keras.Input((image_size, image_size, 3), name="images")

        def conv(x, channels, size, name, strides=1):
            return keras.layers.Conv2D(
                scaled(channels, width), size, strides=strides, padding="same", activation="relu", name=name
            )(x)

        def pool(x, name, size=3, strides=2):
            return keras.layers.MaxPooling2D(size, strides=strides, padding="same", name=name)(x)

        def inception(x, name):
            c1, c3r, c3, c5r, c5, proj = INCEPTION[name]
            branches = [
                conv(x, c1, 1, f"{name}_1x1"),
                conv(conv(x, c3r, 1, f"{name}_3x3_reduce"), c3, 3, f"{name}_3x3"),
                conv(conv(x, c5r, 1, f"{name}_5x5_reduce"), c5, 5, f"{name}_5x5"),
                conv(pool(x, f"{name}_pool", strides=1), proj, 1, f"{name}_pool_proj"),
            ]
            return keras.layers.Concatenate(name=f"inception_{name}")(branches)

        def aux_tower(x, name):
            if x.shape[1] >= 5:
                x = keras.layers.AveragePooling2D(5, strides=3, name=f"{name}_pool")(x)
            else:
                x = keras.layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool")(x)
            x = conv(x, 128, 1, f"{name}_conv")
            x = keras.layers.Flatten(name=f"{name}_flatten")(x)
            x = keras.layers.Dense(scaled(1024, width), activation="relu", name=f"{name}_fc")(x)
            return keras.layers.Dropout(aux_dropout, name=f"{name}_drop")(x)

        x = conv(images, 64, 7, "conv1", strides=2)
        x = LocalResponseNormalization(name="norm1")(pool(x, "pool1"))
        x = conv(conv(x, 64, 1, "conv2_reduce"), 192, 3, "conv2")
        x = pool(LocalResponseNormalization(name="norm2")(x), "pool2")
        outputs = {}
        for name in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
            if name in ("4a", "5a"):
                x = pool(x, f"pool_before_{name}")
            x = inception(x, name)
            if aux_towers and name in AUX_AFTER:
                outputs[f"aux_{name}"] = aux_tower(x, f"aux_{name}")
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        outputs["embedding"] = keras.layers.Dropout(dropout, name="drop")(x)
        super().__init__(
            images,
            outputs,
            arguments={
                "image_size": image_size,
                "width": width,
                "dropout": dropout,
                "aux_dropout": aux_dropout,
                "aux_towers": aux_towers,
            },
            **kwargs,
        )
