"""The class-label network: a labelled set written as a prepared dataset, trained by the project's trainer."""

import json
import os

import numpy as np
import tensorflow as tf

from tests.conftest import tiny_run_config
from wsl_tf import records
from wsl_tf.eval import class_network
from wsl_tf.eval.transfer import LabelledSet
from wsl_tf.input import preprocessing
from wsl_tf.run_directory import RunDirectory

CLASSES = ["left", "top", "striped"]


def labelled_set(images=90, seed=0) -> LabelledSet:
    """Grey 28 x 28 uint8 arrays (as Fashion-MNIST's) of three classes a network tells apart at once: noise
    with its left half, its top half or every fourth row bright (each image is standardised: shapes, not
    brightness)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(images) % 3
    arrays = []
    for label in labels:
        image = rng.integers(0, 80, (28, 28))
        if label == 0:
            image[:, :14] += 170
        elif label == 1:
            image[:14] += 170
        else:
            image[::4] += 170
        arrays.append(image.astype(np.uint8))
    return LabelledSet("shapes", arrays, list(CLASSES), labels)


def read_split(dataset, split):
    examples = [records.parse_example(r) for s in dataset.shards(split) for r in tf.data.TFRecordDataset(s)]
    return [
        (e[records.KEY].numpy().decode(), e[records.IMAGE].numpy(), e[records.WORD_IDS].numpy().tolist())
        for e in examples
    ]


def test_a_labelled_set_becomes_a_prepared_dataset_with_every_tenth_image_in_val(tmp_path):
    labelled = labelled_set()
    dataset = class_network.write_dataset(labelled, str(tmp_path / "data"))
    train, val = read_split(dataset, "train"), read_split(dataset, "val")
    assert [key for key, _, _ in val] == [f"shapes/{i:06d}" for i in range(9, 90, 10)]
    assert len(train) == 81 and dataset.metadata["images"] == {"train": 81, "val": 9, "test": 0}
    for key, image, words in train + val:
        i = int(key.split("/")[1])
        assert words == [labelled.labels[i]]
        np.testing.assert_array_equal(preprocessing.decode(image).numpy()[..., 0], labelled.images[i])
    # The dictionary is the classes, counted on train; the index finds each class's train images.
    assert list(dataset.vocabulary.words) == CLASSES
    expected_counts = np.bincount([words[0] for _, _, words in train], minlength=3)
    np.testing.assert_array_equal(dataset.vocabulary.counts, expected_counts)
    np.testing.assert_array_equal(dataset.train_word_counts(), expected_counts)
    assert not [name for name in os.listdir(tmp_path) if name != "data"]  # The staging was renamed into place.


def test_the_dataset_is_written_once_and_rewritten_for_another_set(tmp_path):
    directory = str(tmp_path / "data")
    class_network.write_dataset(labelled_set(), directory)
    shard = os.path.join(directory, records.shard_name("train", 0, 1))
    written = os.stat(shard).st_mtime_ns
    class_network.write_dataset(labelled_set(), directory)
    assert os.stat(shard).st_mtime_ns == written
    again = class_network.write_dataset(labelled_set(images=60), directory)
    assert again.metadata["images"]["train"] + again.metadata["images"]["val"] == 60


def test_the_class_label_network_trains_through_the_trainer_and_is_restored_when_finished(
    tmp_path, run_dataset, capsys
):
    run_config = tiny_run_config(run_dataset)
    directory = str(tmp_path / "class_network")
    labelled = labelled_set(images=120)
    model = class_network.class_label_network(
        run_config, labelled, directory, steps=150, log=lambda *_: None, progress=False
    )
    assert "epoch 1/3" not in capsys.readouterr().err  # progress=False: no epoch bars.
    run = RunDirectory(os.path.join(directory, "run"))
    config = run.read_config()
    assert (config.loss, config.head.classes, config.optimizer.name, config.model.num_words) == (
        "softmax",
        "full",
        "sgd",
        3,
    )
    history = run.read_history()
    assert [entry["epoch"] for entry in history] == [1, 2, 3]
    # 150 steps at the run's global batch of 2 x 8: 50 steps an epoch.
    assert json.loads(open(run.summary_path).read())["step"] == 150
    # It learned the classes: validation accuracy (precision@1 with one word an image) well above chance.
    assert 1.0 - history[-1]["val_error"] > 0.8
    # Its features are the architecture's embedding.
    pixels = tf.random.normal([2, 64, 64, 3])
    assert model.embed(pixels).shape == (2, int(run_config.model.width * 4096))
    # A second call restores the finished run: same weights, no new epoch.
    again = class_network.class_label_network(run_config, labelled, directory, steps=150, log=lambda *_: None)
    assert len(run.read_history()) == 3
    for first, second in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(first, second)
