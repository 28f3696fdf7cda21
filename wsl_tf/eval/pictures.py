"""The paper's pictures as PNG bytes: t-SNE of image features with thumbnails (Fig. 4), t-SNE of word rows
with labels (Fig. 6), the top-scoring test images of chosen words (Fig. 3), and a grid of test images with
their top predicted words, the right ones marked.

TensorFlow-free, so that the evaluation's fit pool draws them; the caller writes the bytes (fileio)."""

import io
import textwrap

import matplotlib

matplotlib.use("Agg")  # Files only; no display here.

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.offsetbox import AnnotationBbox, OffsetImage  # noqa: E402
from PIL import Image  # noqa: E402


def tsne(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE (scikit-learn) of the rows, perplexity capped for small sets."""
    from sklearn.manifold import TSNE

    perplexity = float(min(30, max(2, (len(points) - 1) // 3)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(points)


def _png(figure) -> bytes:
    """The figure as PNG bytes (the caller writes them, atomically, through fileio)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _thumbnail(image_bytes: bytes, size: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB").resize((size, size)))


def image_map(features: np.ndarray, images: list[bytes], thumbnail: int = 28, seed: int = 0) -> bytes:
    """Fig. 4: the images placed by t-SNE of their features."""
    xy = tsne(features, seed)
    figure, axes = plt.subplots(figsize=(10, 10))
    axes.scatter(xy[:, 0], xy[:, 1], s=0)
    for (x, y), data in zip(xy, images):
        axes.add_artist(AnnotationBbox(OffsetImage(_thumbnail(data, thumbnail)), (x, y), frameon=False))
    axes.set_axis_off()
    axes.set_title(f"t-SNE of {len(images)} test images' features")
    return _png(figure)


def word_map(vectors: np.ndarray, words: list[str], seed: int = 0) -> bytes:
    """Fig. 6: the words placed by t-SNE of their word-layer rows."""
    xy = tsne(vectors, seed)
    figure, axes = plt.subplots(figsize=(12, 12))
    axes.scatter(xy[:, 0], xy[:, 1], s=4, color="lightgrey")
    for (x, y), word in zip(xy, words):
        axes.annotate(word, (x, y), fontsize=8, ha="center", va="center")
    axes.set_axis_off()
    axes.set_title(f"t-SNE of {len(words)} word embeddings (word-layer rows)")
    return _png(figure)


def top_images_grid(
    scores: np.ndarray,
    images: list[bytes],
    words: list[str],
    word_ids: list[int],
    per_word: int = 6,
    thumbnail: int = 64,
) -> bytes:
    """Fig. 3: for each chosen word, the test images that score it highest, one row a word."""
    figure, axes = plt.subplots(
        len(word_ids), per_word + 1, figsize=(1.3 * (per_word + 1), 1.3 * len(word_ids)), squeeze=False
    )
    for row, word_id in enumerate(word_ids):
        axes[row, 0].text(0.5, 0.5, words[word_id], ha="center", va="center", fontsize=10)
        axes[row, 0].set_axis_off()
        for column, image_index in enumerate(np.argsort(-scores[:, word_id], kind="stable")[:per_word], start=1):
            axes[row, column].imshow(_thumbnail(images[image_index], thumbnail))
            axes[row, column].set_axis_off()
    figure.suptitle("Test images scoring each word highest")
    return _png(figure)


def marked_predictions(scores: np.ndarray, true_ids: list, top: int = 5) -> list:
    """Per image, its `top` word ids by score (ties: lower id first), each with whether it is one of the
    image's own words: [[(word_id, right), ...], ...]."""
    marked = []
    for row, ids in zip(scores, true_ids):
        truth = {int(i) for i in ids}
        marked.append([(int(w), int(w) in truth) for w in np.argsort(-row, kind="stable")[:top]])
    return marked


TRUE_LINE = 38  # Characters of an image's own words per line under its thumbnail.


def grid_images(true_ids: list, count: int, seed: int = 0) -> list[int]:
    """`count` indices drawn by `seed` among the images with a dictionary word (nothing to get right in the
    others), in ascending order: the prediction grid's images, chosen by no one."""
    candidates = [i for i, ids in enumerate(true_ids) if len(ids)]
    drawn = np.random.default_rng(seed).choice(len(candidates), size=min(count, len(candidates)), replace=False)
    return sorted(candidates[i] for i in drawn)


def prediction_grid(
    scores: np.ndarray,
    images: list[bytes],
    true_ids: list,
    words: list[str],
    columns: int = 4,
    rows: int = 3,
    top: int = 5,
    thumbnail: int = 96,
    seed: int = 0,
) -> tuple[bytes, int, int]:
    """Test images drawn by `seed` (grid_images), each over its `top` predicted words: a word among the
    image's own in green with a check mark, the others in grey; below them the image's own words.
    Returns (the PNG, images with one of their own words among the top, images shown)."""
    chosen = grid_images(true_ids, columns * rows, seed)
    marked = marked_predictions(scores[chosen], [true_ids[i] for i in chosen], top)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 3.6 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, index, predictions in zip(axes.flat, chosen, marked):
        axis.imshow(_thumbnail(images[index], thumbnail))
        for line, (word_id, right) in enumerate(predictions):
            axis.text(
                0.0,
                -0.06 - 0.1 * line,
                ("\u2713 " if right else "  ") + words[word_id],
                transform=axis.transAxes,
                va="top",
                fontsize=9,
                color="green" if right else "dimgrey",
                fontweight="bold" if right else "normal",
            )
        own = ", ".join(words[i] for i in sorted({int(i) for i in true_ids[index]}))
        # Two lines at most, so that a long caption does not run into its neighbour's.
        own = textwrap.fill(textwrap.shorten(f"true: {own}", width=2 * TRUE_LINE, placeholder=" ..."), TRUE_LINE)
        axis.text(0.0, -0.08 - 0.1 * top, own, transform=axis.transAxes, va="top", fontsize=7)
    hits = sum(any(right for _, right in predictions) for predictions in marked)
    figure.suptitle(
        f"Top {top} predicted words per test image (green: one of the image's own words); "
        f"{hits} of {len(chosen)} images have one right"
    )
    figure.subplots_adjust(hspace=0.9)
    return _png(figure), hits, len(chosen)
