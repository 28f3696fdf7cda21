"""wsl-eval's experiments on the shared run: every section of metrics.json (strict JSON) and report.md against
references read independently; missing corpora, a dataset without a test split, the training-choices sweep."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import RUN_WORDS
from tests.helpers import image_bytes, prepare_jsonl_dataset, write_small_corpora
from wsl_tf import records
from wsl_tf.eval import linear, transfer
from wsl_tf.eval import training_choices as sweeps
from wsl_tf.eval.run_evaluation import (
    EXPERIMENTS,
    FeatureCache,
    Resources,
    ResourceUnavailable,
    _labelled_set,
    evaluate_run,
    transfer_cache_name,
)
from wsl_tf.input import preprocessing
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.precision import PRIOR_WEIGHTS
from wsl_tf.run_directory import restore_run

SMALL = dict(test_images=60, transfer_images=150, class_network_steps=10, word2vec_epochs=2)


def settings(experiments, transfer=(), **more) -> dict:
    """Eval settings over the run's config for a small evaluation of these experiments and labelled sets."""
    return {**SMALL, "experiments": tuple(experiments), "transfer": tuple(transfer), **more}


def strict_json(path: str):
    """The file parsed as strict JSON: NaN, Infinity and -Infinity are refused, as JSON.parse refuses them."""

    def refuse(constant):
        raise ValueError(f"{path}: {constant} is not JSON")

    return json.loads(open(path).read(), parse_constant=refuse)


def split_records(dataset_dir: str, split: str) -> list[tuple[str, bytes, list[int]]]:
    """(key, image, word ids) of each record of the split, read straight from its shards."""
    found = []
    for path in records.shard_paths(dataset_dir, split):
        for serialized in tf.data.TFRecordDataset(path):
            feature = tf.train.Example.FromString(serialized.numpy()).features.feature
            found.append(
                (
                    feature[records.KEY].bytes_list.value[0].decode(),
                    feature[records.IMAGE].bytes_list.value[0],
                    list(feature[records.WORD_IDS].int64_list.value),
                )
            )
    return found


def precision(scores: np.ndarray, labels: list[list[int]], k: int) -> float:
    """precision@k by brute force over the images with a word."""
    return float(
        np.mean([len(set(np.argsort(-s, kind="stable")[:k]) & set(ids)) / k for s, ids in zip(scores, labels) if ids])
    )


@pytest.fixture(scope="module")
def evaluated(tiny_run, tmp_path_factory):
    """The four section experiments on the shared run, with the corpora as small files in their formats."""
    corpora = write_small_corpora(tmp_path_factory.mktemp("corpora"))
    said = []
    metrics = evaluate_run(
        tiny_run.workdir,
        settings(("word_prediction", "transfer", "embeddings", "pictures"), ("fashion_mnist", "categories")),
        Resources(**corpora),
        progress=False,
        log=said.append,
    )
    return metrics, corpora, said


