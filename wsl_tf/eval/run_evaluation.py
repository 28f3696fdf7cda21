"""Every experiment of the paper's section 4 on one trained run, into RUN/eval/: metrics.json, report.md, PNGs.

`evaluate_run(workdir, ...)` loads the run's centre model (its latest
checkpoint) and runs the chosen experiments:

- word_prediction: precision@1/5/10 on the test split for the model and the
  baselines (word frequency; features + per-word logistic regressors on a
  network trained with class labels, and on a random network);
- transfer: linear classifiers on the model's features for each labelled set,
  and zero-shot classification through the word layer;
- embeddings: analogies, MEN, English-French translation on the word layer's
  rows, on word2vec trained on the same training captions, and on both;
- pictures: t-SNE maps of test images and of words, top images per word, a
  grid of test images with their predicted words;
- training_choices: the paper's two choices of loss and sampling as short
  runs at equal budget, trained by the project's trainer
  (wsl_tf/eval/training_choices.py).

Each is an `Experiment` of `REGISTRY` (a name, run(context) -> its results);
wsl-eval and wsl-demo both run them through `evaluate_run`. The work that
needs no TensorFlow (transfer's linear classifiers and raw-pixel floors,
word2vec and the word lists, drawing the pictures) runs in a pool
of processes beside the main one, which goes on to the next experiment
instead of waiting: an experiment may begin such work before the first
experiment runs, and finish its results after the last.

Everything the evaluation reads from outside the run comes in as arguments:
the labelled sets and word lists through `Resources` (paths, or a function
that fetches a corpus by name, called only for what the chosen experiments
need). A section whose corpus cannot be had says so in one line, in
metrics.json (`{"unavailable": ...}`) and report.md, and the others run. The
held-out split is the dataset's test split, or its val split (said so) when
it has no test images.

Features are cached in RUN/eval/cache/ per checkpoint, so a rerun reuses them.
"""

import concurrent.futures
import dataclasses
import io
import itertools
import os
import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from wsl_tf import fileio, records
from wsl_tf.errors import ConfigError, UserError
from wsl_tf.eval import baselines, class_network, embeddings, linear, pictures, transfer
from wsl_tf.eval.training_choices import run_choices
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.precision import (
    HeldOutBatches,
    mean_precision_at_k,
    natural_and_raw_scores,
    split_precision,
    split_precisions,
    word_ids,
)
from wsl_tf.run_directory import RunDirectory, read_config
from wsl_tf.train.training_run import split_cpu

CORPORA = ("fashion_mnist", "analogies", "men", "freedict")


class ResourceUnavailable(UserError, RuntimeError):
    """A corpus the evaluation needs cannot be had; the message says why in one line."""


@dataclasses.dataclass
class Resources:
    """Where the labelled sets and word lists are: a path per corpus, or `fetch(name) -> path` for the rest.

    fetch is called once per corpus, only when an experiment asks for it; it
    raises ResourceUnavailable (or any error, reported in one line) when the
    corpus cannot be had. wsl-eval passes wsl-fetch-data's fetcher.
    """

    fashion_mnist: str | None = None
    analogies: str | None = None
    men: str | None = None
    freedict: str | None = None
    fetch: Callable[[str], str] | None = None
    failed: dict = dataclasses.field(default_factory=dict)  # name -> ResourceUnavailable: not asked for twice.

    def path(self, name: str) -> str:
        """The corpus's path, fetched if need be; ResourceUnavailable naming it otherwise."""
        given = getattr(self, name)
        if given:
            return given
        if self.fetch is None:
            raise ResourceUnavailable(f"{name}: no path given and nothing to fetch it with")
        if name not in self.failed:
            try:
                setattr(self, name, self.fetch(name))
                return getattr(self, name)
            except ResourceUnavailable as error:
                self.failed[name] = error
            except Exception as error:  # noqa: BLE001 (a fetcher fails in its own ways: report it in one line)
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                self.failed[name] = ResourceUnavailable(f"{name} could not be had: {reason}")
        raise self.failed[name]


def unavailable(error: ResourceUnavailable) -> dict:
    """What a section (or part of one) holds when its corpus could not be had."""
    return {"unavailable": str(error)}


def evaluation_split(dataset: PreparedDataset) -> str | None:
    """The held-out split evaluated on: test, or val when the dataset has no test image, or None."""
    for split in ("test", "val"):
        if dataset.metadata.get("images", {}).get(split, 0) > 0:
            return split
    return None


SETTINGS_HELP = "configs/paper.py's eval section"
# A labelled set's kind: the part of a --config.eval.transfer spec before its ':'.
TRANSFER_KINDS = ("fashion_mnist", "categories", "emoji_subgroups", "folder", "voc2007")
# Settings that count something, each with its least value.
_AT_LEAST = {
    "fit_processes": 0,
    "val_images": 1,
    "batch_size": 1,
    "test_images": 1,
    "baseline_train_images": 1,
    "class_network_steps": 1,
    "transfer_images": 10,
    "map_images": 2,
    "map_words": 2,
    "word2vec_epochs": 1,
    "choice_epochs": 1,
    "choice_epoch_size": 1,
    "choice_learning_rate": 0,
}


