"""Transfer learning (paper section 4.2): features of a model on labelled sets, linear classifiers, zero-shot.

Labelled sets (`LabelledSet`: images as encoded bytes or uint8 arrays, class
names, labels):
- an image folder, `ROOT/CLASS/*.{jpg,jpeg,png}`;
- Fashion-MNIST's IDX files (the `fashion_mnist` corpus of wsl-fetch-data);
- Pascal VOC 2007's layout, `ROOT/{Annotations,ImageSets/Main,JPEGImages}`
  (multi-label: `CLASS_{train,val,test}.txt` with 1 / -1 / 0 per image);
- a prepared dataset's own split, each image labelled by the subject folder
  its key names (`key_categories`): clip art collections file every drawing
  under one, so held-out images get labels that no caption chose.

Images are resized straight to the model's input size and standardised
(section 4.2: no crop). Features are the penultimate layer, the embedding.
Classifiers are L2-regularised logistic regressions (scikit-learn's
objective, fitted by wsl_tf/eval/logistic.py) with the regularisation chosen
on a validation part; single-label sets report accuracy mean and standard
deviation over 10 random splits (wsl_tf/eval/linear.py), VOC the 11-point AP
per class and their mean (voc_map).
"""

import dataclasses
import glob
import gzip
import itertools
import os
import re
import struct
import weakref

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from wsl_tf.errors import DataError
from wsl_tf.eval import logistic
from wsl_tf.eval.linear import C_GRID, standardised
from wsl_tf.eval.metrics import average_precision_voc07
from wsl_tf.input import preprocessing

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VOC_CLASSES = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
# One dictionary word per Fashion-MNIST class, for zero-shot ("T-shirt/top" -> tshirt, "Ankle boot" -> boot).
FASHION_MNIST_CLASSES = ("tshirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")


@dataclasses.dataclass
class LabelledSet:
    """images: encoded bytes or uint8 [H, W(, C)] arrays. labels: [N] class ids, or [N, C] 1/-1/0 (multi-label).

    split: for multi-label sets, "train" / "val" / "test" per image (VOC's own split).
    description: where the images and their labels come from, for the report ("" if the name says it).
    """

    name: str
    images: list
    classes: list[str]
    labels: np.ndarray
    split: np.ndarray | None = None
    description: str = ""

    @property
    def multi_label(self) -> bool:
        return self.labels.ndim == 2


def image_folder(root: str, max_per_class: int | None = None) -> LabelledSet:
    """ROOT/CLASS/*.{jpg,jpeg,png}: one class per sub-folder, sorted; ValueError if there are none."""
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    images, labels = [], []
    for label, name in enumerate(classes):
        paths = sorted(p for p in glob.glob(os.path.join(root, name, "*")) if p.lower().endswith(IMAGE_SUFFIXES))
        for path in paths[:max_per_class]:
            with open(path, "rb") as handle:
                images.append(handle.read())
            labels.append(label)
    if len(set(labels)) < 2:
        raise DataError(f"{root}: an image folder needs at least two CLASS/ sub-folders holding images")
    return LabelledSet(f"folder:{os.path.basename(os.path.normpath(root))}", images, classes, np.array(labels))


def _read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(root: str, max_images: int | None = 2000, seed: int = 0) -> LabelledSet:
    """Fashion-MNIST from its IDX files (train and t10k pooled), a seeded subsample of max_images."""
    folder = os.path.join(root, "datasets", "fashion-mnist") if os.path.isdir(os.path.join(root, "datasets")) else root
    images = np.concatenate([_read_idx(os.path.join(folder, f"{p}-images-idx3-ubyte.gz")) for p in ("train", "t10k")])
    labels = np.concatenate([_read_idx(os.path.join(folder, f"{p}-labels-idx1-ubyte.gz")) for p in ("train", "t10k")])
    if max_images and max_images < len(images):
        keep = np.sort(np.random.default_rng(seed).choice(len(images), max_images, replace=False))
        images, labels = images[keep], labels[keep]
    return LabelledSet("fashion_mnist", list(images), list(FASHION_MNIST_CLASSES), labels.astype(np.int64))


