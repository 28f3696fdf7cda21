"""The task model: a backbone and its word layer(s), keras-hub style.

`embed(images)` gives the penultimate features used for transfer learning;
`call(images)` gives scores for all K words (inference, export);
`word_heads()` names the word layer of the main head and of each auxiliary
tower, whose in-batch logits the trainer computes from gathered rows
(`wsl_tf/train/word_rows.py:in_batch_logits`).

Rankings. A model trained with a balanced objective (uniform-per-word
sampling, the class-balanced one-vs-all loss) scores words as if all were
equally frequent; one trained on natural draws with the corrected softmax
scores them with their frequency. The model carries the train split's log
word frequencies (`log_prior`, log N_k / N) and a prior weight chosen on the
val split (`prior_weight`, lambda; set by the trainer), so that
`scores(images, "natural")`, raw + lambda log_prior, ranks words as they occur
in natural images (word prediction, serving's default), and
`scores(images, "balanced")`, the natural scores minus log_prior, ranks them
as if every word were equally frequent (zero-shot with a user's own words).
With lambda = 0, the natural ranking is the raw scores.
"""

import keras

from wsl_tf.models.word_layer import WordLayer

RANKINGS = ("natural", "balanced")


@keras.saving.register_keras_serializable(package="wsl_tf")
class WordPredictor(keras.Model):
    """images [B, S, S, 3] -> word scores [B, K].

    backbone: a Backbone (wsl_tf/models/backbone.py).
    num_words: K, the word layer's rows.
    aux_loss_weight: weight of each auxiliary head's loss (None: the backbone's
    default, GoogLeNet's 0.3).
    random_word_rows: draw the word layers' rows when built; False builds
    zeros, for weights about to be loaded or drawn by the trainer (see
    WordLayer). A model made from its config (loading) never draws them.
    """

    def __init__(self, backbone, num_words, aux_loss_weight=None, random_word_rows=True, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.num_words = num_words
        self.aux_loss_weight = backbone.default_aux_loss_weight if aux_loss_weight is None else aux_loss_weight
        self.head = WordLayer(num_words, random_rows=random_word_rows, name="words")
        self.aux_heads = [
            WordLayer(num_words, random_rows=random_word_rows, name=f"{name}_words") for name in backbone.aux_names
        ]

    @property
    def embedding_dim(self) -> int:
        return self.backbone.embedding_dim

    def build(self, input_shape=None):
        self.head.build((None, self.backbone.embedding_dim))
        for head in self.aux_heads:
            head.build((None, self.backbone.embedding_dim))
        self.log_prior = self.add_weight(
            name="log_prior", shape=(self.num_words,), initializer="zeros", trainable=False, dtype="float32"
        )
        self.prior_weight = self.add_weight(
            name="prior_weight", shape=(), initializer="zeros", trainable=False, dtype="float32"
        )
        super().build(input_shape)

    def word_variables(self) -> list:
        """The word layers' weights: K rows each, read and updated only at the batch's words in training."""
        return [v for head in (self.head, *self.aux_heads) for v in (head.kernel, head.bias)]

    def embed(self, images, training=False):
        """The image embedding e = f(x): 4096-d (AlexNet) or 1024-d (GoogLeNet)."""
        return self.backbone(images, training=training)["embedding"]

    def call(self, images, training=False):
        """The word layer's raw scores e.w + b for all K words."""
        return self.head(self._word_input(self.embed(images, training=training)))

    def scores(self, images, ranking: str = "natural"):
        """[B, K] word scores under a ranking (see the module's docstring)."""
        return self.ranked(self(images, training=False), ranking)

    def ranked(self, raw_scores, ranking: str = "natural"):
        """Raw scores [B, K] (or [K]-aligned) under a ranking: natural adds lambda log_prior; balanced (lambda - 1)."""
        if ranking not in RANKINGS:
            raise ValueError(f"ranking={ranking!r}: expected one of {', '.join(RANKINGS)}")
        weight = self.prior_weight if ranking == "natural" else self.prior_weight - 1.0
        return keras.ops.cast(raw_scores, "float32") + weight * self.log_prior

    def set_prior(self, log_prior=None, prior_weight=None) -> None:
        """Set the log word frequencies [K] and/or the prior weight lambda."""
        if log_prior is not None:
            self.log_prior.assign(keras.ops.cast(log_prior, "float32"))
        if prior_weight is not None:
            self.prior_weight.assign(float(prior_weight))

    def word_heads(self) -> dict:
        """{"words": the main word layer, and per auxiliary tower its name: its word layer}.

        Each key is also the backbone output the layer reads ("words" reads "embedding").
        """
        return {"words": self.head, **dict(zip(self.backbone.aux_names, self.aux_heads))}

    def _word_input(self, features):
        """Features as the word layers compute (float32 even when a mixed-precision backbone gives bfloat16)."""
        return keras.ops.cast(features, self.head.compute_dtype)

    def training_loss(self, targets, logits: dict, loss_fn, word_stats=None):
        """The main head's loss plus aux_loss_weight times each auxiliary head's.

        word_stats: the loss's per-word vectors for the logits' columns (None: all K words in order).
        """
        total = loss_fn(targets, logits["words"], word_stats)
        for name in self.backbone.aux_names:
            total += self.aux_loss_weight * loss_fn(targets, logits[name], word_stats)
        return total

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_words": self.num_words,
            "aux_loss_weight": self.aux_loss_weight,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config, random_word_rows=False)