def test_word_prediction_is_the_models_precision_beside_its_baselines(tiny_run, evaluated):
    prediction = evaluated[0]["word_prediction"]
    test = split_records(tiny_run.dataset, "test")
    model = restore_run(tiny_run.workdir).model
    pixels = tf.stack([preprocessing.preprocess(image, 64, 64) for _, image, _ in test])
    raw = model(pixels, training=False).numpy()
    # The headline ranks naturally: raw scores + the prior weight the trainer chose x the log word frequency.
    assert prediction["prior_weight"] == pytest.approx(float(model.prior_weight.numpy()))
    scores = raw + prediction["prior_weight"] * PreparedDataset(tiny_run.dataset).log_word_prior(len(RUN_WORDS))
    labels = [ids for _, _, ids in test]
    assert prediction["split"] == "test" and prediction["images"] == sum(1 for ids in labels if ids)
    for k in (1, 5, 10):
        assert prediction[f"precision_at_{k}"] == pytest.approx(precision(scores, labels, k), abs=1e-6)
        assert prediction["raw"][f"precision_at_{k}"] == pytest.approx(precision(raw, labels, k), abs=1e-6)
        assert prediction["ceiling"][f"precision_at_{k}"] == pytest.approx(
            np.mean([min(k, len(ids)) / k for ids in labels if ids])
        )
    counts = np.zeros(len(RUN_WORDS))
    for _, _, ids in split_records(tiny_run.dataset, "train"):
        counts[ids] += 1
    frequency = np.tile(counts, (len(test), 1))
    for k in (1, 5, 10):
        assert prediction["baselines"]["word_frequency"][f"precision_at_{k}"] == pytest.approx(
            precision(frequency, labels, k), abs=1e-6
        )
    # The regressors fit on every train image with a dictionary word, as the model trains on all of them.
    with_word = sum(1 for _, _, ids in split_records(tiny_run.dataset, "train") if ids)
    for name in ("features_logistic_regression", "random_network_logistic_regression"):
        assert prediction["baselines"][name]["train_images"] == with_word
        assert prediction["baselines"][name]["prior_adjusted"]["prior_weight"] in PRIOR_WEIGHTS
    assert prediction["baselines"]["features_logistic_regression"]["class_labels_from"] == "fashion_mnist"


def test_every_row_of_the_word_prediction_table_is_scored_on_the_same_first_images(tiny_run, tmp_path):
    """37 test images: not a multiple of the evaluation's batch, so a reader stopping at a batch boundary differs."""
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    prediction = evaluate_run(
        str(workdir), settings(("word_prediction",), test_images=37), Resources(), progress=False, log=lambda *_: None
    )["word_prediction"]
    first = split_records(tiny_run.dataset, "test")[:37]
    expected = sum(1 for _, _, ids in first if ids)
    assert len(split_records(tiny_run.dataset, "test")) > 37
    rows = {
        "model": prediction["images"],
        "word_frequency": prediction["baselines"]["word_frequency"]["images"],
        "random_network": prediction["baselines"]["random_network_logistic_regression"]["images"],
    }
    assert rows == {name: expected for name in rows}


