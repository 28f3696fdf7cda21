"""The class-label network: the run's architecture trained with class labels, by the project's trainer.

The paper's regression baseline and transfer floor use a network trained on
labelled images (ImageNet there; no pretrained weights exist here). This
one is trained on a labelled set (wsl-eval gives it Fashion-MNIST) as any
run is: the set is written once as a prepared dataset (one word per image,
its class; every tenth image in val, the rest in train), then `train` runs
the run's own config with the multi-class loss over every class each step
(`head.classes = "full"`), natural sampling and synchronous SGD, in
RUN/eval/class_network/. It resumes like any run, and a finished one is
restored instead of trained again.
"""

import io
import json
import os

import ml_collections
import numpy as np

from wsl_tf import fileio, records
from wsl_tf.eval.transfer import LabelledSet
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.input.index import TrainIndexBuilder
from wsl_tf.run_directory import RunDirectory
from wsl_tf.train.trainer import train
from wsl_tf.vocab import Vocabulary

# Every VAL_EVERY-th image of the labelled set is a val image: the trainer validates each epoch on them.
VAL_EVERY = 10
EPOCHS = 3
LEARNING_RATE = 0.01


def _encoded(image) -> bytes:
    """Encoded bytes as they are; a uint8 array ([H, W] grey or [H, W, C]) as a PNG."""
    if isinstance(image, bytes):
        return image
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_dataset(labelled: LabelledSet, directory: str) -> PreparedDataset:
    """The labelled set as a prepared dataset in `directory` (records.py's format), written once: a directory
    that already holds this set's dataset is opened as it is. Built under a temporary name, then renamed."""
    identity = {"labelled_set": labelled.name, "images": len(labelled.images), "classes": list(labelled.classes)}
    if fileio.exists(os.path.join(directory, records.METADATA_FILE)):
        dataset = PreparedDataset(directory)
        if dataset.metadata.get("source") == identity:
            return dataset
    with fileio.staged_directory(directory) as staging:
        labels = np.asarray(labelled.labels)
        split = np.where(np.arange(len(labels)) % VAL_EVERY == VAL_EVERY - 1, "val", "train")
        index = TrainIndexBuilder(1, len(labelled.classes))
        images = {name: int(np.sum(split == name)) for name in records.SPLITS}  # One word an image: pairs = images.
        for name in ("train", "val"):
            rows = np.flatnonzero(split == name)
            examples = [
                records.make_example(f"{labelled.name}/{i:06d}", _encoded(labelled.images[i]), [int(labels[i])])
                for i in rows
            ]
            if name == "train":
                for example, i in zip(examples, rows):
                    index.add(0, len(example), [int(labels[i])])
            records.write_shard(os.path.join(staging, records.shard_name(name, 0, 1)), examples)
        counts = np.bincount(labels[split == "train"], minlength=len(labelled.classes))
        fileio.write_text_atomic(
            os.path.join(staging, records.VOCAB_FILE),
            Vocabulary(tuple(labelled.classes), tuple(int(c) for c in counts)).to_tsv(),
        )
        index.save(os.path.join(staging, records.TRAIN_INDEX_FILE))
        metadata = {
            "schema_version": records.SCHEMA_VERSION,
            "source": identity,
            "split_rule": f"every {VAL_EVERY}th image in val, the others in train",
            "vocab_size": len(labelled.classes),
            "max_words_per_image": 1,
            "images": images,
            "pairs": images,
            "no_target_images": {name: 0 for name in records.SPLITS},
            "train_index": records.TRAIN_INDEX_FILE,
            "shards": {name: [records.shard_name(name, 0, 1)] for name in ("train", "val")},
        }
        fileio.write_text_atomic(os.path.join(staging, records.METADATA_FILE), json.dumps(metadata, indent=2))
    return PreparedDataset(directory)


def replicas(run_config) -> int:
    """The replicas the run's config trains on in one process: its devices, or its logical CPUs (one at least)."""
    return len(run_config.train.devices) or max(1, run_config.train.logical_cpus)


def training_config(run_config, dataset: PreparedDataset, steps: int) -> ml_collections.ConfigDict:
    """The run's config, turned into a class-label run of about `steps` steps at the run's global batch: the
    multi-class loss over all the set's classes every step, natural sampling, synchronous SGD, no export."""
    config = run_config.copy_and_resolve_references()
    config.data.dir = dataset.directory
    config.loss = "softmax"
    config.model.num_words = dataset.vocab_size
    config.head.update({"classes": "full", "correction": "none", "negatives": 0})
    config.input.update({"sampler": "natural", "labels": "all_words", "augment": False})
    config.optimizer.update({"name": "sgd", "learning_rate": LEARNING_RATE})
    global_batch = config.train.batch_size_per_replica * replicas(run_config)
    steps_per_epoch = max(1, -(-steps // EPOCHS))
    config.train.update(
        {
            "epoch_size": steps_per_epoch * global_batch,
            "max_epochs": EPOCHS,
            "checkpoint_every_steps": steps_per_epoch,
            "log_every_steps": steps_per_epoch,
            "steps_per_loop": 1,
            "keep_checkpoints": 1,
            "export": False,
        }
    )
    config.schedule.min_epochs_per_lr = EPOCHS + 1  # The budget is short: the learning rate stays.
    config.eval.val_images = dataset.metadata["images"]["val"]
    return config


def class_label_network(run_config, labelled: LabelledSet, directory: str, steps: int, log=print, progress=True):
    """The network of run_config's architecture trained on the labelled set's classes in `directory`
    (a finished run there is restored, not trained again); its `embed` gives the baselines' features."""
    dataset = write_dataset(labelled, os.path.join(directory, "data"))
    run = RunDirectory(os.path.join(directory, "run"))
    train(training_config(run_config, dataset, steps), run.path, dataset=dataset, log=log, progress=progress)
    return run.restore().model
