"""Backbones (AlexNet, GoogLeNet), the word layer, losses and build_model."""

import keras

from wsl_tf.models.alexnet import AlexNet
from wsl_tf.models.backbone import Backbone
from wsl_tf.models.googlenet import GoogLeNet
from wsl_tf.models.word_layer import WordLayer, full_targets, in_batch_targets
from wsl_tf.models.losses import MultiClassLogisticLoss, OneVsAllLogisticLoss
from wsl_tf.models.word_predictor import WordPredictor

BACKBONES = {"alexnet": AlexNet, "googlenet": GoogLeNet}


def build_model(config, backbone_dtype_policy: str | None = None) -> WordPredictor:
    """A built WordPredictor from a model config.

    config: name ("alexnet" | "googlenet"), num_words (K), image_size, width,
    and optionally dropout (default: the backbone's, the paper's) and
    aux_loss_weight (GoogLeNet's towers; default: the backbone's).
    backbone_dtype_policy: e.g. "mixed_bfloat16" for a training copy whose
    backbone computes in bfloat16; the word layers always compute in float32.
    The policy is not part of the saved config: a reloaded model is float32.
    """
    if config.name not in BACKBONES:
        raise ValueError(f"model.name={config.name!r}: expected one of {', '.join(BACKBONES)}")
    previous = keras.config.dtype_policy()
    try:
        if backbone_dtype_policy:
            keras.config.set_dtype_policy(backbone_dtype_policy)
        extra = {"dropout": config.dropout} if config.get("dropout") is not None else {}
        backbone = BACKBONES[config.name](image_size=config.image_size, width=config.width, **extra)
    finally:
        keras.config.set_dtype_policy(previous)
    model = WordPredictor(backbone, config.num_words, aux_loss_weight=config.get("aux_loss_weight"))
    model.build((None, config.image_size, config.image_size, 3))
    return model


__all__ = ["AlexNet", "Backbone", "GoogLeNet", "WordLayer", "WordPredictor", "MultiClassLogisticLoss",
           "OneVsAllLogisticLoss", "build_model", "full_targets", "in_batch_targets", "BACKBONES"]
