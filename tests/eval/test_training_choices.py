"""The training-choices sweep: four short runs that change only the loss and sampling, each scored."""

import json
import os

import numpy as np
import pytest

from wsl_tf.eval import linear, transfer
from wsl_tf.eval import training_choices as sweeps
from wsl_tf.eval.report import markdown
from wsl_tf.eval.run_evaluation import Resources, _labelled_set, _split_records, eval_settings
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.run_directory import restore_run


@pytest.mark.slow  # Trains runs of its own: kept out of the fast set's 4 minutes.
def test_training_choices_change_only_the_loss_and_sampling_and_score_each_run(tiny_run, tmp_path):
    """Its own four runs (the sweep trains them), from the shared run's config on one device."""
    run = restore_run(tiny_run.workdir)
    run.config.train.devices = ("/cpu:0",)
    settings = eval_settings(
        run.config, dict(test_images=60, choice_epochs=1, choice_epoch_size=32, choice_learning_rate=0.005)
    )
    dataset = PreparedDataset(run.config.data.dir)
    labelled = _labelled_set(
        "categories", dataset, Resources(), settings.transfer_images
    )  # Its test images: cats/, dogs/.
    section = sweeps.training_choices(
        run.config, dataset, str(tmp_path), "test", settings, log=lambda *_: None, labelled=labelled
    )
    assert list(section["runs"]) == list(sweeps.TRAINING_CHOICES) and section["split"] == "test"
    original = run.config.to_dict()
    for name, (loss, sampler, labels) in sweeps.TRAINING_CHOICES.items():
        scores = section["runs"][name]
        assert all(0 <= scores[f"precision_at_{k}"] <= 1 for k in (1, 5, 10)) and scores["images"] > 0
        assert all(0 <= scores["raw"][f"precision_at_{k}"] <= 1 for k in (1, 5, 10))
        model = restore_run(sweeps.choice_directory(str(tmp_path), name, 1, 32, 0.005)).model
        assert scores["prior_weight"] == float(model.prior_weight.numpy())
        # The transfer column: the linear classifier on this run's features of the labelled set.
        features = transfer.extract(model, labelled.images, run.config.model.image_size, progress=False)["embedding"]
        expected = linear.linear_accuracy(features, labelled.labels, progress=False)
        assert scores["transfer"]["accuracy_mean"] == pytest.approx(expected["accuracy_mean"])
        assert scores["transfer"]["set"] == "categories:test"
        directory = sweeps.choice_directory(str(tmp_path), name, 1, 32, 0.005)
        assert directory == os.path.join(
            str(tmp_path), "choices", "1x32_lr0.005", name.replace(", ", "_").replace(" ", "_").replace("-", "_")
        )
        variant = json.loads(open(os.path.join(directory, "config.json")).read())
        changed = {
            f"{section_name}.{key}"
            for section_name, values in original.items()
            if isinstance(values, dict)
            for key, value in values.items()
            if variant[section_name][key] != value
        }
        changed |= {key for key, value in original.items() if not isinstance(value, dict) and variant[key] != value}
        assert changed <= {
            "loss",
            "input.sampler",
            "input.labels",
            "train.max_epochs",
            "train.epoch_size",
            "train.checkpoint_every_steps",
            "train.export",
            "schedule.min_epochs_per_lr",
            "optimizer.learning_rate",
        }
        assert (variant["loss"], variant["input"]["sampler"], variant["input"]["labels"]) == (loss, sampler, labels)
        assert variant["optimizer"]["learning_rate"] == 0.005 == section["learning_rate"]
        # 32 images in batches of 8: the same 4 steps for every choice.
        assert json.loads(open(os.path.join(directory, "summary.json")).read())["step"] == 4
        assert not os.path.exists(os.path.join(directory, "export"))
        # Saved at the epoch's end only (the shared run's config saves every 2 steps).
        saved = [name for name in os.listdir(os.path.join(directory, "checkpoints")) if name.endswith(".index")]
        assert saved == ["ckpt-4.index"]
    assert section["resamples"] == 1000 and all(
        0 < section["runs"][name][f"spread_at_{k}"] < 0.5 for name in sweeps.TRAINING_CHOICES for k in (1, 5, 10)
    )
    report = markdown({"run": tiny_run.workdir, "checkpoint": "c", "num_words": 20, "training_choices": section})
    assert "## Loss and sampling at equal budget" in report and report.count("| one-vs-all") == 2
    assert "1 epochs of 32 images each at learning rate 0.005 from the same seed" in report
    assert " +/- " in report and ("does not rank them" in report or "larger than twice their spread" in report)
    best = section["best"]
    assert best["word_prediction"]["precision_at_10"] == max(v["precision_at_10"] for v in section["runs"].values())
    assert best["transfer"]["accuracy_mean"] == max(v["transfer"]["accuracy_mean"] for v in section["runs"].values())
    assert f"Best for word prediction: {best['word_prediction']['choice']}" in report
    assert f"Best for transfer: {best['transfer']['choice']}" in report
    # Chance: a random ranking's precision, the test images' mean word count over K.
    labels = [ids for _, _, ids in _split_records(dataset, "test")][:60]
    assert section["chance"] == pytest.approx(np.mean([len(ids) for ids in labels if ids]) / 20)
    # Beside the prior on the same images, which every run must leave before the table ranks anything.
    counts = PreparedDataset(run.config.data.dir).train_word_counts()
    assert 0 < section["prior"]["precision_at_1"] <= 1 and "| word-frequency prior |" in report
    lagging = {
        **section,
        "runs": {
            name: {**values, **{f"precision_at_{k}": 0.0 for k in (1, 5, 10)}}
            for name, values in section["runs"].items()
        },
    }
    said = "Not above the word-frequency prior at precision@10 by twice their spread at this budget: "
    assert said + ", ".join(sweeps.TRAINING_CHOICES) in markdown(
        {"run": "r", "checkpoint": "c", "num_words": len(counts), "training_choices": lagging}
    )
    # A hair above the prior (within twice the run's spread) is named; clear of it, not.
    first = next(iter(sweeps.TRAINING_CHOICES))
    prior_at_10 = section["prior"]["precision_at_10"]
    near = {
        **section,
        "runs": {
            name: {
                **values,
                "precision_at_10": prior_at_10
                + (values["spread_at_10"] if name == first else 3 * values["spread_at_10"]),
            }
            for name, values in section["runs"].items()
        },
    }
    assert f"{said}{first}." in markdown(
        {"run": "r", "checkpoint": "c", "num_words": len(counts), "training_choices": near}
    )


def test_spreads_are_the_standard_error_and_only_clear_differences_are_named():
    rng = np.random.default_rng(1)
    base = rng.random(400)
    per_image = {
        "a": {k: base for k in sweeps.KS},
        "same": {k: base.copy() for k in sweeps.KS},
        "better": {k: np.minimum(base + 0.2, 1.0) for k in sweeps.KS},
        "noisy": {k: np.clip(base + rng.normal(0, 0.3, 400), 0, 1) for k in sweeps.KS},
    }
    spreads, differences = sweeps.compare(per_image)
    standard_error = base.std() / np.sqrt(len(base))  # The resampled mean's spread, analytically.
    assert spreads["a"]["spread_at_1"] == pytest.approx(standard_error, rel=0.1)
    named = {(d["better"], d["worse"]) for d in differences if d["k"] == 1}
    assert ("better", "a") in named and ("better", "same") in named
    assert ("a", "same") not in named and ("same", "a") not in named  # Identical runs never differ.
    for d in differences:
        assert d["difference"] > 2 * d["spread"]
    gap = next(d for d in differences if (d["better"], d["worse"], d["k"]) == ("better", "a", 1))
    assert gap["difference"] == pytest.approx(np.minimum(base + 0.2, 1.0).mean() - base.mean())
