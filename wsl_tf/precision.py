"""Word prediction on a held-out split (precision@k): what the trainer validates with, and wsl-eval reports.

Joulin et al., section 4.1: of the k highest-scoring words of an image, the
fraction that are among its words, averaged over the images that have at
least one. Scores come from any function of a batch of images (a trained
model, or the frequency baseline's constant scores), over the split's first
`max_images` images; only the first `num_words` words count as labels. The
ceiling of precision@k is what a perfect ranking scores: an image with n
words can get at most min(k, n) of its k right.
"""

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from wsl_tf.errors import DataError
from wsl_tf.input import pipeline
from wsl_tf.input.dataset import PreparedDataset


class NoLabelledImagesError(DataError):
    """The split has no image with a word among the first num_words: nothing to average."""


def per_image_precisions(scores, labels, ks: Sequence[int]) -> dict:
    """{k: each image's precision@k [B] (NaN for an image with no word)} for each k of ks: the one scorer every
    figure comes from.

    scores: [B, K] word scores; labels: [B, L] word ids, -1 padded. Ties go
    to the lower word id (top_k's order), so the top k of the top max(ks)
    are the top k: one top_k serves every k.
    """
    top = tf.math.top_k(scores, k=max(ks)).indices
    labels = tf.cast(labels, top.dtype)
    right = np.asarray(tf.reduce_any(tf.equal(top[:, :, None], labels[:, None, :]), -1), np.float64)  # [B, max k]
    hits = np.cumsum(right, axis=1)
    labelled = np.asarray(tf.reduce_any(labels >= 0, axis=1))
    return {k: np.where(labelled, hits[:, k - 1] / k, np.nan) for k in ks}


def per_image_precision(scores, labels, k: int) -> np.ndarray:
    """Each image's precision@k [B] (NaN for an image with no word): per_image_precisions at one k."""
    return per_image_precisions(scores, labels, (k,))[k]


def precision_at_k(scores, labels, k: int) -> tuple[float, int]:
    """(sum of per-image precision@k, number of images counted: those with a word) for a batch, to accumulate."""
    values = per_image_precision(scores, labels, k)
    counted = ~np.isnan(values)
    return float(values[counted].sum()), int(counted.sum())


def mean_precision_at_k(scores, labels, k: int) -> float:
    """precision@k averaged over the images with a word (NaN if none has one)."""
    total, counted = precision_at_k(scores, labels, k)
    return total / counted if counted else float("nan")


def word_ids(multi_hot: np.ndarray) -> np.ndarray:
    """The labels [N, L] (word ids, -1 padded) of a multi-hot matrix [N, K]: what the scorer reads."""
    multi_hot = np.asarray(multi_hot) > 0
    ids = np.full((len(multi_hot), max(int(multi_hot.sum(1).max(initial=0)), 1)), -1, np.int64)
    rows, cols = np.nonzero(multi_hot)  # Row-major: each row's words in a run.
    ids[rows, np.arange(len(rows)) - np.searchsorted(rows, rows)] = cols
    return ids


def first_images(
    dataset: PreparedDataset | str, split: str, input_config, batch_size: int, max_images: int | None = None
):
    """A split's first max_images images (all: None) in shard order, centre-cropped, in batches cut at exactly
    that many: {"images", "labels" (-1 padded), "keys"}. Every figure on "the first N images" reads them here."""
    if max_images is not None and max_images <= 0:
        return
    seen = 0
    for batch in pipeline.eval_dataset(dataset, split, input_config, batch_size):
        size = int(tf.shape(batch["images"])[0])
        if max_images is not None and seen + size >= max_images:
            yield {name: value[: max_images - seen] for name, value in batch.items()}
            return
        seen += size
        yield batch


# Held-out batches kept in memory across scorings up to this size (the demo's 1,230 val images at 64 px: 60 MB).
HELD_OUT_MEMORY_BYTES = 512 << 20


class HeldOutBatches:
    """A split's first max_images images as first_images gives them, decoded once and held in memory when they
    take at most memory_bytes, else read again at each pass: what the trainer scores after every epoch."""

    def __init__(
        self, dataset, split: str, input_config, batch_size: int, max_images: int | None = None, memory_bytes=None
    ):
        dataset = PreparedDataset.of(dataset)
        self.args = (dataset, split, input_config, batch_size, max_images)
        images = dataset.metadata.get("images", {}).get(split, 0)
        images = min(images, max_images) if max_images is not None else images
        limit = HELD_OUT_MEMORY_BYTES if memory_bytes is None else memory_bytes
        self.held_in_memory = images * input_config.crop_size**2 * 3 * 4 <= limit
        self._batches = None

    def __iter__(self):
        if not self.held_in_memory:
            return first_images(*self.args)
        if self._batches is None:
            self._batches = list(first_images(*self.args))
        return iter(self._batches)


def ceiling_at_k(labels: tf.Tensor, k: int) -> tuple[float, float]:
    """(sum over the images with a word of min(k, its words) / k, their number): what a perfect ranking scores."""
    words = tf.reduce_sum(tf.cast(labels >= 0, tf.float64), axis=1)
    return float(tf.reduce_sum(tf.minimum(words, k) / k)), float(tf.reduce_sum(tf.cast(words > 0, tf.float64)))