def settings_problems(settings) -> list[str]:
    """What is wrong with an eval section, one line per bad key (empty when it can run)."""
    problems = [
        f"eval.{key}={settings[key]}: must be >= {least}" for key, least in _AT_LEAST.items() if settings[key] < least
    ]
    unknown = [e for e in settings.experiments if e not in REGISTRY]
    if unknown:
        problems.append(f"eval.experiments: unknown {', '.join(unknown)}; known: {', '.join(REGISTRY)}")
    specs = [("eval.transfer", spec) for spec in settings.transfer]
    specs += [("eval.choice_transfer", settings.choice_transfer)] if settings.choice_transfer else []
    for key, spec in specs:
        kind, _, path = spec.partition(":")
        if kind not in TRANSFER_KINDS or (kind in ("folder", "voc2007") and not path):
            problems.append(
                f"{key}: {spec!r}: expected fashion_mnist, categories[:SPLIT], emoji_subgroups[:SPLIT], "
                f"folder:PATH or voc2007:PATH"
            )
    return problems


def eval_settings(run_config, overrides: dict | None = None):
    """The evaluation's settings (a ConfigDict): the run's config.eval, overrides applied, checked.

    A key the run's config lacks (a run written before it existed) takes
    configs/paper.py's value, which owns every default. ConfigError naming
    every unknown or bad key at once.
    """
    from wsl_tf.configs import paper

    settings = paper.get_config().eval
    given = dict(run_config.eval) if "eval" in run_config else {}
    problems = [
        f"eval.{key}: no such setting (see {SETTINGS_HELP})" for key in (overrides or {}) if key not in settings
    ]
    for key, value in {**given, **(overrides or {})}.items():
        if key in settings:
            try:
                settings[key] = tuple(value) if isinstance(settings[key], tuple) else value
            except (TypeError, ValueError) as error:
                problems.append(f"eval.{key}={value!r}: {error}")
    problems += settings_problems(settings)
    if problems:
        raise ConfigError("; ".join(problems))
    return settings


class FeatureCache:
    """Arrays saved under RUN/eval/cache/NAME.npz with the checkpoint they came from; stale ones recomputed."""

    def __init__(self, directory: str, checkpoint: str):
        self.directory, self.checkpoint = directory, checkpoint
        tf.io.gfile.makedirs(directory)
        fileio.remove_stale_temporaries(directory)

    def path(self, name: str) -> str:
        return os.path.join(self.directory, f"{name}.npz")

    def read(self, name: str) -> dict | None:
        """The arrays saved under `name` from this checkpoint, or None (none saved, or another checkpoint's)."""
        if not tf.io.gfile.exists(self.path(name)):
            return None
        with np.load(io.BytesIO(fileio.read_bytes(self.path(name))), allow_pickle=False) as data:
            if str(data["checkpoint"]) != self.checkpoint:
                return None
            return {k: data[k] for k in data.files if k != "checkpoint"}

    def get(self, name: str, compute) -> dict:
        arrays = self.read(name)
        if arrays is not None:
            return arrays
        arrays = compute()
        buffer = io.BytesIO()
        np.savez(buffer, checkpoint=np.array(self.checkpoint), **arrays)
        fileio.write_bytes_atomic(self.path(name), buffer.getvalue())
        return arrays


def transfer_cache_name(labelled_name: str, floor: str | None = None) -> str:
    """The feature cache's name for a labelled set's features: the model's, or a floor network's."""
    stem = labelled_name.replace(":", "_")
    return stem if floor is None else f"{stem}__{floor}"


def _labelled_set(spec: str, dataset: PreparedDataset, resources: Resources, max_images: int) -> transfer.LabelledSet:
    kind, _, path = spec.partition(":")
    if kind in ("categories", "emoji_subgroups"):
        split = path or evaluation_split(dataset) or "test"
        if split not in records.SPLITS:
            raise ConfigError(
                f"--transfer: {spec!r}: {kind} takes a split of the run's dataset, one of {', '.join(records.SPLITS)}"
            )
        if kind == "categories":  # The first folder of a source's own key.
            keyed = ((_source_key(dataset, key)[1], image) for key, image, _ in _split_records(dataset, split))
            labelled = transfer.key_categories(keyed, f"categories:{split}", max_images=max_images)
        else:  # The emoji source's keys are GROUP/SUBGROUP/SET/HEX: the subgroup.
            keyed = (
                (source_key, image)
                for key, image, _ in _split_records(dataset, split)
                for source, source_key in [_source_key(dataset, key)]
                if source == "emoji"
            )
            labelled = transfer.key_categories(keyed, f"emoji_subgroups:{split}", depth=1, max_images=max_images)
        labelled.description = f"this run's own {split} images (never trained on): {labelled.description}"
        return labelled
    if kind == "fashion_mnist":
        return transfer.fashion_mnist(path or resources.path("fashion_mnist"), max_images)
    if kind == "folder":
        return transfer.image_folder(path, max_per_class=max_images)
    if kind == "voc2007":
        return transfer.voc2007(path, max_images)
    raise ConfigError(
        f"--transfer: {spec!r}: expected fashion_mnist, categories[:SPLIT], emoji_subgroups[:SPLIT], "
        f"folder:PATH or voc2007:PATH"
    )


