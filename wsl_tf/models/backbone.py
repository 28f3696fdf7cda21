"""The contract every backbone meets, so WordPredictor and the tools take any of them.

A backbone is a functional Keras model from images [B, S, S, 3] to a dict:
"embedding" [B, embedding_dim], the image features e = f(x) the word layer
reads and transfer learning uses, plus one [B, embedding_dim] entry per name
in `aux_names` for auxiliary towers (GoogLeNet's), each of which gets its own
word layer whose loss weighs `default_aux_loss_weight`.

Subclasses build their graph and hand the base class the outputs and their
constructor arguments; the base class owns get_config / from_config, so a
backbone round-trips through `.keras` files by listing its arguments once.
"""

import keras


class Backbone(keras.Model):
    """images -> {"embedding": [B, embedding_dim], aux name: [B, embedding_dim], ...}."""

    default_aux_loss_weight = 0.0  # The weight of each auxiliary tower's loss, where there are towers.

    def __init__(self, inputs, outputs: dict, *, arguments: dict, **kwargs):
        """arguments: the subclass's constructor arguments (no name/trainable), as get_config returns them."""
        if "embedding" not in outputs:
            raise ValueError(f"{type(self).__name__}: a backbone's outputs need an 'embedding' entry")
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.arguments = dict(arguments)
        self.embedding_dim = int(outputs["embedding"].shape[-1])
        self.aux_names = tuple(name for name in outputs if name != "embedding")

    def get_config(self):
        return {**self.arguments, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