def test_an_evaluation_of_other_experiments_keeps_the_earlier_sections_of_the_same_checkpoint(tiny_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    quiet = dict(progress=False, log=lambda *_: None)
    first = evaluate_run(str(workdir), settings(("word_prediction",), test_images=20), Resources(), **quiet)
    second = evaluate_run(str(workdir), settings(("pictures",), map_images=20), Resources(), **quiet)
    assert second["word_prediction"] == first["word_prediction"] and "pictures" in second
    assert second["kept"] == ["word_prediction"] and second["experiments"] == ["word_prediction", "pictures"]
    assert set(second["seconds"]) == {"word_prediction", "pictures"}
    assert list(second["settings"]["experiments"]) == ["pictures"]  # This evaluation's own settings.
    written = strict_json(str(workdir / "eval" / "metrics.json"))
    assert written["word_prediction"] == json.loads(json.dumps(first["word_prediction"]))
    report = (workdir / "eval" / "report.md").read_text()
    assert "Kept from an earlier evaluation of this checkpoint" in report and "precision@1" in report
    # An earlier evaluation of another checkpoint is not kept.
    written["checkpoint"] = "elsewhere/ckpt-1"
    (workdir / "eval" / "metrics.json").write_text(json.dumps(written))
    third = evaluate_run(str(workdir), settings(("pictures",), map_images=20), Resources(), **quiet)
    assert "word_prediction" not in third and third["kept"] == [] and third["experiments"] == ["pictures"]


def test_transfer_is_the_linear_classifier_and_zero_shot_on_the_cached_features(tiny_run, evaluated):
    metrics, corpora, _ = evaluated
    cache = os.path.join(tiny_run.workdir, "eval", "cache")
    fashion = np.load(os.path.join(cache, "fashion_mnist.npz"))
    labelled = transfer.fashion_mnist(corpora["fashion_mnist"], SMALL["transfer_images"])
    assert fashion["embedding"].shape == (120, 512)
    expected = linear.linear_accuracy(fashion["embedding"], labelled.labels, progress=False)
    assert {k: metrics["transfer"]["fashion_mnist"][k] for k in expected} == expected
    # Each floor on the same splits: raw pixels (the transfer view flattened, on as many principal components as
    # the model has features, recomputed here) and the random network; the class-label network was trained on
    # these images' labels, so it is no floor here.
    floors = metrics["transfer"]["fashion_mnist"]["floors"]
    pixels = np.concatenate([b.numpy().reshape(len(b), -1) for b in transfer.pixel_batches(labelled.images, 64)])
    assert floors["raw_pixels"] == linear.linear_accuracy(
        linear.principal_components(pixels, 512), labelled.labels, progress=False
    )
    assert floors["class_label_network"] == {
        "unavailable": "the class-label network was trained on these images' labels: not a floor here"
    }
    for name in ("raw_pixels", "random_network"):
        assert metrics["transfer"]["fashion_mnist"]["margin_sd"][name] == pytest.approx(
            linear.margin_in_sd(metrics["transfer"]["fashion_mnist"], floors[name])
        )
    assert set(metrics["transfer"]["categories:test"]["floors"]) == {
        "raw_pixels",
        "random_network",
        "class_label_network",
    }
    # dress, coat, shirt, bag and boot are dictionary words: zero-shot over those five.
    assert metrics["transfer"]["fashion_mnist"]["zero_shot"]["class_words"] == ["dress", "coat", "shirt", "bag", "boot"]
    categories = metrics["transfer"]["categories:test"]
    test = split_records(tiny_run.dataset, "test")
    folders = np.array([key.split("/")[0] for key, _, _ in test])
    assert categories["images"] == len(test) and categories["description"].startswith(
        f"this run's own test images (never trained on): {len(test)} images"
    )
    # Zero-shot by brute force: each image's folder is the one whose word (cat for cats/, dog for dogs/) scores more.
    scores = np.load(os.path.join(cache, "categories_test.npz"))["scores"]
    words = restore_run(tiny_run.workdir).words
    cat, dog = words.index("cat"), words.index("dog")
    guessed = np.where(scores[:, cat] > scores[:, dog], "cats", "dogs")
    assert categories["zero_shot"] == {
        "accuracy": pytest.approx(float(np.mean(guessed == folders))),
        "chance": 0.5,
        "classes": 2,
        "classes_total": 2,
        "images": len(test),
        "class_words": ["cat", "dog"],
    }


def test_embeddings_cover_the_small_word_lists_exactly(evaluated):
    metrics = evaluated[0]["embeddings"]
    # Two analogy questions of four dictionary words (boy girl brother sister is not covered); three MEN
    # pairs (zebra is no word); four FreeDict pairs each way, cat-chat and sea-mer given in both files.
    assert (metrics["analogy"]["questions"], metrics["analogy"]["coverage"]) == (2, pytest.approx(2 / 3))
    assert (metrics["men"]["pairs"], metrics["men"]["coverage"]) == (3, 0.75)
    assert metrics["translation"]["en_fr"]["pairs"] == 4 and metrics["translation"]["en_fr"]["chance"] == 0.25
    for key in ("analogy", "men", "translation"):
        assert key in metrics["word2vec"] and key in metrics["word2vec_concatenated"]


def test_metrics_are_strict_json_and_the_report_shows_every_section(tiny_run, evaluated):
    metrics = strict_json(os.path.join(tiny_run.workdir, "eval", "metrics.json"))
    pictures, grid = metrics["pictures"]["files"], metrics["pictures"]["prediction_grid"]
    assert metrics["split"] == "test" and set(pictures) == {"predictions", "top_images", "image_map", "word_map"}
    assert grid["shown"] == 12  # Drawn among the test images with a word.
    assert 0 <= grid["right"] <= 12
    assert (
        f"{grid['right']} of the 12 images (drawn by a fixed seed among the held-out images with a dictionary word)"
    ) in open(os.path.join(tiny_run.workdir, "eval", "report.md")).read()
    report = open(os.path.join(tiny_run.workdir, "eval", "report.md")).read()
    assert "Not run" not in report and "n/a" not in report
    with_word = metrics["word_prediction"]["baselines"]["features_logistic_regression"]["train_images"]
    assert f"features of {with_word} training images" in report
    categories = metrics["transfer"]["categories:test"]
    assert f"`categories:test`: {categories['description']}." in report
    for section in (
        "## Word prediction (section 4.1, test split)",
        "## Transfer learning",
        "## Word embeddings",
        "## Pictures",
    ):
        assert section in report
    ceiling = metrics["word_prediction"]["ceiling"]
    assert (
        "| ceiling (every word right) | " + " | ".join(f"{ceiling[f'precision_at_{k}']:.3f}" for k in (1, 5, 10))
        in report
    )
    assert "| labelled set | this model | raw pixels | random network | class-label network |" in report
    assert "`categories:test`: the best features are " in report
    for picture in pictures.values():
        assert f"]({picture})" in report
        assert open(os.path.join(tiny_run.workdir, "eval", picture), "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_a_rerun_reuses_the_cached_features(tiny_run, evaluated):
    cache = os.path.join(tiny_run.workdir, "eval", "cache")
    stamps = {name: os.path.getmtime(os.path.join(cache, name)) for name in os.listdir(cache)}
    # This model's features of each set, the floor networks' (the class-label one was trained on Fashion-MNIST,
    # so it is no floor there), and the held-out images' for the pictures.
    assert set(stamps) == {
        "fashion_mnist.npz",
        "fashion_mnist__random_network.npz",
        "categories_test.npz",
        "categories_test__random_network.npz",
        "categories_test__class_label_network.npz",
        "test_images_eval_view.npz",
    }
    # Rerun on the set with every floor (Fashion-MNIST's features are cached the same way, by the same code).
    evaluate_run(
        tiny_run.workdir,
        settings(("transfer", "pictures"), ("categories",)),
        Resources(**evaluated[1]),
        progress=False,
        log=lambda *_: None,
    )
    assert {name: os.path.getmtime(os.path.join(cache, name)) for name in stamps} == stamps


def test_a_corpus_that_cannot_be_had_is_one_line_and_the_rest_runs(tiny_run, tmp_path):
    """No registry: only what the chosen experiments need is asked for (a folder's transfer needs Fashion-MNIST
    only for the class-label floor); each missing corpus is one line."""
    for folder in ("red", "blue"):
        for i in range(6):
            (tmp_path / "pets" / folder).mkdir(parents=True, exist_ok=True)
            (tmp_path / "pets" / folder / f"{i}.png").write_bytes(
                image_bytes(40, 40, fmt="PNG", seed=i + (folder == "red") * 10)
            )
    asked = []

    def no_registry(name):
        asked.append(name)
        raise RuntimeError("apt-get download dataset-fashion-mnist (is Debian's registry reachable?) failed")

    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    metrics = evaluate_run(
        workdir,
        settings(("transfer",), (f"folder:{tmp_path / 'pets'}",)),
        Resources(fetch=no_registry),
        progress=False,
        log=lambda *_: None,
    )
    assert asked == ["fashion_mnist"] and 0 <= metrics["transfer"]["folder:pets"]["accuracy_mean"] <= 1
    pets = metrics["transfer"]["folder:pets"]
    assert set(pets["floors"]) == {"raw_pixels", "random_network", "class_label_network"}
    assert pets["floors"]["class_label_network"]["unavailable"].startswith("fashion_mnist could not be had")
    assert set(pets["margin_sd"]) == {"raw_pixels", "random_network"}
    asked.clear()
    metrics = evaluate_run(
        workdir,
        settings(("word_prediction", "transfer", "embeddings"), (f"folder:{tmp_path / 'pets'}", "fashion_mnist")),
        Resources(fetch=no_registry),
        progress=False,
        log=lambda *_: None,
    )
    assert sorted(asked) == ["analogies", "fashion_mnist", "freedict", "men"]  # Each asked for once.
    reason = "could not be had: apt-get download dataset-fashion-mnist (is Debian's registry reachable?) failed"
    assert metrics["transfer"]["fashion_mnist"] == {"unavailable": f"fashion_mnist {reason}"}
    assert metrics["word_prediction"]["baselines"]["features_logistic_regression"] == {
        "unavailable": f"fashion_mnist {reason}"
    }
    assert 0 <= metrics["word_prediction"]["precision_at_1"] <= 1  # The model and the other baselines ran.
    assert "precision_at_1" in metrics["word_prediction"]["baselines"]["random_network_logistic_regression"]
    for key, corpus in (("analogy", "analogies"), ("men", "men"), ("translation", "freedict")):
        assert metrics["embeddings"][key] == {"unavailable": f"{corpus} {reason}"}
    report = open(os.path.join(workdir, "eval", "report.md")).read()
    assert f"`fashion_mnist`: not run: fashion_mnist {reason}." in report
    assert f"`features logistic regression`: not run: fashion_mnist {reason}." in report
    assert "analogies: not run: analogies could not be had" in report and "| folder:pets | 0." in report
    strict_json(os.path.join(workdir, "eval", "metrics.json"))


def test_without_a_test_split_the_held_out_figures_are_on_val_and_say_so(tiny_run, tmp_path):
    """The shared run's model on a dataset prepared with --test_fraction=0 and the run's dictionary."""
    dataset = prepare_jsonl_dataset(
        tmp_path,
        60,
        RUN_WORDS,
        image_px=64,
        vocab_size=len(RUN_WORDS),
        num_stopwords=0,
        image_size=64,
        num_shards=1,
        val_fraction=0.3,
        test_fraction=0.0,
        vocab_path=os.path.join(tiny_run.workdir, "vocab.tsv"),
    )
    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    config = json.loads(open(os.path.join(workdir, "config.json")).read())
    config["data"]["dir"] = dataset
    open(os.path.join(workdir, "config.json"), "w").write(json.dumps(config))
    said = []
    metrics = evaluate_run(
        workdir,
        settings(("word_prediction",)),
        Resources(**write_small_corpora(tmp_path / "c")),
        progress=False,
        log=said.append,
    )
    assert metrics["split"] == "val" and metrics["word_prediction"]["split"] == "val"
    val = split_records(dataset, "val")
    assert metrics["word_prediction"]["images"] == sum(1 for _, _, ids in val if ids) > 0
    assert (
        f"{dataset} has no test split (prepared with --test_fraction=0): the held-out figures are on its val "
        f"split" in said
    )
    report = open(os.path.join(workdir, "eval", "report.md")).read()
    assert "## Word prediction (section 4.1, val split: the dataset has no test split)" in report


def test_the_training_choices_experiment_gets_the_run_and_is_reported(tiny_run, tmp_path, monkeypatch):
    """Its sweep replaced by one that records its call (the real one: tests/eval/test_training_choices.py)."""
    from wsl_tf.eval import run_evaluation
    from wsl_tf.eval import training_choices as sweeps
    from wsl_tf.eval.report import markdown

    calls = []

    def sweep(config, dataset, out_dir, split, settings, log, labelled, fits, progress):
        calls.append((config.model.num_words, split, out_dir))
        assert labelled is None  # No emoji in this dataset: the choices get no transfer column, said in the log.
        assert isinstance(fits, linear.FitPool)  # The evaluation's own pool fits its transfer column.
        assert progress is False  # evaluate_run(progress=False): the runs' epoch bars stay off too.
        return lambda: {
            "epochs": 1,
            "epoch_size": 32,
            "split": split,
            "runs": {"multi-class, natural": {"precision_at_1": 0.5, "precision_at_5": 0.25, "precision_at_10": 0.125}},
        }

    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    monkeypatch.setattr(run_evaluation, "run_choices", sweep)
    metrics = evaluate_run(workdir, settings(("training_choices",)), Resources(), progress=False, log=lambda *_: None)
    assert calls == [(len(RUN_WORDS), "test", os.path.join(workdir, "eval"))]
    assert "| multi-class, natural | 0.500 | 0.250 | 0.125 |" in markdown(metrics)
    assert set(sweeps.TRAINING_CHOICES) == {
        "multi-class, uniform per word",
        "multi-class, natural",
        "one-vs-all, uniform per word",
        "one-vs-all, natural",
    }


def test_the_main_process_goes_on_while_an_experiments_pool_work_finishes(tiny_run, tmp_path, monkeypatch):
    """begin() runs before the first experiment; experiments run in RUN_ORDER; a result given as a function is
    called after the last one ran, its waiting counted in that experiment's seconds; the sections are written in
    the registry's order; evaluation_seconds spans the whole evaluation."""
    from wsl_tf.eval import report, run_evaluation

    events = []

    def begin(context):
        events.append("begin embeddings")
        context.begun["embeddings"] = context.fits.call(sum, [1, 2])

    def choices(context):
        events.append("run training_choices")
        fit = context.fits.call(sum, [3, 4])
        return lambda: events.append("finish training_choices") or {"fitted": fit.result()}

    def embeddings(context):
        events.append("run embeddings")
        return {"begun": context.begun.pop("embeddings").result()}

    monkeypatch.setattr(report, "markdown", lambda metrics: "sections of fake experiments\n")
    monkeypatch.setitem(
        run_evaluation.REGISTRY, "training_choices", run_evaluation.Experiment("training_choices", "t", choices)
    )
    monkeypatch.setitem(
        run_evaluation.REGISTRY, "embeddings", run_evaluation.Experiment("embeddings", "e", embeddings, begin=begin)
    )
    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    metrics = evaluate_run(
        workdir, settings(("embeddings", "training_choices")), Resources(), progress=False, log=lambda *_: None
    )
    assert events == ["begin embeddings", "run training_choices", "run embeddings", "finish training_choices"]
    assert sorted(run_evaluation.RUN_ORDER) == sorted(EXPERIMENTS)  # Every experiment runs, once.
    assert [key for key in metrics if key in EXPERIMENTS] == ["embeddings", "training_choices"]  # The registry's.
    assert metrics["training_choices"] == {"fitted": 7} and metrics["embeddings"] == {"begun": 3}
    assert list(metrics["seconds"]) == ["embeddings", "training_choices"]
    assert metrics["evaluation_seconds"] >= sum(metrics["seconds"].values()) - 0.2
    assert strict_json(os.path.join(workdir, "eval", "metrics.json"))["training_choices"] == {"fitted": 7}


def test_training_captions_are_each_train_images_words_as_its_record_holds_them(tiny_run):
    from wsl_tf.eval.run_evaluation import training_captions

    words = list(RUN_WORDS[:5])  # Ids past these are dropped; images with fewer than two ids are left out.
    records_ids = [ids for _, _, ids in split_records(tiny_run.dataset, "train")]
    expected = [[words[i] for i in ids if i < len(words)] for ids in records_ids if len(ids) > 1]
    got = training_captions(PreparedDataset(tiny_run.dataset), words)
    assert got == expected and len(got) > 50 and any(len(c) < 2 for c in got)


class _Split:
    """A dataset stand-in: one test shard of the given keys, and a fingerprint naming the source."""

    def __init__(self, directory, keys, source):
        self.metadata = {"fingerprint": {"source": {"name": source}}, "images": {"test": len(keys)}}
        self.path = str(directory / f"{source}-test.tfrecord")
        with tf.io.TFRecordWriter(self.path) as writer:
            for key in keys:
                example = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            records.KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[key.encode()])),
                            records.IMAGE: tf.train.Feature(
                                bytes_list=tf.train.BytesList(value=[key.encode() + b"-jpeg"])
                            ),
                            records.WORD_IDS: tf.train.Feature(int64_list=tf.train.Int64List(value=[0])),
                        }
                    )
                )
                writer.write(example.SerializeToString())

    def shards(self, split):
        assert split == "test"
        return [self.path]