def voc2007(root: str, max_images: int | None = None) -> LabelledSet:
    """Pascal VOC 2007: JPEGImages/ID.jpg, labels from ImageSets/Main/CLASS_{train,val,test}.txt."""
    split_of, labels = {}, {}
    for split in ("train", "val", "test"):
        for index, name in enumerate(VOC_CLASSES):
            path = os.path.join(root, "ImageSets", "Main", f"{name}_{split}.txt")
            if not os.path.exists(path):
                continue
            for line in open(path):
                parts = line.split()
                if len(parts) == 2:
                    split_of[parts[0]] = split
                    labels.setdefault(parts[0], np.zeros(len(VOC_CLASSES), np.int64))[index] = int(parts[1])
    if not labels:
        raise DataError(f"{root}: no ImageSets/Main/CLASS_SPLIT.txt files (Pascal VOC 2007 layout)")
    ids = sorted(labels)[:max_images]
    images = [open(os.path.join(root, "JPEGImages", f"{i}.jpg"), "rb").read() for i in ids]
    return LabelledSet(
        "voc2007", images, list(VOC_CLASSES), np.stack([labels[i] for i in ids]), np.array([split_of[i] for i in ids])
    )


def key_category(key: str, depth: int = 0) -> str | None:
    """The key's folder at depth ("food/fruit/apple" -> "food" at 0), None if the key has no folder there.

    A combined source prefixes keys with its sources' names
    ("tuxpaint/food/fruit/apple"): its subject folders are at depth 1.
    """
    parts = key.split("/")
    return parts[depth] if len(parts) > depth + 1 and parts[depth] else None


def key_categories(
    keyed_images, name: str, depth: int = 0, min_images: int = 5, max_images: int | None = None
) -> LabelledSet:
    """Images labelled by their key's folder at depth (key_category); folders with fewer than min_images are left out.

    keyed_images: (key, encoded image) pairs, e.g. a prepared split's records;
    name says which (e.g. "categories:test"). ValueError if fewer than two folders are left.
    """
    by_category = {}
    for key, image in itertools.islice(keyed_images, max_images):
        category = key_category(key, depth)
        if category is not None:
            by_category.setdefault(category, []).append(image)
    classes = sorted(c for c, images in by_category.items() if len(images) >= min_images)
    if len(classes) < 2:
        found = ", ".join(f"{c} ({len(images)})" for c, images in sorted(by_category.items())) or "none"
        raise DataError(
            f"{name}: its keys name fewer than two folders holding at least {min_images} images each "
            f"(folder at depth {depth} of KEY = FOLDER/.../NAME; found: {found})"
        )
    images = [image for c in classes for image in by_category[c]]
    labels = np.concatenate([np.full(len(by_category[c]), i) for i, c in enumerate(classes)])
    return LabelledSet(
        name,
        images,
        classes,
        labels,
        description=(f"{len(images):,} images each labelled by the folder its key files it under, not by its caption"),
    )


