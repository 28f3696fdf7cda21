"""Transfer learning: labelled-set readers, pixel views, features, VOC mAP against its definition, zero-shot."""

import gzip
import io
import os

import numpy as np
import pytest
from PIL import Image

from tests.helpers import image_bytes, write_small_corpora
from wsl_tf.eval import transfer

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")

RNG = np.random.default_rng(0)


def test_an_image_folder_is_a_labelled_set_with_sorted_classes(tmp_path):
    for name, count in (("dog", 3), ("cat", 2)):
        (tmp_path / name).mkdir()
        for i in range(count):
            (tmp_path / name / f"{i}.{'png' if i else 'jpg'}").write_bytes(image_bytes(20, 20, seed=i))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    labelled = transfer.image_folder(str(tmp_path))
    assert labelled.classes == ["cat", "dog"] and labelled.labels.tolist() == [0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="at least two CLASS/"):
        transfer.image_folder(str(tmp_path / "cat"))


def test_fashion_mnist_reads_its_idx_files(tmp_path):
    root = write_small_corpora(tmp_path)["fashion_mnist"]
    everything = transfer.fashion_mnist(root, max_images=None)
    assert len(everything.images) == 120 and everything.labels.tolist() == [i % 10 for i in range(100)] + [
        i % 10 for i in range(20)
    ]
    with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")) as handle:
        last = np.frombuffer(handle.read()[16:], np.uint8).reshape(20, 28, 28)[-1]
    np.testing.assert_array_equal(everything.images[-1], last)
    some = transfer.fashion_mnist(root, max_images=50)
    assert len(some.images) == 50 and some.classes[9] == "boot"
    assert transfer.fashion_mnist(root, max_images=50).labels.tolist() == some.labels.tolist()  # Seeded.


@pytest.mark.network
def test_the_real_fashion_mnist_reads():
    from data_tools import corpora

    labelled = transfer.fashion_mnist(corpora.fetch("fashion_mnist", log=lambda *_: None), max_images=500)
    assert len(labelled.images) == 500 and labelled.images[0].shape == (28, 28)
    assert set(labelled.labels) == set(range(10)) and labelled.classes[9] == "boot"


def test_voc2007_layout_gives_multi_label_sets_with_their_splits(tmp_path):
    (tmp_path / "JPEGImages").mkdir()
    (tmp_path / "ImageSets" / "Main").mkdir(parents=True)
    for image_id in ("000001", "000002", "000003"):
        (tmp_path / "JPEGImages" / f"{image_id}.jpg").write_bytes(image_bytes(30, 20))
    (tmp_path / "ImageSets" / "Main" / "cat_train.txt").write_text("000001  1\n000002 -1\n")
    (tmp_path / "ImageSets" / "Main" / "dog_train.txt").write_text("000001 -1\n000002  0\n")
    (tmp_path / "ImageSets" / "Main" / "cat_test.txt").write_text("000003  1\n")
    labelled = transfer.voc2007(str(tmp_path))
    cat, dog = transfer.VOC_CLASSES.index("cat"), transfer.VOC_CLASSES.index("dog")
    assert labelled.multi_label and labelled.split.tolist() == ["train", "train", "test"]
    assert labelled.labels[:, cat].tolist() == [1, -1, 1] and labelled.labels[:, dog].tolist() == [-1, 0, 0]


def test_voc_map_averages_the_per_class_aps_of_separable_and_noisy_classes():
    n, dim = 240, 5
    features = RNG.normal(size=(n, dim))
    labels = np.stack([np.where(features[:, 0] > 0, 1, -1), np.where(RNG.random(n) > 0.5, 1, -1)], axis=1)
    split = np.array(["train"] * 120 + ["val"] * 60 + ["test"] * 60)
    got = transfer.voc_map(features, labels, split, ["easy", "noise"], progress=False)
    assert got["ap"]["easy"] > 0.95 and got["ap"]["noise"] < 0.8
    assert got["map"] == pytest.approx(np.mean([got["ap"]["easy"], got["ap"]["noise"]]))


def test_zero_shot_takes_the_best_scoring_class_word_among_those_in_the_dictionary():
    labelled = transfer.LabelledSet("toy", [None] * 6, ["cat", "dog", "zebra"], np.array([0, 1, 2, 0, 1, 2]))
    words = ["dog", "sun", "cat"]
    scores = RNG.normal(size=(6, 3))
    got = transfer.zero_shot(scores, words, labelled)
    # Brute force: classes cat (word 2) and dog (word 0); zebra's images are left out.
    expected = [int((0 if scores[i, 2] > scores[i, 0] else 1) == labelled.labels[i]) for i in (0, 1, 3, 4)]
    assert got == {
        "accuracy": pytest.approx(np.mean(expected)),
        "chance": 0.5,
        "classes": 2,
        "classes_total": 3,
        "images": 4,
        "class_words": ["cat", "dog"],
    }


def test_a_plural_class_name_takes_its_singular_word_only_when_the_plural_is_missing():
    labelled = transfer.LabelledSet("toy", [None] * 4, ["plants", "tools", "news"], np.array([0, 1, 2, 0]))
    scores = np.array([[5.0, 0, 0, 0], [0, 5.0, 0, 0], [0, 0, 5.0, 0], [0, 0, 0, 5.0]])
    # "plants" -> plant (word 0); "tools" is itself a word (1) though "tool" (3) is too; "news" has neither.
    got = transfer.zero_shot(scores, ["plant", "tools", "new_", "tool"], labelled)
    assert got["classes"] == 2 and got["images"] == 3 and got["class_words"] == ["plant", "tools"]
    # Image 3 (a plant) scores "tool" highest, which is no class word: the class words' argmax is plant.
    assert got["accuracy"] == 1.0