def _source_key(dataset: PreparedDataset, key: str) -> tuple[str, str]:
    """(the source a record came from, its key in that source): a combined source's keys start with the
    source's name (data_tools/sources/combined.py)."""
    source = dataset.metadata.get("fingerprint", {}).get("source", {}).get("name", "")
    if source == "combined":
        name, _, rest = key.partition("/")
        return name, rest
    return source, key


def _split_records(dataset: PreparedDataset, split: str):
    """(key, encoded image, word ids) of each record of a split, in shard order, read straight from the shards."""
    for path in dataset.shards(split):
        for serialized in tf.data.TFRecordDataset(path):
            feature = tf.train.Example.FromString(serialized.numpy()).features.feature
            yield (
                feature[records.KEY].bytes_list.value[0].decode("utf-8"),
                feature[records.IMAGE].bytes_list.value[0],
                list(feature[records.WORD_IDS].int64_list.value),
            )


def prepare_devices(workdir: str) -> None:
    """Split the CPU into the run's logical devices, so that what evaluation trains (the class-label network,
    the training choices) trains on the run's replicas, as wsl-train did; call before TensorFlow starts its
    devices (restoring the run's model does), or that training refuses to start (train.logical_cpus cannot be
    applied)."""
    split_cpu(read_config(workdir).train.logical_cpus)


class FloorNetworks:
    """The floors' networks, built once per evaluation and only when asked for: the run's architecture randomly
    initialised (seeded), and the same trained with class labels on Fashion-MNIST by the project's trainer
    (wsl_tf/eval/class_network.py; the paper's ImageNet stand-in: no pretrained weights exist here), in
    RUN/eval/class_network/."""

    CLASS_LABELS = "fashion_mnist"

    def __init__(self, run_config, directory: RunDirectory, resources: Resources, settings, progress=True, log=print):
        self.run_config, self.directory, self.resources, self.settings, self.progress, self.log = (
            run_config,
            directory,
            resources,
            settings,
            progress,
            log,
        )
        self._random = self._class_label = None

    def embedding_dim(self) -> int:
        """The size of the architecture's features: what the raw-pixel floor is projected down to."""
        return self.random().embedding_dim

    def random(self):
        if self._random is None:  # Its features do not depend on the class count.
            self._random = baselines.random_network(self.run_config.model, len(transfer.FASHION_MNIST_CLASSES))
        return self._random

    def class_label(self):
        """The class-label network; ResourceUnavailable when Fashion-MNIST cannot be had."""
        if self._class_label is None:
            labelled = transfer.fashion_mnist(self.resources.path(self.CLASS_LABELS), self.settings.transfer_images)
            steps = self.settings.class_network_steps
            self.log(f"training the class-label network on Fashion-MNIST, {steps} steps (the floors' features)")
            self._class_label = class_network.class_label_network(
                self.run_config,
                labelled,
                self.directory.class_network(f"{self.CLASS_LABELS}_{len(labelled.images)}x{steps}"),
                steps,
                log=lambda *_: None,
                progress=self.progress,
            )
        return self._class_label