def test_categories_read_the_subject_folder_below_a_combined_sources_name(tmp_path):
    keys = [f"openclipart/animals/a{i}" for i in range(5)] + [f"tuxpaint/food/fruit/f{i}" for i in range(6)]
    combined = _labelled_set("categories", _Split(tmp_path, keys, "combined"), Resources(), 2000)
    assert combined.name == "categories:test" and combined.classes == ["animals", "food"]
    assert combined.labels.tolist() == [0] * 5 + [1] * 6 and combined.images[0] == b"openclipart/animals/a0-jpeg"
    # One source: its keys start with the subject folder.
    single = _labelled_set(
        "categories:test", _Split(tmp_path, [k.split("/", 1)[1] for k in keys], "tuxpaint"), Resources(), 2000
    )
    assert single.classes == ["animals", "food"]
    with pytest.raises(ValueError, match="'categories:tset': categories takes a split of the run's dataset"):
        _labelled_set("categories:tset", _Split(tmp_path, keys, "combined"), Resources(), 2000)


def test_emoji_subgroups_label_the_emoji_images_of_a_combined_split(tmp_path):
    keys = (
        [f"emoji/animals-nature/animal-mammal/noto/1F43{i}" for i in range(5)]
        + [f"emoji/food-drink/food-fruit/twemoji/1F34{i}" for i in range(6)]
        + [f"openclipart/animals/cat_{i}" for i in range(7)]
    )
    labelled = _labelled_set("emoji_subgroups", _Split(tmp_path, keys, "combined"), Resources(), 2000)
    assert labelled.name == "emoji_subgroups:test" and labelled.classes == ["animal-mammal", "food-fruit"]
    assert labelled.labels.tolist() == [0] * 5 + [1] * 6  # Open Clip Art's drawings are not emoji: left out.
    alone = _labelled_set(
        "emoji_subgroups", _Split(tmp_path, [k.split("/", 1)[1] for k in keys[:11]], "emoji"), Resources(), 2000
    )
    assert alone.classes == ["animal-mammal", "food-fruit"]


