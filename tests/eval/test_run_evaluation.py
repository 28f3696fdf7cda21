"""wsl-eval on a tiny trained run: every section of metrics.json and report.md holds numbers, PNGs drawn."""

import json
import math
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from tests.helpers import prepare_jsonl_dataset
from wsl_tf import records
from wsl_tf.configs import paper

# English and French words FreeDict pairs, Fashion-MNIST class words, an analogy and MEN pairs can all cover.
WORDS = ["cat", "dog", "chat", "chien", "sun", "soleil", "sea", "mer", "man", "woman", "king", "queen", "dress",
         "coat", "shirt", "bag", "boot", "car", "automobile", "sunlight"]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from wsl_tf.train.trainer import train

    root = tmp_path_factory.mktemp("eval_run")
    # Keys filed under two folders, the labelled set `categories` reads (zero-shot through "cat" and "dog").
    dataset = prepare_jsonl_dataset(root, 260, WORDS, image_px=64, vocab_size=len(WORDS), num_stopwords=0,
                                    image_size=64, num_shards=2, val_fraction=0.15, test_fraction=0.2,
                                    key=lambda i: f"{('cats', 'dogs')[i % 2]}/k{i}")
    config = paper.get_config(f"alexnet,k={len(WORDS)}")
    config.data.dir = dataset
    config.model.update({"image_size": 64, "width": 0.125})
    config.input.update({"resize_size": 64, "crop_size": 64, "block_size": 32})
    config.optimizer.update({"learning_rate": 0.05, "tau": 2})
    config.train.update({"batch_size_per_replica": 16, "epoch_size": 64, "max_epochs": 1, "devices": ("/cpu:0",),
                         "export": False})
    config.eval.update({"val_images": 32, "batch_size": 32})
    workdir = str(root / "run")
    train(config, workdir, log=lambda *_: None)
    return workdir