def word_prediction(model, config, dataset, split, floors: FloorNetworks, settings, progress, log) -> dict:
    """precision@1/5/10 of the model (natural ranking: raw scores + its prior weight x the log word frequency;
    and its raw scores), the word-frequency prior and the regression baselines (raw, and with a prior weight
    chosen on val as the trainer chooses the model's), all on the same held-out images."""
    num_words, ks = config.model.num_words, (1, 5, 10)
    held_out = dict(
        dataset=dataset,
        input_config=config.input,
        num_words=num_words,
        split=split,
        batch_size=config.eval.batch_size,
        max_images=settings.test_images,
        ks=ks,
    )
    # The held-out images, decoded once for the model, the prior and the regressors' features.
    held_out["batches"] = HeldOutBatches(dataset, split, config.input, config.eval.batch_size, settings.test_images)
    results = split_precisions(natural_and_raw_scores(model), **held_out)
    keys = [f"precision_at_{k}" for k in ks]
    natural, raw = results["natural"], results["raw"]
    report = {k: natural[k] for k in keys} | {
        "prior_weight": float(np.asarray(model.prior_weight)),
        "raw": {k: raw[k] for k in keys},
        "images": natural["images"],
        "split": split,
        "baselines": {},
        "ceiling": {f"precision_at_{k}": natural[f"ceiling_at_{k}"] for k in ks},
    }
    frequency = split_precision(baselines.frequency_scores(dataset, num_words), **held_out)
    report["baselines"]["word_frequency"] = {k: frequency[k] for k in keys} | {"images": frequency["images"]}
    log_prior = dataset.log_word_prior(num_words)
    networks = {}
    for name, network_of in (
        ("features_logistic_regression", floors.class_label),
        ("random_network_logistic_regression", floors.random),
    ):
        try:
            networks[name] = network_of()
        except ResourceUnavailable as error:
            report["baselines"][name] = unavailable(error)
            log(f"word prediction: the class-label baseline is left out: {error}")
    parts = [  # (features by network, labels) of train, val and the held-out split, each read once.
        baselines.split_features(networks, dataset, config.input, num_words, part, limit, batches=batches)
        for part, limit, batches in (
            ("train", settings.baseline_train_images, None),
            ("val", settings.test_images, None),
            (split, settings.test_images, held_out["batches"]),
        )
    ]
    test_labels = word_ids(parts[2][1])
    for name in networks:
        val_scores, scores = baselines.regressor_scores(
            *((features[name], labels) for features, labels in parts), progress=progress, with_val=True
        )
        weight = baselines.prior_weight_on_val(val_scores, parts[1][1], log_prior)
        report["baselines"][name] = {f"precision_at_{k}": mean_precision_at_k(scores, test_labels, k) for k in ks} | {
            "train_images": len(parts[0][1]),
            "images": int((test_labels >= 0).any(1).sum()),
        }
        report["baselines"][name]["prior_adjusted"] = {"prior_weight": weight} | {
            f"precision_at_{k}": mean_precision_at_k(scores + weight * log_prior, test_labels, k) for k in ks
        }
    if "train_images" in report["baselines"]["features_logistic_regression"]:
        report["baselines"]["features_logistic_regression"]["class_labels_from"] = FloorNetworks.CLASS_LABELS
    return report


FLOORS = ("raw_pixels", "random_network", "class_label_network")


def _pixels(labelled: transfer.LabelledSet, size: int) -> np.ndarray:
    """The labelled set's images as the model sees them in the transfer view, flattened: [N, size * size * 3]."""
    return np.concatenate(
        [batch.numpy().reshape(len(batch), -1) for batch in transfer.pixel_batches(labelled.images, size)]
    )


def _floor_features(
    name: str, labelled: transfer.LabelledSet, size: int, floors: FloorNetworks, progress, cache
) -> np.ndarray:
    """A floor's features of the labelled set's images, in the transfer view; ResourceUnavailable if none."""
    if name == "raw_pixels":  # The pixels as the model sees them, on as many principal components as it has features.
        return linear.principal_components(_pixels(labelled, size), floors.embedding_dim())
    if name == "class_label_network" and labelled.name == FloorNetworks.CLASS_LABELS:
        raise ResourceUnavailable("the class-label network was trained on these images' labels: not a floor here")
    network = floors.random() if name == "random_network" else floors.class_label()
    return cache.get(
        transfer_cache_name(labelled.name, name),
        lambda: transfer.extract(
            network, labelled.images, size, progress=progress, desc=f"{name} features {labelled.name}"
        ),
    )["embedding"]


def labelled_sets(specs, dataset: PreparedDataset, resources: Resources, max_images: int) -> dict:
    """{spec: its transfer.LabelledSet, or the ResourceUnavailable that leaves it out}."""
    sets = {}
    for spec in specs:
        try:
            sets[spec] = _labelled_set(spec, dataset, resources, max_images)
        except ResourceUnavailable as error:
            sets[spec] = error
    return sets


def begin_pixel_floors(sets: dict, size: int, dims: int, fits: linear.FitPool) -> dict:
    """{set name: the Future of its raw-pixel floor (linear.pixel_floor_accuracy on `dims` components)} of each
    single-label set of `sets`, handed to `fits`: no model takes part, so it runs from the evaluation's start,
    while word prediction leaves a core idle (its components took the main process about 2 s a set)."""
    return {
        labelled.name: fits.call(linear.pixel_floor_accuracy, _pixels(labelled, size), labelled.labels, dims)
        for labelled in sets.values()
        if isinstance(labelled, transfer.LabelledSet) and not labelled.multi_label
    }