def split_precision(
    score_fn: Callable[[tf.Tensor], tf.Tensor],
    dataset: PreparedDataset | str,
    input_config,
    num_words: int,
    split: str = "val",
    batch_size: int = 128,
    max_images: int | None = None,
    ks: Sequence[int] = (1, 10),
    per_image: bool = False,
    batches: HeldOutBatches | None = None,
) -> dict:
    """{"precision_at_K", "ceiling_at_K" for K in ks, "images": images averaged over} of score_fn on the split.

    score_fn: images [B, S, S, 3] -> scores [B, num_words]. k above num_words
    is capped at num_words. per_image: also "per_image": {K: each counted
    image's precision@K}. NoLabelledImagesError names the split if none of
    its images has one of the words. batches: as for split_precisions.
    """
    return split_precisions(
        lambda images: {"": score_fn(images)},
        dataset,
        input_config,
        num_words,
        split,
        batch_size,
        max_images,
        ks,
        per_image,
        batches,
    )[""]


def split_precisions(
    scores_fn: Callable[[tf.Tensor], dict],
    dataset: PreparedDataset | str,
    input_config,
    num_words: int,
    split: str = "val",
    batch_size: int = 128,
    max_images: int | None = None,
    ks: Sequence[int] = (1, 10),
    per_image: bool = False,
    batches: HeldOutBatches | None = None,
) -> dict:
    """split_precision for several scorings of the same images in one pass: {name: result}.

    scores_fn: images -> {name: scores [B, num_words]} (e.g. one model's
    scores under several prior weights, computed from one forward pass).
    The split's first `max_images` images are counted: batches are cut at
    exactly that many, so every scorer of a table sees the same images.
    batches: those images already read (HeldOutBatches of the same split and max_images).
    """
    dataset = PreparedDataset.of(dataset)
    totals, ceilings, images = {}, {k: 0.0 for k in ks}, {}
    counted = 0.0
    if batches is None:
        batches = first_images(dataset, split, input_config, batch_size, max_images)
    for batch in batches:
        labels = tf.where(batch["labels"] < num_words, batch["labels"], -1)
        for name, scores in scores_fn(batch["images"]).items():
            per_k = per_image_precisions(scores, labels, sorted({min(k, num_words) for k in ks}))
            for k in ks:
                values = per_k[min(k, num_words)]
                totals[(name, k)] = totals.get((name, k), 0.0) + float(np.nansum(values))
                if per_image:
                    images.setdefault((name, k), []).append(values[~np.isnan(values)])
        for k in ks:
            ceilings[k] += ceiling_at_k(labels, min(k, num_words))[0]
        counted += ceiling_at_k(labels, 1)[1]
    if counted == 0:
        raise NoLabelledImagesError(
            f"{dataset.directory}: the {split} split has no image with one of the first {num_words} dictionary words"
        )
    results = {}
    for name in dict.fromkeys(name for name, _ in totals):
        result = {
            **{f"precision_at_{k}": totals[(name, k)] / counted for k in ks},
            **{f"ceiling_at_{k}": ceilings[k] / counted for k in ks},
            "images": int(counted),
        }
        if per_image:
            result["per_image"] = {k: np.concatenate(images[(name, k)]) for k in ks}
        results[name] = result
    return results


# The prior weights lambda tried on the val split: natural scores are raw + lambda log N_k / N.
PRIOR_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5)


def choose_prior_weight(
    model,
    dataset: PreparedDataset | str,
    input_config,
    num_words: int,
    split: str = "val",
    batch_size: int = 128,
    max_images: int | None = None,
    weights: Sequence[float] = PRIOR_WEIGHTS,
    ks: Sequence[int] = (1, 10),
    batches: HeldOutBatches | None = None,
) -> tuple[float, dict]:
    """(the lambda of `weights` whose natural ranking scores best at precision@1 on the split, the lowest on a
    tie; {lambda: its split_precision result}), from one forward pass per batch; batches as for
    split_precisions."""
    log_prior = model.log_prior

    def scores_fn(images):
        raw = tf.cast(model(images, training=False), tf.float32)
        return {weight: raw + weight * log_prior for weight in weights}

    results = split_precisions(
        scores_fn, dataset, input_config, num_words, split, batch_size, max_images, ks, batches=batches
    )
    best = max(weights, key=lambda weight: (results[weight][f"precision_at_{ks[0]}"], -weight))
    return best, results


def model_scores(model, ranking: str = "natural") -> Callable[[tf.Tensor], tf.Tensor]:
    """A WordPredictor's scores for all its words under a ranking (natural: with its prior), in inference mode."""
    return lambda images: model.scores(images, ranking)


def natural_and_raw_scores(model) -> Callable[[tf.Tensor], dict]:
    """images -> {"natural": scores with the model's prior, "raw": the word layer's scores}, from one forward
    pass (for split_precisions)."""

    def scores_fn(images):
        raw = tf.cast(model(images, training=False), tf.float32)
        return {"natural": model.ranked(raw, "natural"), "raw": raw}

    return scores_fn