def test_resources_fetch_once_and_name_what_failed():
    asked = []

    def fetch(name):
        asked.append(name)
        if name == "men":
            raise OSError("disk gone\nsecond line")
        return f"/cache/{name}"

    resources = Resources(analogies="/given", fetch=fetch)
    assert resources.path("analogies") == "/given" and resources.path("freedict") == "/cache/freedict"
    assert resources.path("freedict") == "/cache/freedict" and asked == ["freedict"]
    with pytest.raises(ResourceUnavailable, match=r"^men could not be had: disk gone$"):
        resources.path("men")
    with pytest.raises(ResourceUnavailable, match="fashion_mnist: no path given and nothing to fetch it with"):
        Resources().path("fashion_mnist")


@pytest.mark.slow
@pytest.mark.network
def test_wsl_eval_with_the_real_corpora(tiny_run, tmp_path):
    """The installed command, fetching the real word lists and Fashion-MNIST: every section holds numbers."""
    workdir = str(tmp_path / "run")
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    # The demo's setting: replicas on 2 logical CPUs, which a fresh process must split before TensorFlow starts.
    config = json.loads(open(os.path.join(workdir, "config.json")).read())
    config["train"].update({"devices": [], "logical_cpus": 2})
    open(os.path.join(workdir, "config.json"), "w").write(json.dumps(config))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [
        sys.executable,
        "-m",
        "wsl_tf.cli.eval",
        f"--workdir={workdir}",
        "--test_images=60",
        "--transfer_images=150",
        "--class_network_steps=10",
        "--transfer=fashion_mnist,categories",
        f"--experiments={','.join(EXPERIMENTS)}",
        "--choice_epochs=1",
        "--choice_epoch_size=32",
        "--choice_learning_rate=0.02",
        "--choice_transfer=categories",
        "--noprogress",
    ]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    # Each choice trained on the run's 2 replicas: 32 images in global batches of 2 x 8, 2 steps (1 replica: 4).
    for name in sweeps.TRAINING_CHOICES:
        summary = json.loads(
            open(
                os.path.join(sweeps.choice_directory(os.path.join(workdir, "eval"), name, 1, 32, 0.02), "summary.json")
            ).read()
        )
        assert summary["step"] == 2, (name, summary["step"])
    metrics = strict_json(os.path.join(workdir, "eval", "metrics.json"))
    assert metrics["transfer"]["fashion_mnist"]["images"] == 150
    embedded = metrics["embeddings"]
    assert (embedded["analogy"]["questions"], embedded["men"]["pairs"], embedded["translation"]["en_fr"]["pairs"]) == (
        2,
        3,
        4,
    )
    assert set(metrics["seconds"]) == set(EXPERIMENTS) and all(s > 0 for s in metrics["seconds"].values())
    report = open(os.path.join(workdir, "eval", "report.md")).read()
    assert "Not run" not in report and "n/a" not in report


