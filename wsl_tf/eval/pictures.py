"""The paper's pictures as PNG files: t-SNE of image features with thumbnails (Fig. 4), t-SNE of word rows
with labels (Fig. 6), and the top-scoring test images of chosen words (Fig. 3)."""

import io

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


def _thumbnail(image_bytes: bytes, size: int) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image_bytes)).convert("RGB").resize((size, size)))


def image_map(features: np.ndarray, images: list[bytes], path: str, thumbnail: int = 28, seed: int = 0) -> str:
    """Fig. 4: the images placed by t-SNE of their features."""
    xy = tsne(features, seed)
    figure, axes = plt.subplots(figsize=(10, 10))
    axes.scatter(xy[:, 0], xy[:, 1], s=0)
    for (x, y), data in zip(xy, images):
        axes.add_artist(AnnotationBbox(OffsetImage(_thumbnail(data, thumbnail)), (x, y), frameon=False))
    axes.set_axis_off()
    axes.set_title(f"t-SNE of {len(images)} test images' features")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def word_map(vectors: np.ndarray, words: list[str], path: str, seed: int = 0) -> str:
    """Fig. 6: the words placed by t-SNE of their word-layer rows."""
    xy = tsne(vectors, seed)
    figure, axes = plt.subplots(figsize=(12, 12))
    axes.scatter(xy[:, 0], xy[:, 1], s=4, color="lightgrey")
    for (x, y), word in zip(xy, words):
        axes.annotate(word, (x, y), fontsize=8, ha="center", va="center")
    axes.set_axis_off()
    axes.set_title(f"t-SNE of {len(words)} word embeddings (word-layer rows)")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def top_images_grid(scores: np.ndarray, images: list[bytes], words: list[str], word_ids: list[int], path: str,
                    per_word: int = 6, thumbnail: int = 64) -> str:
    """Fig. 3: for each chosen word, the test images that score it highest, one row a word."""
    figure, axes = plt.subplots(len(word_ids), per_word + 1, figsize=(1.3 * (per_word + 1), 1.3 * len(word_ids)),
                                squeeze=False)
    for row, word_id in enumerate(word_ids):
        axes[row, 0].text(0.5, 0.5, words[word_id], ha="center", va="center", fontsize=10)
        axes[row, 0].set_axis_off()
        for column, image_index in enumerate(np.argsort(-scores[:, word_id], kind="stable")[:per_word], start=1):
            axes[row, column].imshow(_thumbnail(images[image_index], thumbnail))
            axes[row, column].set_axis_off()
    figure.suptitle("Test images scoring each word highest")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path