def transfer_learning(
    model,
    config,
    words,
    sets: dict,
    floors: FloorNetworks,
    progress,
    cache,
    fits: linear.FitPool,
    pixel_floors: dict | None = None,
) -> dict:
    """Per labelled set (labelled_sets): the linear classifier on this model's features, and on each floor's (raw
    pixels, the random network, the class-label network) over the same splits and C search; zero-shot through the
    words.

    pixel_floors: begin_pixel_floors' Futures (a set without one computes its raw-pixel floor here). Returns a
    function giving that section: the single-label sets' classifiers are fitted in `fits`' processes while the
    next set's features are computed, and then while the next experiments run.
    """
    size = config.model.image_size
    pixel_floors = pixel_floors or {}
    sections = {}  # Name in the report -> its entry, or what makes it (results: figures or the pool's futures).
    for spec, labelled in sets.items():
        if isinstance(labelled, ResourceUnavailable):
            sections[spec] = unavailable(labelled)
            continue
        arrays = cache.get(
            transfer_cache_name(labelled.name),
            lambda labelled=labelled: transfer.extract(
                model,
                labelled.images,
                size,
                outputs=("embedding", "scores"),
                progress=progress,
                desc=f"features {labelled.name}",
            ),
        )
        features = {"end_to_end": arrays["embedding"]}
        begun = {"raw_pixels": pixel_floors[labelled.name]} if labelled.name in pixel_floors else {}
        entry_floors = {}
        for name in FLOORS:
            if name in begun:
                continue
            try:
                features[name] = _floor_features(name, labelled, size, floors, progress, cache)
            except ResourceUnavailable as error:
                entry_floors[name] = unavailable(error)
        if labelled.multi_label:
            results = {
                name: transfer.voc_map(x, labelled.labels, labelled.split, labelled.classes, progress=progress)
                for name, x in features.items()
            }
        else:
            results = {name: fits.submit(x, labelled.labels) for name, x in features.items()} | begun
        # Floors in FLOORS order, whichever began first.
        results = {name: results[name] for name in ("end_to_end", *FLOORS) if name in results}
        sections[labelled.name] = (labelled, arrays["scores"], results, entry_floors)
    return lambda: {
        name: section if isinstance(section, dict) else _transfer_entry(*section, words)
        for name, section in sections.items()
    }


def _transfer_entry(
    labelled: transfer.LabelledSet, scores: np.ndarray, results: dict, entry_floors: dict, words: list
) -> dict:
    """A labelled set's section: our features' figures, each floor's beside them, the best kind, zero-shot.
    results: each kind of features' figures, or the fit pool's futures of them (waited for here)."""
    results = {name: r.result() if isinstance(r, concurrent.futures.Future) else r for name, r in results.items()}
    if labelled.multi_label:
        best = max(results, key=lambda name: results[name]["map"] if results[name]["map"] is not None else -1)
    else:
        best = max(results, key=lambda name: results[name]["accuracy_mean"])
    entry = dict(results.pop("end_to_end"))
    entry["floors"] = {**results, **entry_floors}
    if not labelled.multi_label:
        entry["margin_sd"] = {name: linear.margin_in_sd(entry, values) for name, values in results.items()}
    entry["best"] = best
    entry["zero_shot"] = transfer.zero_shot(scores, words, labelled)
    entry["description"] = labelled.description
    return entry


def _begin_word_lists(resources: Resources, fits: linear.FitPool) -> tuple:
    """(the Future of embeddings.read_word_lists in `fits`, {list: ResourceUnavailable} of the lists whose corpus
    cannot be had); the corpora are found (or fetched) here."""
    paths, missing = {}, {}
    for corpus, keys in embeddings.WORD_LISTS.items():
        try:
            paths[corpus] = resources.path(corpus)
        except ResourceUnavailable as error:
            missing.update({key: error for key in keys})
    return fits.call(embeddings.read_word_lists, paths), missing


def _embedding_scores(vectors: embeddings.WordEmbeddings, lists: dict) -> dict:
    scores = {}
    if isinstance(lists["analogies"], ResourceUnavailable):
        scores["analogy"] = unavailable(lists["analogies"])
    else:
        scores["analogy"] = embeddings.analogy_accuracy(vectors, lists["analogies"])
    if isinstance(lists["men"], ResourceUnavailable):
        scores["men"] = unavailable(lists["men"])
    else:
        scores["men"] = embeddings.similarity_correlation(vectors, lists["men"])
    if isinstance(lists["en_fr"], ResourceUnavailable):
        scores["translation"] = unavailable(lists["en_fr"])
    else:
        pairs = embeddings.translation_pairs(vectors, lists["en_fr"], lists["fr_en"])
        scores["translation"] = embeddings.translation_precision(vectors, pairs)
        scores["translation"]["examples"] = embeddings.translation_examples(vectors, pairs)
    return scores


def training_captions(dataset: PreparedDataset, words: list[str]) -> list[list[str]]:
    """Each train image's dictionary words among `words`, as the records store them (images with two or more),
    parsed a thousand records at a time (one at a time in Python took 4 s on the demo's 19,714)."""
    spec = {records.WORD_IDS: records.features()[records.WORD_IDS]}
    parsed = tf.data.TFRecordDataset(dataset.shards("train")).batch(1024).map(lambda x: tf.io.parse_example(x, spec))
    return [
        [words[i] for i in ids if i < len(words)]
        for batch in parsed
        for ids in tf.RaggedTensor.from_sparse(batch[records.WORD_IDS]).to_list()
        if len(ids) > 1
    ]


