"""Vision Transformer (Dosovitskiy et al. 2021): patches, a class token, pre-norm encoder blocks.

A P x P patch embedding (a strided conv), a learned class token and learned
position embeddings, `depth` blocks of LayerNorm - multi-head self-attention
- residual - LayerNorm - GELU MLP - residual, a final LayerNorm; the class
token's output is the embedding. Named sizes (`VIT_SIZES`): vit_b16 is
ViT-B/16 (about 85.8M parameters at 224 px), vit_ti16 ViT-Ti/16, vit_test a
net small enough to train in tests. A width multiplier scales the hidden and
MLP sizes (the head count stays), so CPU runs use narrow nets.
"""

import keras
from keras import ops

from wsl_tf.errors import ConfigError
from wsl_tf.models.backbone import Backbone
from wsl_tf.models.layers import scaled

# name -> (patch_size, hidden_size, depth, heads, mlp_size)
VIT_SIZES = {
    "vit_b16": (16, 768, 12, 12, 3072),
    "vit_ti16": (16, 192, 12, 3, 768),
    "vit_test": (8, 64, 2, 2, 128),
}
LN_EPSILON = 1e-6


@keras.saving.register_keras_serializable(package="wsl_tf")
class ClassTokenAndPositions(keras.layers.Layer):
    """[B, N, D] patch embeddings -> [B, N + 1, D]: a learned class token first, learned positions added."""

    def build(self, input_shape):
        tokens, dim = int(input_shape[1]), int(input_shape[2])
        self.class_token = self.add_weight(shape=(1, 1, dim), initializer="zeros", name="class_token")
        self.positions = self.add_weight(
            shape=(1, tokens + 1, dim), initializer=keras.initializers.RandomNormal(stddev=0.02), name="positions"
        )

    def call(self, patches):
        batch = ops.shape(patches)[0]
        token = ops.broadcast_to(ops.cast(self.class_token, patches.dtype), (batch, 1, ops.shape(patches)[2]))
        return ops.concatenate([token, patches], axis=1) + ops.cast(self.positions, patches.dtype)


@keras.saving.register_keras_serializable(package="wsl_tf")
class VisionTransformer(Backbone):
    """images [B, S, S, 3] -> {"embedding": [B, hidden_size * width]}.

    image_size: input side S, a multiple of patch_size.
    patch_size, hidden_size, depth, heads, mlp_size: the encoder's shape (VIT_SIZES names the published ones).
    width: multiplier on hidden_size and mlp_size (hidden_size * width must divide by heads).
    dropout: rate after attention and in the MLP (ViT from scratch on ImageNet: 0.1).
    """

    def __init__(
        self,
        image_size=224,
        patch_size=16,
        hidden_size=768,
        depth=12,
        heads=12,
        mlp_size=3072,
        width=1.0,
        dropout=0.0,
        **kwargs,
    ):
        hidden, mlp = scaled(hidden_size, width), scaled(mlp_size, width)
        if image_size % patch_size:
            raise ConfigError(f"ViT: image_size {image_size} is not a multiple of patch_size {patch_size}")
        if hidden % heads:
            raise ConfigError(f"ViT: hidden size {hidden} (hidden_size x width) does not divide by {heads} heads")
        images = keras.Input((image_size, image_size, 3), name="images")
        x = keras.layers.Conv2D(hidden, patch_size, strides=patch_size, name="patch_embedding")(images)
        x = keras.layers.Reshape(((image_size // patch_size) ** 2, hidden), name="patches")(x)
        x = ClassTokenAndPositions(name="class_token_and_positions")(x)
        for block in range(depth):
            name = f"block{block}"
            y = keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=f"{name}_norm1")(x)
            y = keras.layers.MultiHeadAttention(heads, hidden // heads, dropout=dropout, name=f"{name}_attention")(y, y)
            x = keras.layers.Add(name=f"{name}_add1")([x, keras.layers.Dropout(dropout, name=f"{name}_drop1")(y)])
            y = keras.layers.LayerNormalization(epsilon=LN_EPSILON, name=f"{name}_norm2")(x)
            y = keras.layers.Dense(mlp, activation="gelu", name=f"{name}_mlp1")(y)
            y = keras.layers.Dense(hidden, name=f"{name}_mlp2")(keras.layers.Dropout(dropout, name=f"{name}_drop2")(y))
            x = keras.layers.Add(name=f"{name}_add2")([x, keras.layers.Dropout(dropout, name=f"{name}_drop3")(y)])
        x = keras.layers.LayerNormalization(epsilon=LN_EPSILON, name="norm")(x)
        # The class token's output: the first of the N + 1 tokens, kept by cropping the N patch tokens.
        x = keras.layers.Cropping1D((0, (image_size // patch_size) ** 2), name="class_output")(x)
        embedding = keras.layers.Flatten(name="embedding")(x)
        super().__init__(
            images,
            {"embedding": embedding},
            arguments={
                "image_size": image_size,
                "patch_size": patch_size,
                "hidden_size": hidden_size,
                "depth": depth,
                "heads": heads,
                "mlp_size": mlp_size,
                "width": width,
                "dropout": dropout,
            },
            **kwargs,
        )