def test_the_search_experiment_embeds_the_held_out_split_and_writes_a_gallery_per_word(tiny_run, tmp_path):
    import re

    from wsl_tf import collection

    workdir = tmp_path / "run"
    shutil.copytree(tiny_run.workdir, workdir, ignore=shutil.ignore_patterns("eval"))
    metrics = evaluate_run(
        str(workdir),
        settings(("search",), grid_words=("dog", "zebra", "sea")),
        Resources(),
        progress=False,
        log=lambda *_: None,
    )
    section = metrics["search"]
    split = PreparedDataset(tiny_run.dataset).metadata["images"]["test"]
    assert (section["images"], section["bad_images"]) == (split, 0)
    assert section["galleries"] == {"dog": "search/dog.html", "sea": "search/sea.html"}  # zebra: not a word here.
    index = collection.load_index(str(workdir / "eval" / section["index"]))
    signatures = tf.saved_model.load(str(workdir / "export" / "saved_model")).signatures
    vectors = signatures["word_vectors"](words=tf.constant(["dog"]))
    scores = index.embeddings @ vectors["vectors"].numpy()[0] + vectors["biases"].numpy()[0]
    best = [index.keys[r] for r in np.argsort(-scores, kind="stable")[:12]]
    page = (workdir / "eval" / "search" / "dog.html").read_text()
    shown = re.findall(r"<b>\d+\.</b> ([^<]+)<br>", page)
    assert shown == best and len(re.findall(r'src="data:image/jpeg;base64,', page)) == 12
    report = (workdir / "eval" / "report.md").read_text()
    assert "## Collection search" in report and "[dog](search/dog.html)" in report


def test_the_feature_cache_returns_only_its_own_checkpoints_arrays_and_recomputes_anothers(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"embedding": np.arange(6, dtype=np.float32).reshape(2, 3) + len(calls)}

    name = transfer_cache_name("emoji_subgroups:test", "random_network")
    assert name == "emoji_subgroups_test__random_network" and transfer_cache_name("fashion_mnist") == "fashion_mnist"
    first = FeatureCache(str(tmp_path), "ckpt-8")
    assert first.read(name) is None
    saved = first.get(name, compute)
    np.testing.assert_array_equal(first.read(name)["embedding"], saved["embedding"])
    np.testing.assert_array_equal(first.get(name, compute)["embedding"], saved["embedding"])
    assert len(calls) == 1
    later = FeatureCache(str(tmp_path), "ckpt-16")
    assert later.read(name) is None
    assert later.get(name, compute)["embedding"][0, 0] == 2.0 and len(calls) == 2