def word_embeddings(model, config, words, lists: dict, word2vec: embeddings.WordEmbeddings) -> tuple[dict, dict]:
    """The scores of the model's word rows, of word2vec's vectors and of both concatenated on the word lists
    ({list: its items, or the ResourceUnavailable that left it out})."""
    rows = embeddings.WordEmbeddings(words[: config.model.num_words], model.head.kernel.numpy())
    ours = _embedding_scores(rows, lists)
    both = rows.concatenate(word2vec)
    return ours, {"word2vec": _embedding_scores(word2vec, lists), "concatenated": _embedding_scores(both, lists)}


def begin_pictures(model, config, words, dataset, split, settings, progress, cache, fits: linear.FitPool) -> dict:
    """{picture: the Future of its PNG bytes (the prediction grid's: (bytes, right, shown))}, drawn in `fits`
    (pictures.py needs no TensorFlow): the test images' features are taken here, the drawing (t-SNE, matplotlib,
    about 6 s) runs in the pool from the evaluation's start."""
    test = list(itertools.islice(_split_records(dataset, split), settings.map_images))
    images = [image for _, image, _ in test]
    # Scored as word prediction scores them (resize, centre crop): the model's own view of a test image.
    arrays = cache.get(
        f"{split}_images_eval_view",
        lambda: transfer.extract(
            model,
            images,
            config.model.image_size,
            outputs=("embedding", "scores"),
            progress=progress,
            desc=f"features {split} images",
            crop_from=config.input.resize_size,
        ),
    )
    num_words = config.model.num_words
    frequent = list(range(min(settings.map_words, num_words)))
    index = {w: i for i, w in enumerate(words[:num_words])}
    grid = [index[w] for w in settings.grid_words if w in index] or frequent[:6]
    # Ranked as word prediction ranks them (natural); a word's top images do not depend on its prior.
    natural = np.asarray(model.ranked(arrays["scores"], "natural"))
    own_words = [[i for i in ids if i < num_words] for _, _, ids in test]
    kernel = model.head.kernel.numpy()[frequent]
    return {
        "image_map": fits.call(pictures.image_map, arrays["embedding"], images),
        "word_map": fits.call(pictures.word_map, kernel, [words[i] for i in frequent]),
        "top_images": fits.call(pictures.top_images_grid, arrays["scores"], images, words, grid),
        "predictions": fits.call(pictures.prediction_grid, natural, images, own_words, words),
    }


def write_pictures(drawn: dict, out_dir: str) -> tuple[dict, dict]:
    """({picture: its PNG path}, {"right", "shown"}: how many of the prediction grid's seeded images have one of
    their own words among their top 5) of begin_pictures' drawings, written in out_dir."""
    files, counts = {}, {}
    for name, future in drawn.items():
        png = future.result()
        if name == "predictions":
            png, counts["right"], counts["shown"] = png
        files[name] = os.path.join(out_dir, f"{name}.png")
        fileio.write_bytes_atomic(files[name], png)
    return files, counts


# Images shown in each word's gallery of the search experiment.
GALLERY_IMAGES = 12


def collection_search(directory: RunDirectory, words, num_words: int, dataset, split, settings) -> dict:
    """The held-out split embedded by the run's export into RUN/eval/search/index (wsl_tf/collection.py, as
    wsl-embed writes it), and a gallery page per word of the top-images picture (settings.grid_words, or the six
    most frequent), as wsl-search writes it: {"index", "images", "bad_images", "galleries": {word: page}}."""
    from wsl_tf import collection, gallery

    saved_model = os.path.join(directory.export, "saved_model")
    if not tf.saved_model.contains_saved_model(saved_model):
        return {"unavailable": f"{directory.export}: no export (wsl-export writes one)"}
    signatures = tf.saved_model.load(saved_model).signatures
    out = os.path.join(directory.eval, "search")
    fileio.remove_tree(out)  # Another checkpoint's index would be refused: each evaluation embeds afresh.
    images = ((key, image) for key, image, _ in _split_records(dataset, split))
    index_dir = os.path.join(out, "index")
    manifest = collection.write_index(
        signatures, images, index_dir, collection.export_identity(directory.export), progress=False
    )
    index = collection.load_index(index_dir)
    known = set(words[:num_words])
    chosen = [w for w in settings.grid_words if w in known] or list(words[: min(6, num_words)])
    vectors = signatures["word_vectors"](words=tf.constant(chosen))
    galleries = {}
    for row, word in enumerate(chosen):
        hits = collection.search(
            index,
            index_dir,
            "words",
            vectors["vectors"].numpy()[row],
            float(vectors["biases"].numpy()[row]),
            GALLERY_IMAGES,
        )
        name = f"{word}.html"
        fileio.write_text_atomic(os.path.join(out, name), gallery.gallery_html(f"words: {word}", hits))
        galleries[word] = f"search/{name}"
    return {
        "index": "search/index",
        "images": manifest["images"],
        "bad_images": manifest["bad_images"],
        "galleries": galleries,
    }


