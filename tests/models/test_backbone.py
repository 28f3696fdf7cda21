"""The backbone contract: any Backbone subclass plugs into WordPredictor and saves by its arguments."""

import keras
import numpy as np
import pytest

from wsl_tf.models import AlexNet, Backbone, GoogLeNet, WordPredictor
from wsl_tf.train.word_rows import in_batch_logits


@keras.saving.register_keras_serializable(package="wsl_tf_tests")
class TinyBackbone(Backbone):
    def __init__(self, units=6, towers=1, **kwargs):
        images = keras.Input((8, 8, 3))
        x = keras.layers.Flatten()(images)
        outputs = {f"aux_{i}": keras.layers.Dense(units)(x) for i in range(towers)}
        outputs["embedding"] = keras.layers.Dense(units)(x)
        super().__init__(images, outputs, arguments={"units": units, "towers": towers}, **kwargs)


def test_a_new_backbone_states_its_embedding_and_towers_and_trains_a_word_layer_per_tower():
    backbone = TinyBackbone(units=5, towers=2)
    assert backbone.embedding_dim == 5 and backbone.aux_names == ("aux_0", "aux_1")
    model = WordPredictor(backbone, num_words=7, aux_loss_weight=0.25)
    model.build((None, 8, 8, 3))
    logits = in_batch_logits(model, np.zeros((3, 8, 8, 3), np.float32), np.array([0, 4]))
    assert {k: tuple(v.shape) for k, v in logits.items()} == {"words": (3, 2), "aux_0": (3, 2), "aux_1": (3, 2)}
    clone = TinyBackbone.from_config(backbone.get_config())
    assert clone.get_config() == backbone.get_config() and clone.aux_names == backbone.aux_names


def test_outputs_without_an_embedding_are_refused():
    images = keras.Input((8, 8, 3))
    with pytest.raises(ValueError, match="'embedding'"):
        Backbone(images, {"features": keras.layers.Flatten()(images)}, arguments={})


def test_the_auxiliary_loss_weight_defaults_to_the_backbones():
    assert WordPredictor(GoogLeNet(image_size=32, width=0.125), 5).aux_loss_weight == 0.3
    assert WordPredictor(AlexNet(image_size=64, width=0.125), 5).aux_loss_weight == 0.0
    assert WordPredictor(GoogLeNet(image_size=32, width=0.125), 5, aux_loss_weight=0.5).aux_loss_weight == 0.5
