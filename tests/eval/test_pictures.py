"""The prediction grid: which predicted words it marks right, and the picture it draws."""

import io

import numpy as np
from PIL import Image

from tests.helpers import image_bytes
from wsl_tf.eval import pictures


def test_marked_predictions_are_the_top_words_marked_by_brute_force():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(20, 30))
    true_ids = [rng.choice(30, size=rng.integers(0, 4), replace=False) for _ in range(20)]
    marked = pictures.marked_predictions(scores, true_ids, top=5)
    for row, ids, predictions in zip(scores, true_ids, marked):
        best = sorted(range(30), key=lambda w: -row[w])[:5]
        assert [w for w, _ in predictions] == best
        assert [right for _, right in predictions] == [w in set(ids.tolist()) for w in best]


def test_the_prediction_grid_is_a_png_of_the_images_with_words():
    words = [f"w{i}" for i in range(8)]
    scores = np.tile(np.arange(8, 0, -1, dtype=float), (5, 1))  # w0 first everywhere.
    true_ids = [[0], [], [3, 7], [1], [6]]
    images = [image_bytes(40, 30, seed=i) for i in range(5)]
    png, hits, shown = pictures.prediction_grid(scores, images, true_ids, words, columns=2, rows=2, top=3)
    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.size[0] > 200 and picture.size[1] > 200
    assert shown == 4  # Every image with a word (image 1 has none).
    marked = pictures.marked_predictions(scores[[0, 2, 3, 4]], [true_ids[i] for i in (0, 2, 3, 4)], top=3)
    assert [any(right for _, right in m) for m in marked] == [True, False, True, False]
    assert hits == 2


def test_the_grid_images_are_drawn_by_a_seed_among_those_with_words():
    true_ids = [[1] if i % 3 else [] for i in range(300)]
    drawn = pictures.grid_images(true_ids, 12, seed=0)
    assert len(set(drawn)) == 12 and drawn == sorted(drawn) and all(true_ids[i] for i in drawn)
    assert drawn == pictures.grid_images(true_ids, 12, seed=0) != pictures.grid_images(true_ids, 12, seed=1)
    assert max(drawn) > 100  # Not the first twelve.