def test_key_categories_label_images_by_their_keys_folder_at_a_depth():
    keyed = [
        ("openclipart/animals/cat_01", b"a1"),
        ("tuxpaint/animals/birds/crow", b"a2"),
        ("openclipart/food/pie", b"f1"),
        ("tuxpaint/food/fruit/apple", b"f2"),
        ("openclipart/food/cake", b"f3"),
        ("openclipart/tools/saw", b"t1"),
        ("flickr/1234", b"x"),
        ("flickr//odd", b"y"),
    ]
    labelled = transfer.key_categories(iter(keyed), "categories:test", depth=1, min_images=2)
    # tools has one image (under min_images); keys without a folder at depth 1 are left out.
    assert labelled.classes == ["animals", "food"]
    assert list(zip(labelled.images, labelled.labels.tolist())) == [
        (b"a1", 0),
        (b"a2", 0),
        (b"f1", 1),
        (b"f2", 1),
        (b"f3", 1),
    ]
    assert labelled.description.startswith("5 images each labelled by the folder")
    by_source = transfer.key_categories(iter(keyed), "sources", depth=0, min_images=1)
    assert by_source.classes == ["flickr", "openclipart", "tuxpaint"] and len(by_source.images) == 8
    assert [transfer.key_category("food/fruit/apple", d) for d in (0, 1, 2)] == ["food", "fruit", None]
    first_four = transfer.key_categories(iter(keyed), "c", depth=1, min_images=1, max_images=4)
    assert first_four.images == [b"a1", b"a2", b"f1", b"f2"]
    found = r"categories:test: .*fewer than two folders.*found: animals \(2\), food \(3\)"
    with pytest.raises(ValueError, match=found):
        transfer.key_categories(iter(keyed), "categories:test", depth=1, min_images=3)


def pil_view(image, size, crop_from=None) -> np.ndarray:
    """The reference: PIL decodes, resizes each channel (bilinear, antialiased when shrinking), numpy crops the
    centre and standardises with the std floored at 1/sqrt(pixels)."""
    if isinstance(image, bytes):
        rgb = np.asarray(Image.open(io.BytesIO(image)).convert("RGB"), np.float32)
    else:
        rgb = np.repeat(np.asarray(image, np.float32)[..., None], 3, axis=-1) if image.ndim == 2 else image
    side = crop_from or size
    resized = np.stack(
        [
            np.asarray(
                Image.fromarray(np.ascontiguousarray(rgb[..., c]), mode="F").resize((side, side), Image.BILINEAR)
            )
            for c in range(3)
        ],
        axis=-1,
    )
    top = (side - size) // 2
    view = resized[top : top + size, top : top + size]
    return (view - view.mean()) / max(view.std(), 1 / np.sqrt(view.size))


def batched(images, size, **kwargs) -> np.ndarray:
    return np.concatenate([b.numpy() for b in transfer.pixel_batches(images, size, batch_size=3, **kwargs)])


def test_grey_arrays_as_fashion_mnist_gives_them_are_enlarged_tiled_and_standardised():
    arrays = [np.random.default_rng(i).integers(0, 256, (28, 28), dtype=np.uint8) for i in range(5)]
    got = batched(arrays, 64)
    assert got.shape == (5, 64, 64, 3)
    np.testing.assert_allclose(got, np.stack([pil_view(a, 64) for a in arrays]), atol=1e-4)


def test_larger_arrays_are_shrunk_with_antialiasing():
    arrays = [np.random.default_rng(i).integers(0, 256, (96, 96), dtype=np.uint8) for i in range(4)]
    np.testing.assert_allclose(batched(arrays, 64), np.stack([pil_view(a, 64) for a in arrays]), atol=2e-3)


def test_encoded_images_of_any_size_are_resized_without_cropping():
    images = [open(os.path.join(DATA, name), "rb").read() for name in ("crow.png", "pengwin.png", "grace_hopper.jpg")]
    images.append(image_bytes(90, 60, seed=1, fmt="PNG"))
    got = batched(images, 64)
    np.testing.assert_allclose(got, np.stack([pil_view(b, 64) for b in images]), atol=2e-3)


def test_the_eval_view_resizes_then_crops_the_centre_as_word_prediction_does():
    images = [open(os.path.join(DATA, name), "rb").read() for name in ("crow.png", "grace_hopper.jpg")]
    images += [image_bytes(90, 60, seed=i, fmt="PNG") for i in range(3)]
    got = batched(images, 64, crop_from=72)
    np.testing.assert_allclose(got, np.stack([pil_view(b, 64, crop_from=72) for b in images]), atol=2e-3)
    assert not np.allclose(got, batched(images, 64), atol=1e-2)  # The transfer view (no crop) differs.


def test_a_class_of_several_words_scores_their_mean_and_needs_them_all():
    labelled = transfer.LabelledSet(
        "toy", [None] * 4, ["animal-mammal", "animal-bird", "face-smiling", "food-fruit"], np.array([0, 1, 2, 3])
    )
    words = ["animal", "mammal", "bird", "face", "smile", "fruit"]  # "smiling" and "food" are not words here.
    scores = RNG.normal(size=(4, 6))
    got = transfer.zero_shot(scores, words, labelled)
    assert got["class_words"] == ["animal mammal", "animal bird"] and got["classes"] == 2 and got["images"] == 2
    mammal, bird = scores[:, [0, 1]].mean(1), scores[:, [0, 2]].mean(1)
    expected = [int((0 if mammal[i] > bird[i] else 1) == i) for i in (0, 1)]
    assert got["accuracy"] == pytest.approx(np.mean(expected)) and got["chance"] == 0.5
    assert transfer.class_name_words("Plants", {"plant": 0}) == ["plant"]
    assert transfer.class_name_words("people-body", {"people": 0}) is None
