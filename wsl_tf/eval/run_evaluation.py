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
- training_choices: the paper's two choices, multi-class vs one-vs-all loss
  and uniform-per-word vs natural sampling, as short runs of the run's own
  config at equal budget from the same seed (RUN/eval/choices/), each scored
  by precision@1/5/10 on the test split.

Features are cached in RUN/eval/cache/ per checkpoint, so a rerun reuses them.
"""

import dataclasses
import io
import itertools
import json
import os

import numpy as np
import tensorflow as tf

from wsl_tf import fileio, records
from wsl_tf.dataset import PreparedDataset
from wsl_tf.eval import baselines, embeddings, pictures, transfer
from wsl_tf.eval.word_prediction import evaluate, frequency_scores, model_scores
from wsl_tf.run_directory import load_trained_run

EXPERIMENTS = ("word_prediction", "transfer", "embeddings", "pictures", "training_choices")
# name: (loss, sampler, labels).
TRAINING_CHOICES = {
    "multi-class, uniform per word": ("softmax", "uniform_per_word", "sampled_word"),
    "multi-class, natural": ("softmax", "natural", "all_words"),
    "one-vs-all, uniform per word": ("one_vs_all", "uniform_per_word", "all_words"),
    "one-vs-all, natural": ("one_vs_all", "natural", "all_words"),
}


@dataclasses.dataclass
class Resources:
    """Where the labelled sets and word lists are (wsl-fetch-data's corpora by default)."""

    fashion_mnist: str | None = None
    analogies: str | None = None
    men: str | None = None
    freedict: str | None = None

    @classmethod
    def fetched(cls, log=print) -> "Resources":
        """The corpora wsl-fetch-data caches, fetching those missing."""
        from data_tools import corpora

        return cls(**{name: corpora.fetch(name, log=log) for name in ("fashion_mnist", "analogies", "men", "freedict")})


@dataclasses.dataclass
class EvalOptions:
    test_images: int = 2000  # Test-split images for word prediction and pictures' features.
    # Train images the per-word regressors fit on: all of a small set, as the model trains on all of it (a
    # baseline fitted on fewer images than the model saw understates it); capped for memory on a large one.
    baseline_train_images: int = 20_000
    class_network_steps: int = 300  # Steps of the class-label network on the baseline's labelled set.
    map_images: int = 300  # Test images in the t-SNE map.
    map_words: int = 150  # Most frequent words in the word map.
    grid_words: tuple = ()  # Words for the top-images grid (default: the 6 most frequent).
    word2vec_epochs: int = 20
    transfer_max_images: int = 2000
    choice_epochs: int = 4  # training_choices: epochs of each short run ...
    choice_epoch_size: int = 4096  # ... of this many images.
    progress: bool = True


class FeatureCache:
    """Arrays saved under RUN/eval/cache/NAME.npz with the checkpoint they came from; stale ones recomputed."""

    def __init__(self, directory: str, checkpoint: str):
        self.directory, self.checkpoint = directory, checkpoint
        os.makedirs(directory, exist_ok=True)

    def get(self, name: str, compute) -> dict:
        path = os.path.join(self.directory, f"{name}.npz")
        if os.path.exists(path):
            with np.load(path, allow_pickle=False) as data:
                if str(data["checkpoint"]) == self.checkpoint:
                    return {k: data[k] for k in data.files if k != "checkpoint"}
        arrays = compute()
        buffer = io.BytesIO()
        np.savez(buffer, checkpoint=np.array(self.checkpoint), **arrays)
        fileio.write_bytes_atomic(path, buffer.getvalue())
        return arrays


def _labelled_set(spec: str, dataset: PreparedDataset, resources: Resources,
                  options: EvalOptions) -> transfer.LabelledSet:
    kind, _, path = spec.partition(":")
    if kind == "categories":
        split = path or "test"
        if split not in records.SPLITS:
            raise ValueError(f"--transfer: {spec!r}: categories takes a split of the run's dataset, "
                             f"one of {', '.join(records.SPLITS)}")
        keyed = ((key, image) for key, image, _ in _split_records(dataset, split))
        # A combined source's keys start with the source's name (data_tools/sources/combined.py).
        source = dataset.metadata.get("fingerprint", {}).get("source", {}).get("name")
        labelled = transfer.key_categories(keyed, f"categories:{split}", depth=int(source == "combined"),
                                           max_images=options.transfer_max_images)
        labelled.description = f"this run's own {split} images (never trained on): {labelled.description}"
        return labelled
    if kind == "fashion_mnist":
        return transfer.fashion_mnist(path or resources.fashion_mnist, options.transfer_max_images)
    if kind == "folder":
        return transfer.image_folder(path, max_per_class=options.transfer_max_images)
    if kind == "voc2007":
        return transfer.voc2007(path, options.transfer_max_images)
    raise ValueError(f"--transfer: {spec!r}: expected fashion_mnist, categories[:SPLIT], folder:PATH or voc2007:PATH")


def _split_records(dataset: PreparedDataset, split: str):
    """(key, encoded image, word ids) of each record of a split, in shard order, read straight from the shards."""
    for path in dataset.shards(split):
        for serialized in tf.data.TFRecordDataset(path):
            feature = tf.train.Example.FromString(serialized.numpy()).features.feature
            yield (feature[records.KEY].bytes_list.value[0].decode("utf-8"), feature[records.IMAGE].bytes_list.value[0],
                   list(feature[records.WORD_IDS].int64_list.value))


def word_prediction(model, config, dataset, resources, options, log) -> dict:
    num_words, ks = config.model.num_words, (1, 5, 10)
    test = dict(dataset=dataset, input_config=config.input, num_words=num_words, split="test",
                batch_size=config.eval.batch_size, max_images=options.test_images, ks=ks)
    result = evaluate(model_scores(model), **test)
    keys = [f"precision_at_{k}" for k in ks]
    report = {k: result[k] for k in keys} | {"images": result["images"], "baselines": {}}
    frequency = evaluate(frequency_scores(dataset, num_words), **test)
    report["baselines"]["word_frequency"] = {k: frequency[k] for k in keys}
    log("word prediction: training the class-label network for the regression baseline")
    labelled = transfer.fashion_mnist(resources.fashion_mnist, options.transfer_max_images)
    networks = {"features_logistic_regression": baselines.train_class_network(
                    config.model, labelled, options.class_network_steps, progress=options.progress),
                "random_network_logistic_regression": baselines.class_network(config.model, len(labelled.classes))}
    for name, network in networks.items():
        parts = [baselines.split_features(network, dataset, config.input, num_words, split, limit)
                 for split, limit in (("train", options.baseline_train_images), ("val", options.test_images),
                                      ("test", options.test_images))]
        scores = baselines.regressor_scores(*parts, progress=options.progress)
        report["baselines"][name] = {f"precision_at_{k}": baselines.dense_precision_at_k(scores, parts[2][1], k)
                                     for k in ks} | {"train_images": len(parts[0][0])}
    report["baselines"]["features_logistic_regression"]["class_labels_from"] = labelled.name
    return report


def transfer_learning(model, config, words, dataset, specs, resources, options, cache) -> dict:
    size = config.model.image_size
    report = {}
    for spec in specs:
        labelled = _labelled_set(spec, dataset, resources, options)
        arrays = cache.get(labelled.name.replace(":", "_"), lambda: transfer.extract(
            model, labelled.images, size, outputs=("embedding", "scores"), progress=options.progress,
            desc=f"features {labelled.name}"))
        if labelled.multi_label:
            entry = transfer.voc_map(arrays["embedding"], labelled.labels, labelled.split, labelled.classes,
                                     progress=options.progress)
        else:
            entry = transfer.linear_accuracy(arrays["embedding"], labelled.labels, progress=options.progress)
        entry["zero_shot"] = transfer.zero_shot(arrays["scores"], words, labelled)
        entry["description"] = labelled.description
        report[labelled.name] = entry
    return report


def _word_lists(resources: Resources) -> dict:
    """The analogy questions, MEN pairs and FreeDict pairs, read once for every set of embeddings."""
    en_fr, fr_en = embeddings.freedict_pairs(resources.freedict)
    return {"analogies": embeddings.read_analogies(resources.analogies),
            "men": embeddings.read_similarity_pairs(resources.men), "en_fr": en_fr, "fr_en": fr_en}


def _embedding_scores(vectors: embeddings.WordEmbeddings, lists: dict) -> dict:
    pairs = embeddings.translation_pairs(vectors, lists["en_fr"], lists["fr_en"])
    return {"analogy": embeddings.analogy_accuracy(vectors, lists["analogies"]),
            "men": embeddings.similarity_correlation(vectors, lists["men"]),
            "translation": embeddings.translation_precision(vectors, pairs)}


def train_word2vec(dataset: PreparedDataset, words: list[str], epochs: int, seed: int = 0):
    """word2vec (gensim, skip-gram) on the training captions' dictionary words, as the records store them.

    The records keep each image's distinct words, not their order, so every
    pair of words of an image is a context pair (window = longest caption).
    """
    from gensim.models import Word2Vec

    sentences = [[words[i] for i in ids if i < len(words)] for _, _, ids in _split_records(dataset, "train")
                 if len(ids) > 1]
    window = max((len(s) for s in sentences), default=2)
    model = Word2Vec(sentences, vector_size=100, window=window, min_count=1, sg=1, epochs=epochs, seed=seed,
                     workers=1)
    known = [w for w in words if w in model.wv]
    return embeddings.WordEmbeddings(known, np.stack([model.wv[w] for w in known]) if known else np.zeros((0, 100)))


def word_embeddings(model, config, words, dataset, resources, options) -> tuple[dict, dict]:
    lists = _word_lists(resources)
    rows = embeddings.WordEmbeddings(words[: config.model.num_words], model.head.kernel.numpy())
    ours = _embedding_scores(rows, lists)
    word2vec = train_word2vec(dataset, words[: config.model.num_words], options.word2vec_epochs)
    both = rows.concatenate(word2vec)
    return ours, {"word2vec": _embedding_scores(word2vec, lists), "concatenated": _embedding_scores(both, lists)}


def draw_pictures(model, config, words, dataset, options, out_dir, cache) -> dict:
    test = list(itertools.islice(_split_records(dataset, "test"), options.map_images))
    images = [image for _, image, _ in test]
    # Scored as word prediction scores them (resize, centre crop): the model's own view of a test image.
    arrays = cache.get("test_images_eval_view", lambda: transfer.extract(
        model, images, config.model.image_size, outputs=("embedding", "scores"), progress=options.progress,
        desc="features test images", crop_from=config.input.resize_size))
    num_words = config.model.num_words
    frequent = list(range(min(options.map_words, num_words)))
    index = {w: i for i, w in enumerate(words[:num_words])}
    grid = [index[w] for w in options.grid_words if w in index] or frequent[:6]
    return {
        "image_map": pictures.image_map(arrays["embedding"], images, os.path.join(out_dir, "image_map.png")),
        "word_map": pictures.word_map(model.head.kernel.numpy()[frequent], [words[i] for i in frequent],
                                      os.path.join(out_dir, "word_map.png")),
        "top_images": pictures.top_images_grid(arrays["scores"], images, words, grid,
                                               os.path.join(out_dir, "top_images.png")),
        "predictions": pictures.prediction_grid(arrays["scores"], images,
                                                [[i for i in ids if i < num_words] for _, _, ids in test], words,
                                                os.path.join(out_dir, "predictions.png")),
    }


def training_choices(config, dataset: PreparedDataset, options: EvalOptions, out_dir: str, log=print) -> dict:
    """{choice: {"precision_at_1/5/10", "images", "loss", "sampler", "labels"}} of the short runs.

    Each is the run's config with only the loss, sampler and labels changed,
    trained for choice_epochs x choice_epoch_size images from the same seed
    (the learning rate is not halved within them), in out_dir/choices/NAME; a
    finished one is reused.
    """
    from wsl_tf.train.trainer import train

    results = {}
    for name, (loss, sampler, labels) in TRAINING_CHOICES.items():
        variant = config.copy_and_resolve_references()
        variant.loss = loss
        variant.input.update({"sampler": sampler, "labels": labels})
        variant.train.update({"max_epochs": options.choice_epochs, "epoch_size": options.choice_epoch_size,
                              "export": False})
        variant.schedule.min_epochs_per_lr = options.choice_epochs + 1
        directory = os.path.join(out_dir, "choices", name.replace(", ", "_").replace(" ", "_").replace("-", "_"))
        log(f"training choice: {name} ({options.choice_epochs} x {options.choice_epoch_size} images)")
        train(variant, directory, dataset=dataset, log=lambda *_: None)
        model = load_trained_run(directory).model
        scores = evaluate(model_scores(model), dataset, config.input, config.model.num_words, "test",
                          config.eval.batch_size, options.test_images, ks=(1, 5, 10))
        results[name] = {**scores, "loss": loss, "sampler": sampler, "labels": labels}
    return {"epochs": options.choice_epochs, "epoch_size": options.choice_epoch_size, "runs": results}


def evaluate_run(workdir: str, experiments=EXPERIMENTS, transfer_specs=("fashion_mnist",),
                 resources: Resources | None = None, options: EvalOptions | None = None, log=print) -> dict:
    """Run the experiments on the run's centre model; write RUN/eval/{metrics.json, report.md, *.png}."""
    from wsl_tf.eval import report as report_lib

    unknown = [e for e in experiments if e not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"--experiments: unknown {', '.join(unknown)}; known: {', '.join(EXPERIMENTS)}")
    options = options or EvalOptions()
    run = load_trained_run(workdir)
    config, model, words, checkpoint = run.config, run.model, run.words, run.checkpoint
    data = json.loads(fileio.read_text(os.path.join(workdir, "data.json")))
    dataset = PreparedDataset(config.data.dir or data["dir"])
    resources = resources or Resources.fetched(log=log)
    out_dir = os.path.join(workdir, "eval")
    cache = FeatureCache(os.path.join(out_dir, "cache"), checkpoint)
    metrics = {"run": os.path.abspath(workdir), "checkpoint": checkpoint, "num_words": config.model.num_words,
               "experiments": list(experiments)}
    if "word_prediction" in experiments:
        log("word prediction (section 4.1)")
        metrics["word_prediction"] = word_prediction(model, config, dataset, resources, options, log)
    if "transfer" in experiments:
        log("transfer learning (section 4.2)")
        metrics["transfer"] = transfer_learning(model, config, words, dataset, transfer_specs, resources, options,
                                                cache)
    if "embeddings" in experiments:
        log("word embeddings (section 4.3)")
        ours, others = word_embeddings(model, config, words, dataset, resources, options)
        metrics.update(ours)
        metrics["word2vec"] = others["word2vec"]
        metrics["word2vec_concatenated"] = others["concatenated"]
    if "pictures" in experiments:
        log("pictures (figures 3, 4, 6)")
        metrics["pictures"] = {k: os.path.basename(v) for k, v in
                               draw_pictures(model, config, words, dataset, options, out_dir, cache).items()}
    if "training_choices" in experiments:
        log("training choices: loss and sampling at equal budget (section 3.1)")
        metrics["training_choices"] = training_choices(config, dataset, options, out_dir, log)
    fileio.write_text_atomic(os.path.join(out_dir, "metrics.json"), json.dumps(metrics, indent=2))
    fileio.write_text_atomic(os.path.join(out_dir, "report.md"), report_lib.markdown(metrics))
    return metrics