def pixel_batches(images: list, size: int, batch_size: int = 64, crop_from: int | None = None) -> tf.data.Dataset:
    """Batches of the images in the paper's transfer view: resized straight to size x size (no crop), grey
    tiled to RGB, each image standardised; preprocessed a batch at a time where sizes agree.

    images: encoded bytes (any sizes), or uint8 arrays of one size, [H, W] grey or [H, W, C]
    (Fashion-MNIST's). crop_from: encoded images are instead resized to crop_from and centre-cropped
    to size, as the model's own evaluation sees them (wsl_tf/input/preprocessing.py).
    """
    parallel = dict(num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if crop_from and images and isinstance(images[0], bytes):
        return (
            tf.data.Dataset.from_tensor_slices(tf.constant(images, tf.string))
            .map(lambda data: preprocessing.preprocess(data, crop_from, size), **parallel)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
    if images and isinstance(images[0], bytes):  # Sizes differ: decode and resize one by one.
        resized = (
            tf.data.Dataset.from_tensor_slices(tf.constant(images, tf.string))
            .map(lambda data: preprocessing.resize(preprocessing.decode(data), size), **parallel)
            .batch(batch_size)
        )
    else:
        stacked = np.stack(images)
        if stacked.ndim == 3:
            stacked = stacked[..., None]

        def resize(batch):  # Resized before grey is tiled to RGB: a third of the work.
            batch = preprocessing.resize(batch, size)
            return tf.tile(batch, [1, 1, 1, 3]) if batch.shape[-1] == 1 else batch

        resized = tf.data.Dataset.from_tensor_slices(stacked).batch(batch_size).map(resize, **parallel)
    return resized.map(preprocessing.standardize, **parallel).prefetch(tf.data.AUTOTUNE)


_FORWARD = weakref.WeakKeyDictionary()


def _forward_function(model):
    """The model's traced embedding + scores step, traced once per model, not once per call."""
    if model not in _FORWARD:

        @tf.function(reduce_retracing=True)
        def forward(pixels):
            embedding = model.embed(pixels, training=False)
            return {"embedding": embedding, "scores": model.head(embedding)}

        _FORWARD[model] = forward
    return _FORWARD[model]


def extract(
    model,
    images: list,
    size: int,
    batch_size: int = 64,
    outputs=("embedding",),
    progress: bool = True,
    desc: str = "features",
    crop_from: int | None = None,
) -> dict:
    """{"embedding": [N, E] float32, and "scores": [N, K] if asked} for the images, in batches.

    crop_from: see pixel_batches (the model's own test-time view; default the transfer view).
    """
    collected = {name: [] for name in outputs}
    forward = _forward_function(model)

    bar = tqdm(total=len(images), desc=desc, unit="img", disable=not progress)
    for pixels in pixel_batches(images, size, batch_size, crop_from) if images else []:
        result = forward(pixels)
        for name in outputs:
            collected[name].append(result[name].numpy().astype(np.float32))
        bar.update(int(pixels.shape[0]))
    bar.close()
    return {name: np.concatenate(parts) if parts else np.zeros((0, 0), np.float32) for name, parts in collected.items()}


def _binary_scores(x_train, positive, c, *others):
    """Decision scores on each of others of one binary regressor fitted on (x_train, positive)."""
    weights = logistic.one_vs_all_logistic(x_train, positive[:, None].astype(np.float32), c)
    return [logistic.scores(x, weights)[:, 0] for x in others]


def voc_map(
    features: np.ndarray, labels: np.ndarray, split: np.ndarray, classes, grid=C_GRID, progress: bool = True
) -> dict:
    """One regressor per class: C chosen by AP on val (trained on train), refit on train+val, AP on test."""
    per_class = {}
    train, val, test = (split == "train"), (split == "val"), (split == "test")
    for index, name in enumerate(tqdm(classes, desc="classes", disable=not progress)):
        y = labels[:, index]
        usable = y != 0  # Difficult images are left out of training, as VOC does.
        fit_rows = train & usable
        if len(set(y[fit_rows] > 0)) < 2 or not (y[test] > 0).any():
            continue
        x_train, x_val = standardised(features[fit_rows], features[val])

        def val_ap(c, x_train=x_train, positive=y[fit_rows] > 0, x_val=x_val, truth=y[val]):
            return average_precision_voc07(_binary_scores(x_train, positive, c, x_val)[0], truth)

        best = max(grid, key=lambda c: np.nan_to_num(val_ap(c), nan=-1.0)) if (y[val] > 0).any() else 1.0
        rows = (train | val) & usable
        x_rows, x_test = standardised(features[rows], features[test])
        per_class[name] = average_precision_voc07(_binary_scores(x_rows, y[rows] > 0, best, x_test)[0], y[test])
    return {"map": float(np.mean(list(per_class.values()))) if per_class else None, "ap": per_class}


def class_name_words(name: str, index: dict) -> list[str] | None:
    """The dictionary words of a class name ("animal-mammal" -> animal, mammal), each the word or its singular
    ("plants" -> plant) when only that is in the dictionary; None unless every word of the name is there."""
    found = []
    for part in re.split(r"[-_ ]+", name.lower()):
        word = part if part in index else part[:-1] if part.endswith("s") and part[:-1] in index else None
        if word is None:
            return None
        found.append(word)
    return found or None


def zero_shot(scores: np.ndarray, words: list[str], labelled: LabelledSet) -> dict:
    """Each image's class is the class the word layer scores highest: the mean score of its name's words.

    scores: [N, K] word scores of the labelled set's images; words: the
    dictionary. A class counts when every word of its name is in the
    dictionary (class_name_words); accuracy is over the images of those classes.
    """
    index = {w: i for i, w in enumerate(words[: scores.shape[1]])}
    present = []
    for c, name in enumerate(labelled.classes):
        name_words = class_name_words(name, index)
        if name_words is not None:
            present.append((c, name_words))
    words_used = [" ".join(name_words) for _, name_words in present]
    if len(present) < 2 or labelled.multi_label:
        return {
            "accuracy": None,
            "chance": None,
            "classes": len(present),
            "classes_total": len(labelled.classes),
            "images": 0,
            "class_words": words_used,
        }
    class_ids = np.array([c for c, _ in present])
    class_scores = np.stack([scores[:, [index[w] for w in name_words]].mean(axis=1) for _, name_words in present], 1)
    rows = np.isin(labelled.labels, class_ids)
    predicted = class_ids[np.argmax(class_scores[rows], axis=1)]
    return {
        "accuracy": float(np.mean(predicted == labelled.labels[rows])),
        "chance": 1.0 / len(present),
        "classes": len(present),
        "classes_total": len(labelled.classes),
        "images": int(rows.sum()),
        "class_words": words_used,
    }
