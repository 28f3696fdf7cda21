"""The training-choices experiment: runs of a config with one choice changed, each scored on held-out images.

Evaluation sits above training: this experiment trains its runs with the
project's trainer (wsl_tf/train) and scores them as the other experiments
score a run. `training_choices` is the paper's two choices (section 3.1): multi-class vs
one-vs-all loss, and uniform-per-word vs natural sampling. Each is a short
run of the run's own config with only the loss, sampler and labels changed,
trained at equal budget from the same seed and at one learning rate
(eval.choice_learning_rate, or the run's own; it is not halved within the
run), in OUT_DIR/choices/EPOCHSxSIZE_lrRATE/NAME; a finished one is reused. Each is
scored on the held-out images under its natural ranking (raw scores plus its
prior weight, chosen on val by the trainer, times the log word frequency: a
run trained with a balanced objective needs it) and on its raw scores, and,
given a labelled set, by the transfer accuracy of its features (the paper's
claim for uniform sampling is about features). Each precision carries its
spread over the held-out images resampled with replacement, each accuracy
its spread over the splits; the sweep names the differences between choices
larger than twice theirs (resampled together, image by image) and the best
choice for word prediction and for transfer, beside the word-frequency prior
and chance.
"""

import itertools
import os
from collections.abc import Callable

import numpy as np

from wsl_tf.eval import linear, transfer
from wsl_tf.eval.baselines import frequency_scores
from wsl_tf.precision import HeldOutBatches, natural_and_raw_scores, split_precision, split_precisions
from wsl_tf.run_directory import RunDirectory, restore_run
from wsl_tf.train.trainer import train, val_batches

# name: (loss, sampler, labels).
TRAINING_CHOICES = {
    "multi-class, uniform per word": ("softmax", "uniform_per_word", "sampled_word"),
    "multi-class, natural": ("softmax", "natural", "all_words"),
    "one-vs-all, uniform per word": ("one_vs_all", "uniform_per_word", "all_words"),
    "one-vs-all, natural": ("one_vs_all", "natural", "all_words"),
}


def choice_directory(out_dir: str, name: str, epochs: int, epoch_size: int, learning_rate: float) -> str:
    """Where the run of choice `name` at a budget of epochs x epoch_size images and a learning rate lives:
    OUT_DIR/choices/4x4096_lr0.01/multi_class_uniform_per_word, ...; another budget or rate is another run."""
    return os.path.join(
        out_dir,
        RunDirectory.CHOICES,
        f"{epochs}x{epoch_size}_lr{learning_rate:g}",
        name.replace(", ", "_").replace(" ", "_").replace("-", "_"),
    )


def training_choices(*args, **kwargs) -> dict:
    """run_choices(...)'s results, waited for here."""
    return run_choices(*args, **kwargs)()


