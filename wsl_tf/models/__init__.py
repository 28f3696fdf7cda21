"""Backbones (AlexNet, GoogLeNet, ResNet-50, ViTs), the word layer, losses and build_model."""

import functools
import inspect

import keras

from wsl_tf.errors import ConfigError
from wsl_tf.models.alexnet import AlexNet
from wsl_tf.models.backbone import Backbone
from wsl_tf.models.googlenet import GoogLeNet
from wsl_tf.models.losses import MultiClassLogisticLoss, OneVsAllLogisticLoss, full_targets
from wsl_tf.models.resnet import ResNet50
from wsl_tf.models.vit import VIT_SIZES, VisionTransformer
from wsl_tf.models.word_layer import WordLayer
from wsl_tf.models.word_predictor import WordPredictor

# Model config keys passed to the backbone when set (None: the backbone's own default).
OPTIONAL_ARGUMENTS = ("dropout", "kernel_initializer")
# name -> backbone constructor taking image_size, width and some of OPTIONAL_ARGUMENTS.
BACKBONES = {
    "alexnet": AlexNet,
    "googlenet": GoogLeNet,
    "resnet50": ResNet50,
    **{
        name: functools.partial(
            VisionTransformer, patch_size=patch, hidden_size=hidden, depth=depth, heads=heads, mlp_size=mlp
        )
        for name, (patch, hidden, depth, heads, mlp) in VIT_SIZES.items()
    },
}


def build_model(config, backbone_dtype_policy: str | None = None, random_word_rows: bool = True) -> WordPredictor:
    """A built WordPredictor from a model config.

    config: name (a key of BACKBONES), num_words (K), image_size, width,
    and optionally dropout (default: the backbone's, the paper's),
    kernel_initializer (AlexNet's kernels; default Keras's) and
    aux_loss_weight (GoogLeNet's towers; default: the backbone's).
    backbone_dtype_policy: e.g. "mixed_bfloat16" for a training copy whose
    backbone computes in bfloat16; the word layers always compute in float32.
    The policy is not part of the saved config: a reloaded model is float32.
    random_word_rows: False builds the word layers' K rows as zeros, for a
    model whose weights a checkpoint or the trainer is about to set.
    """
    if config.name not in BACKBONES:
        raise ConfigError(f"model.name={config.name!r}: expected one of {', '.join(BACKBONES)}")
    extra = {key: config[key] for key in OPTIONAL_ARGUMENTS if config.get(key) is not None}
    accepted = inspect.signature(BACKBONES[config.name]).parameters
    refused = [f"model.{key}={value!r}" for key, value in extra.items() if key not in accepted]
    if refused:
        raise ConfigError(f"{', '.join(refused)}: model.name={config.name!r} does not take it (None: its default)")
    previous = keras.config.dtype_policy()
    try:
        if backbone_dtype_policy:
            keras.config.set_dtype_policy(backbone_dtype_policy)
        backbone = BACKBONES[config.name](image_size=config.image_size, width=config.width, **extra)
    finally:
        keras.config.set_dtype_policy(previous)
    model = WordPredictor(
        backbone, config.num_words, aux_loss_weight=config.get("aux_loss_weight"), random_word_rows=random_word_rows
    )
    model.build((None, config.image_size, config.image_size, 3))
    return model


__all__ = [
    "AlexNet",
    "Backbone",
    "GoogLeNet",
    "ResNet50",
    "VisionTransformer",
    "WordLayer",
    "WordPredictor",
    "MultiClassLogisticLoss",
    "OneVsAllLogisticLoss",
    "build_model",
    "full_targets",
    "BACKBONES",
]