def _choice_transfer_set(dataset, resources, settings, log) -> transfer.LabelledSet | None:
    """The labelled set the training choices' features transfer to, or None (said in the log) without one."""
    if not settings.choice_transfer:
        return None
    try:
        return _labelled_set(settings.choice_transfer, dataset, resources, settings.transfer_images)
    except (ValueError, ResourceUnavailable) as error:
        log(f"training choices: no transfer column ({error})")
        return None


@dataclasses.dataclass
class Context:
    """What every experiment reads: the restored run, its dataset and held-out split, the corpora, the floors'
    networks, the feature cache, the settings and the log."""

    directory: RunDirectory
    config: object
    model: object
    words: list
    dataset: PreparedDataset
    split: str | None
    resources: Resources
    floors: FloorNetworks
    cache: FeatureCache
    settings: object  # The eval section (eval_settings).
    progress: bool
    log: Callable
    fits: linear.FitPool  # Where transfer's linear classifiers (and word2vec) run, beside this process.
    begun: dict = dataclasses.field(default_factory=dict)  # Experiment name -> the work its begin() handed to fits.


def _word_prediction(context: Context) -> dict:
    return word_prediction(
        context.model,
        context.config,
        context.dataset,
        context.split,
        context.floors,
        context.settings,
        context.progress,
        context.log,
    )


def _begin_transfer(context: Context) -> None:
    """The labelled sets, read, and their raw-pixel floors handed to the fit pool from the start."""
    settings = context.settings
    sets = labelled_sets(settings.transfer, context.dataset, context.resources, settings.transfer_images)
    size, dims = context.config.model.image_size, context.floors.embedding_dim()
    context.begun["transfer"] = (sets, begin_pixel_floors(sets, size, dims, context.fits))


def _transfer(context: Context) -> dict:
    sets, pixel_floors = context.begun.pop("transfer")
    return transfer_learning(
        context.model,
        context.config,
        context.words,
        sets,
        context.floors,
        context.progress,
        context.cache,
        context.fits,
        pixel_floors,
    )


def _begin_embeddings(context: Context) -> None:
    """word2vec on the training captions (one core, about 10 s) and the word lists, read in the fit pool from the
    start."""
    words = context.words[: context.config.model.num_words]
    word2vec = context.fits.call(
        embeddings.word2vec, training_captions(context.dataset, words), words, context.settings.word2vec_epochs
    )
    context.begun["embeddings"] = (word2vec, *_begin_word_lists(context.resources, context.fits))


def _embeddings(context: Context) -> dict:
    word2vec, lists, missing = context.begun.pop("embeddings")
    lists = {**lists.result(), **missing}
    ours, others = word_embeddings(context.model, context.config, context.words, lists, word2vec.result())
    return {**ours, "word2vec": others["word2vec"], "word2vec_concatenated": others["concatenated"]}


def _begin_pictures(context: Context) -> None:
    context.begun["pictures"] = begin_pictures(
        context.model,
        context.config,
        context.words,
        context.dataset,
        context.split,
        context.settings,
        context.progress,
        context.cache,
        context.fits,
    )


def _pictures(context: Context) -> dict:
    files, counts = write_pictures(context.begun.pop("pictures"), context.directory.eval)
    return {"files": {k: os.path.basename(v) for k, v in files.items()}, "prediction_grid": counts}


def _search(context: Context) -> dict:
    return collection_search(
        context.directory,
        context.words,
        context.config.model.num_words,
        context.dataset,
        context.split,
        context.settings,
    )