def run_choices(
    config,
    dataset,
    out_dir: str,
    split: str,
    settings,
    log=print,
    labelled=None,
    fits: linear.FitPool | None = None,
    progress: bool = True,
) -> Callable[[], dict]:
    """The choices' runs, trained and scored here; returns a function giving {"epochs", "epoch_size",
    "learning_rate", "split", "runs": {choice: {"precision_at_1/5/10", "spread_at_k", "prior_weight", "raw": {...},
    "transfer": {...}, ...}}, "differences", "best", "prior", "chance"} once their transfer fits are done, so that
    the caller may do other work meanwhile.

    settings: choice_epochs and choice_epoch_size (the budget of each run),
    choice_learning_rate (all four runs' learning rate; 0: the run's own) and
    test_images (how many `split` images score it): the eval settings (run_evaluation.eval_settings).
    labelled: a transfer.LabelledSet whose linear-classifier accuracy on each
    run's features goes beside its precision (None: none), fitted in `fits`
    (default: in this process) while the next run trains. progress: each
    run's epoch bars.
    """
    fits = fits or linear.FitPool(1)
    learning_rate = settings.choice_learning_rate or config.optimizer.learning_rate
    results, per_image, transfers = {}, {}, {}
    # The held-out images and the val images the trainer validates on, decoded once for the four runs (and the
    # prior).
    held_out = HeldOutBatches(dataset, split, config.input, config.eval.batch_size, settings.test_images)
    validation = val_batches(config, dataset)
    for name, (loss, sampler, labels) in TRAINING_CHOICES.items():
        variant = config.copy_and_resolve_references()
        variant.loss = loss
        variant.input.update({"sampler": sampler, "labels": labels})
        variant.optimizer.learning_rate = learning_rate
        # Checkpointed at each epoch's end only (a step count no epoch reaches): a killed run trains its epoch again.
        variant.train.update(
            {
                "max_epochs": settings.choice_epochs,
                "epoch_size": settings.choice_epoch_size,
                "checkpoint_every_steps": settings.choice_epoch_size,
                "export": False,
            }
        )
        variant.schedule.min_epochs_per_lr = settings.choice_epochs + 1
        directory = choice_directory(out_dir, name, settings.choice_epochs, settings.choice_epoch_size, learning_rate)
        log(
            f"training choice: {name} ({settings.choice_epochs} x {settings.choice_epoch_size} images, "
            f"learning rate {learning_rate:g})"
        )
        train(variant, directory, dataset=dataset, log=lambda *_: None, progress=progress, validation=validation)
        model = restore_run(directory).model
        scored = split_precisions(
            natural_and_raw_scores(model),
            dataset,
            config.input,
            config.model.num_words,
            split,
            config.eval.batch_size,
            settings.test_images,
            ks=KS,
            per_image=True,
            batches=held_out,
        )
        per_image[name] = scored["natural"].pop("per_image")
        raw = scored["raw"]
        raw.pop("per_image")
        results[name] = {
            **scored["natural"],
            "prior_weight": float(model.prior_weight.numpy()),
            "raw": {f"precision_at_{k}": raw[f"precision_at_{k}"] for k in KS},
            "loss": loss,
            "sampler": sampler,
            "labels": labels,
        }
        if labelled is not None:
            features = transfer.extract(model, labelled.images, config.model.image_size, progress=False)["embedding"]
            transfers[name] = fits.submit(features, labelled.labels)
    spreads, differences = compare(per_image)
    for name, spread in spreads.items():
        results[name].update(spread)
    num_words = config.model.num_words
    # At k = K the ceiling is the mean of n / K: what a random ranking scores at every precision@k on average.
    prior = split_precision(
        frequency_scores(dataset, num_words),
        dataset,
        config.input,
        num_words,
        split,
        config.eval.batch_size,
        settings.test_images,
        ks=(*KS, num_words),
        batches=held_out,
    )

    def finish() -> dict:
        for name, fit in transfers.items():
            results[name]["transfer"] = {
                "set": labelled.name,
                **{
                    key: value
                    for key, value in fit.result().items()
                    if key in ("accuracy_mean", "accuracy_std", "splits", "images")
                },
            }
        return {
            "epochs": settings.choice_epochs,
            "epoch_size": settings.choice_epoch_size,
            "learning_rate": learning_rate,
            "split": split,
            "runs": results,
            "resamples": RESAMPLES,
            "differences": differences,
            "best": best_choices(results),
            "prior": {f"precision_at_{k}": prior[f"precision_at_{k}"] for k in KS},
            "chance": prior[f"ceiling_at_{num_words}"],
        }

    return finish


def best_choices(results: dict) -> dict:
    """The best choice for word prediction (precision@10, natural ranking) and, where measured, for transfer
    (accuracy mean), each with its figure and spread."""
    best = {}
    prediction = max(results, key=lambda name: results[name]["precision_at_10"])
    best["word_prediction"] = {
        "choice": prediction,
        "precision_at_10": results[prediction]["precision_at_10"],
        "spread_at_10": results[prediction].get("spread_at_10"),
    }
    measured = [name for name in results if "transfer" in results[name]]
    if measured:
        name = max(measured, key=lambda n: results[n]["transfer"]["accuracy_mean"])
        best["transfer"] = {
            "choice": name,
            "set": results[name]["transfer"]["set"],
            "accuracy_mean": results[name]["transfer"]["accuracy_mean"],
            "accuracy_std": results[name]["transfer"]["accuracy_std"],
        }
    return best


KS = (1, 5, 10)
RESAMPLES = 1000


def compare(per_image: dict, resamples: int = RESAMPLES, seed: int = 0) -> tuple[dict, list]:
    """Spreads of each run's precision@k and the differences between runs larger than twice their spread.

    per_image: {run: {k: each held-out image's precision@k}}, the same
    images in the same order for every run. Images are resampled with
    replacement `resamples` times, the same draws for every run, so a
    difference's spread is that of the paired difference.
    Returns ({run: {"spread_at_k": std of its mean}}, [{"k", "better", "worse",
    "difference", "spread"}, ...] for |difference| > 2 spreads).
    """
    runs = list(per_image)
    count = len(per_image[runs[0]][KS[0]])
    draws = np.random.default_rng(seed).integers(0, count, size=(resamples, count))
    means = {run: {k: per_image[run][k][draws].mean(axis=1) for k in KS} for run in runs}
    spreads = {run: {f"spread_at_{k}": float(means[run][k].std()) for k in KS} for run in runs}
    differences = []
    for k in KS:
        for a, b in itertools.combinations(runs, 2):
            difference = float(per_image[a][k].mean() - per_image[b][k].mean())
            spread = float((means[a][k] - means[b][k]).std())
            if abs(difference) > 2 * spread:
                better, worse = (a, b) if difference > 0 else (b, a)
                differences.append(
                    {"k": k, "better": better, "worse": worse, "difference": abs(difference), "spread": spread}
                )
    return spreads, differences