def numbers(tree, path=""):
    """Every leaf number of a nested dict, with its path."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numbers(value, f"{path}/{key}")
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool):
        yield path, tree


def test_every_experiment_fills_metrics_and_report_and_a_rerun_reuses_features(trained_run):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, "-m", "wsl_tf.cli.eval", f"--workdir={trained_run}", "--test_images=60",
               "--transfer_images=150", "--class_network_steps=10", "--transfer=fashion_mnist,categories",
               "--noprogress"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads(open(os.path.join(trained_run, "eval", "metrics.json")).read())
    prediction = metrics["word_prediction"]
    assert set(prediction["baselines"]) == {"word_frequency", "features_logistic_regression",
                                            "random_network_logistic_regression"}
    for values in (prediction, *prediction["baselines"].values()):
        assert all(0 <= values[f"precision_at_{k}"] <= 1 for k in (1, 5, 10))
    # The regressors fit on every train image with a dictionary word, as the model trains on all of them.
    data_dir = json.loads(open(os.path.join(trained_run, "config.json")).read())["data"]["dir"]
    examples = [tf.train.Example.FromString(serialized.numpy()) for path in records.shard_paths(data_dir, "train")
                for serialized in tf.data.TFRecordDataset(path)]
    with_word = sum(1 for e in examples if e.features.feature[records.WORD_IDS].int64_list.value)
    assert prediction["baselines"]["features_logistic_regression"]["train_images"] == with_word > 60
    fashion = metrics["transfer"]["fashion_mnist"]
    assert 0 < fashion["accuracy_mean"] <= 1 and fashion["accuracy_std"] >= 0
    assert fashion["zero_shot"]["classes"] == 5 and fashion["zero_shot"]["chance"] == 0.2  # dress coat shirt bag boot.
    categories = metrics["transfer"]["categories:test"]
    test_keys = [tf.train.Example.FromString(serialized.numpy()).features.feature[records.KEY].bytes_list.value[0]
                 for path in records.shard_paths(data_dir, "test") for serialized in tf.data.TFRecordDataset(path)]
    assert categories["images"] == len(test_keys) > 20 and 0 < categories["accuracy_mean"] <= 1
    # Folders "cats" and "dogs" name the dictionary's cat and dog: every test image is in a zero-shot class.
    assert categories["zero_shot"] | {"accuracy": 0} == {"accuracy": 0, "chance": 0.5, "classes": 2,
                                                         "classes_total": 2, "images": len(test_keys),
                                                         "class_words": ["cat", "dog"]}
    assert 0 <= categories["zero_shot"]["accuracy"] <= 1
    assert categories["description"] == (f"this run's own test images (never trained on): {len(test_keys)} images "
                                         f"each labelled by the folder its key files it under, not by its caption")
    assert fashion["description"] == ""
    assert metrics["analogy"]["questions"] == 2 and metrics["men"]["pairs"] == 3
    assert metrics["translation"]["en_fr"]["pairs"] == 4 and metrics["translation"]["en_fr"]["chance"] == 0.25
    for key in ("analogy", "men", "translation"):
        assert key in metrics["word2vec"] and key in metrics["word2vec_concatenated"]
    nan = [path for path, value in numbers(metrics) if math.isnan(value)]
    assert nan == []
    report = open(os.path.join(trained_run, "eval", "report.md")).read()
    assert "n/a" not in report and f"features of {with_word} training images" in report
    assert f"`categories:test`: {categories['description']}." in report
    for section in ("## Word prediction", "## Transfer learning", "## Word embeddings", "## Pictures"):
        assert section in report
    for picture in metrics["pictures"].values():
        assert f"]({picture})" in report
        assert open(os.path.join(trained_run, "eval", picture), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    cached = {name: os.path.getmtime(os.path.join(trained_run, "eval", "cache", name))
              for name in os.listdir(os.path.join(trained_run, "eval", "cache"))}
    assert set(cached) == {"fashion_mnist.npz", "categories_test.npz", "test_images_eval_view.npz"}
    again = subprocess.run(command[:3] + [f"--workdir={trained_run}", "--experiments=transfer,pictures",
                                          "--transfer_images=150", "--transfer=fashion_mnist,categories",
                                          "--noprogress"],
                           capture_output=True, text=True, env=env, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    assert {name: os.path.getmtime(os.path.join(trained_run, "eval", "cache", name)) for name in cached} == cached


def test_training_choices_change_only_the_loss_and_sampling_and_score_each_run(trained_run, tmp_path):
    from wsl_tf.dataset import PreparedDataset
    from wsl_tf.eval.report import markdown
    from wsl_tf.eval.run_evaluation import TRAINING_CHOICES, EvalOptions, training_choices
    from wsl_tf.run_directory import load_trained_run

    run = load_trained_run(trained_run)
    options = EvalOptions(test_images=60, choice_epochs=1, choice_epoch_size=32)
    section = training_choices(run.config, PreparedDataset(run.config.data.dir), options, str(tmp_path))
    assert list(section["runs"]) == list(TRAINING_CHOICES)
    original = run.config.to_dict()
    for name, (loss, sampler, labels) in TRAINING_CHOICES.items():
        scores = section["runs"][name]
        assert all(0 <= scores[f"precision_at_{k}"] <= 1 for k in (1, 5, 10)) and scores["images"] > 0
        directory = tmp_path / "choices" / name.replace(", ", "_").replace(" ", "_").replace("-", "_")
        variant = json.loads((directory / "config.json").read_text())
        changed = {f"{section_name}.{key}" for section_name, values in original.items() if isinstance(values, dict)
                   for key, value in values.items() if variant[section_name][key] != value}
        changed |= {key for key, value in original.items() if not isinstance(value, dict) and variant[key] != value}
        assert changed <= {"loss", "input.sampler", "input.labels", "train.max_epochs", "train.epoch_size",
                           "train.export", "schedule.min_epochs_per_lr"}
        assert (variant["loss"], variant["input"]["sampler"], variant["input"]["labels"]) == (loss, sampler, labels)
        assert json.loads((directory / "summary.json").read_text())["step"] == 2  # 32 images of 16: same budget.
    report = markdown({"run": trained_run, "checkpoint": "c", "num_words": 20, "training_choices": section})
    assert "## Loss and sampling at equal budget" in report and report.count("| one-vs-all") == 2


class _Split:
    """A dataset stand-in: one test shard of the given keys, and a fingerprint naming the source."""

    def __init__(self, directory, keys, source):
        self.metadata = {"fingerprint": {"source": {"name": source}}}
        self.path = str(directory / f"{source}-test.tfrecord")
        with tf.io.TFRecordWriter(self.path) as writer:
            for key in keys:
                example = tf.train.Example(features=tf.train.Features(feature={
                    records.KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode()])),
                    records.IMAGE: tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode() + b"-jpeg"])),
                    records.WORD_IDS: tf.train.Feature(int64_list=tf.train.Int64List(value=[0]))}))
                writer.write(example.SerializeToString())

    def shards(self, split):
        assert split == "test"
        return [self.path]


def test_categories_read_the_subject_folder_below_a_combined_sources_name(tmp_path):
    from wsl_tf.eval.run_evaluation import EvalOptions, Resources, _labelled_set

    keys = [f"openclipart/animals/a{i}" for i in range(5)] + [f"tuxpaint/food/fruit/f{i}" for i in range(6)]
    combined = _labelled_set("categories", _Split(tmp_path, keys, "combined"), Resources(), EvalOptions())
    assert combined.name == "categories:test" and combined.classes == ["animals", "food"]
    assert combined.labels.tolist() == [0] * 5 + [1] * 6 and combined.images[0] == b"openclipart/animals/a0-jpeg"
    # One source: its keys start with the subject folder.
    single = _labelled_set("categories:test", _Split(tmp_path, [k.split("/", 1)[1] for k in keys], "tuxpaint"),
                           Resources(), EvalOptions())
    assert single.classes == ["animals", "food"]
    with pytest.raises(ValueError, match="'categories:tset': categories takes a split of the run's dataset"):
        _labelled_set("categories:tset", _Split(tmp_path, keys, "combined"), Resources(), EvalOptions())