def _training_choices(context: Context) -> Callable[[], dict]:
    labelled = _choice_transfer_set(context.dataset, context.resources, context.settings, context.log)
    return run_choices(
        context.config,
        context.dataset,
        context.directory.eval,
        context.split,
        context.settings,
        context.log,
        labelled=labelled,
        fits=context.fits,
        progress=context.progress,
    )


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One section of the evaluation: its name in metrics.json and --experiments, what the log says when it
    starts, whether it needs held-out images, and run(context) -> its results (strict-JSON-able), or a function
    giving them, called once every experiment has run (what it waits for in the fit pool, the main process
    does not). begin(context), if any, runs before the first experiment: work handed to the fit pool early
    (context.begun), for run() to collect."""

    name: str
    title: str
    run: Callable[[Context], dict | Callable[[], dict]]
    needs_split: bool = True
    begin: Callable[[Context], None] | None = None


REGISTRY = {
    experiment.name: experiment
    for experiment in (
        Experiment("word_prediction", "word prediction (section 4.1)", _word_prediction),
        Experiment("transfer", "transfer learning (section 4.2)", _transfer, needs_split=False, begin=_begin_transfer),
        Experiment(
            "embeddings", "word embeddings (section 4.3)", _embeddings, needs_split=False, begin=_begin_embeddings
        ),
        Experiment("pictures", "pictures (figures 3, 4, 6)", _pictures, begin=_begin_pictures),
        Experiment(
            "search", "collection search: the held-out images embedded by the export, galleries by word", _search
        ),
        Experiment(
            "training_choices", "training choices: loss and sampling at equal budget (section 3.1)", _training_choices
        ),
    )
}
EXPERIMENTS = tuple(REGISTRY)
# The order they run in. The training choices' runs leave a core idle while each sets up, traces its step and
# validates; run right after transfer, the pool's work (transfer's classifiers, then the choices' own) fills those
# gaps, and the light experiments run last, beside the last fits.
RUN_ORDER = ("word_prediction", "transfer", "training_choices", "embeddings", "pictures", "search")


def evaluate_run(
    workdir: str, overrides: dict | None = None, resources: Resources | None = None, progress: bool = True, log=print
) -> dict:
    """Run the experiments of the run's eval settings on its centre model; write RUN/eval/{metrics.json,
    report.md, *.png}.

    overrides: eval settings for this evaluation ({"experiments": ("pictures",), "test_images": 500}), over the
    run's config.eval (eval_settings). resources: where the corpora are, or how to fetch them (none: sections
    needing a corpus say it is unavailable). Each experiment's results nest under its name in metrics.json, its
    wall seconds under "seconds" (docs/metrics.md); the sections of an earlier evaluation of the same
    checkpoint that this one does not rerun are kept.
    """
    from wsl_tf.eval import report as report_lib

    directory = RunDirectory(workdir)
    settings = eval_settings(directory.read_config(), overrides)
    experiments = settings.experiments
    run = directory.restore()
    dataset = PreparedDataset(run.config.data.dir or directory.read_data()["dir"])
    resources = resources or Resources()
    split = evaluation_split(dataset)
    directory.prepare_eval()  # Without what a killed evaluation left under temporary names.
    fits = linear.FitPool(settings.fit_processes)
    context = Context(
        directory,
        run.config,
        run.model,
        run.words,
        dataset,
        split,
        resources,
        FloorNetworks(run.config, directory, resources, settings, progress, log),
        FeatureCache(directory.eval_cache, run.checkpoint),
        settings,
        progress,
        log,
        fits,
    )
    metrics = _kept_sections(directory.read_metrics(), run.checkpoint, experiments)
    metrics.update(
        {
            "run": fileio.absolute(workdir),
            "checkpoint": run.checkpoint,
            "num_words": run.config.model.num_words,
            "split": split,
        }
    )
    metrics["experiments"] = [e for e in EXPERIMENTS if e in experiments or e in metrics]
    metrics["settings"] = settings.to_dict()
    if split is None:
        no_split = {
            "unavailable": f"{dataset.directory} has no test or val images to evaluate on (prepared with "
            f"--test_fraction=0 and --val_fraction=0?)"
        }
    elif split != "test":
        log(
            f"{dataset.directory} has no test split (prepared with --test_fraction=0): the held-out figures are "
            f"on its {split} split"
        )
    # Run in RUN_ORDER, whatever order they were asked in; written in the registry's.
    chosen = [REGISTRY[name] for name in RUN_ORDER if name in experiments]
    runnable = [e for e in chosen if split is not None or not e.needs_split]
    results, seconds, evaluation_started = {}, dict.fromkeys((e.name for e in chosen), 0.0), time.perf_counter()
    with fits:
        for experiment in runnable:
            if experiment.begin is not None:
                started = time.perf_counter()
                experiment.begin(context)
                seconds[experiment.name] += time.perf_counter() - started
        for experiment in chosen:
            log(experiment.title + (f" ({split or 'no'} split)" if experiment.needs_split else ""))
            started = time.perf_counter()
            results[experiment.name] = experiment.run(context) if experiment in runnable else no_split
            seconds[experiment.name] += time.perf_counter() - started
        for experiment in chosen:  # The results that waited for the pool.
            if callable(results[experiment.name]):
                started = time.perf_counter()
                results[experiment.name] = results[experiment.name]()
                seconds[experiment.name] += time.perf_counter() - started
    metrics.update({name: results[name] for name in EXPERIMENTS if name in results})
    metrics["seconds"].update({name: round(seconds[name], 1) for name in EXPERIMENTS if name in seconds})
    metrics["evaluation_seconds"] = round(time.perf_counter() - evaluation_started, 1)
    directory.write_metrics(metrics)
    directory.write_report(report_lib.markdown(metrics))
    return metrics


def _kept_sections(previous: dict | None, checkpoint: str, experiments) -> dict:
    """The sections (and their seconds) of an earlier metrics.json of the same checkpoint that this evaluation
    does not rerun, named under "kept" (computed with that evaluation's settings); nothing from another
    checkpoint's."""
    if not previous or previous.get("checkpoint") != checkpoint:
        return {"seconds": {}, "kept": []}
    kept = {name: previous[name] for name in EXPERIMENTS if name in previous and name not in experiments}
    seconds = {name: value for name, value in previous.get("seconds", {}).items() if name in kept}
    return {**kept, "seconds": seconds, "kept": sorted(kept)}
