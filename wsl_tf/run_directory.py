"""A run directory: its layout, and every read and write of it, on any tf.io.gfile filesystem.

`RunDirectory(path)` is the one owner of what wsl-train, wsl-export, wsl-eval
and wsl-demo leave in a run's directory:

    config.json      the resolved config (ml_collections, as JSON)
    data.json        which dataset and vocabulary the run trains on
    vocab.tsv        that vocabulary, copied from the dataset
    history.json     one entry per finished epoch
    summary.json     written when the run ends
    checkpoints/     TensorFlow checkpoints (centre, replicas, optimizer, schedule)
    tensorboard/     event files
    export/          model.keras, saved_model/, export.json (wsl_tf/serving.py)
    eval/            metrics.json, report.md, pictures, cache/, choices/ (wsl-eval)

Every write goes through wsl_tf/fileio.py (a temporary name, then a rename),
so a killed job leaves the old file or none, on local disk, `gs://` or any
other filesystem TensorFlow reads. Checkpoints are written after EASGD's
pending elastic moves are applied (the trainer synchronizes first), so the
centre restored here is current.
"""

import dataclasses
import json
import os

from wsl_tf import fileio
from wsl_tf.errors import DataError

VOCAB_FILE = "vocab.tsv"  # The dictionary a run directory keeps, copied from its dataset.


class RunDirectoryError(DataError):
    """Not a run directory, or no checkpoint yet; the message says which."""


@dataclasses.dataclass
class RestoredRun:
    config: object  # The resolved ml_collections.ConfigDict.
    model: object  # The centre WordPredictor, restored.
    words: list[str]  # The dictionary, id order.
    checkpoint: str


def _gfile():
    import tensorflow as tf  # Deferred: reading a config must not start TensorFlow's devices.

    return tf.io.gfile


class RunDirectory:
    """The files of one run; paths are joined with os.path.join, which keeps `gs://B/run` a gfile path."""

    CONFIG, DATA, HISTORY, SUMMARY, VOCAB = "config.json", "data.json", "history.json", "summary.json", VOCAB_FILE
    CHECKPOINTS, TENSORBOARD, EXPORT, EVAL = "checkpoints", "tensorboard", "export", "eval"
    METRICS, REPORT, CACHE, CHOICES = "metrics.json", "report.md", "cache", "choices"
    CLASS_NETWORK = "class_network"

    def __init__(self, path: str):
        self.path = str(path)
        join = self.join
        self.config_path, self.data_path, self.vocab_path = join(self.CONFIG), join(self.DATA), join(self.VOCAB)
        self.history_path, self.summary_path = join(self.HISTORY), join(self.SUMMARY)
        self.checkpoints, self.tensorboard = join(self.CHECKPOINTS), join(self.TENSORBOARD)
        self.export = join(self.EXPORT)
        self.eval, self.eval_cache = join(self.EVAL), join(self.EVAL, self.CACHE)
        self.metrics_path, self.report_path = join(self.EVAL, self.METRICS), join(self.EVAL, self.REPORT)

    def __repr__(self) -> str:
        return f"RunDirectory({self.path!r})"

    def join(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    def class_network(self, name: str) -> str:
        """Where evaluation trains and keeps a class-label network (dataset and run): RUN/eval/class_network/NAME."""
        return self.join(self.EVAL, self.CLASS_NETWORK, name)

    def worker_scratch(self, task: tuple) -> str:
        """Where a non-chief worker of a cluster writes the checkpoint it must write and then removes."""
        return self.join(f"workertemp_{task[0]}_{task[1]}")

    # --- Reading -----------------------------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether wsl-train has started here (config.json is written first)."""
        return _gfile().exists(self.config_path)

    def _read_json(self, path: str):
        return json.loads(fileio.read_text(path)) if _gfile().exists(path) else None

    def read_config(self):
        """The run's resolved config (an ml_collections.ConfigDict), read without starting TensorFlow's devices."""
        import ml_collections

        if not self.exists():
            raise RunDirectoryError(f"{self.path} is not a run directory: no {self.CONFIG} (wsl-train writes it)")
        return ml_collections.ConfigDict(json.loads(fileio.read_text(self.config_path)))

    def read_data(self) -> dict | None:
        """data.json: {"dir", "vocab_sha256", "vocab_size", "num_words"}, or None before the first run."""
        return self._read_json(self.data_path)

    def read_history(self) -> list:
        return self._read_json(self.history_path) or []

    def read_summary(self) -> dict | None:
        return self._read_json(self.summary_path)

    def read_metrics(self) -> dict | None:
        """RUN/eval/metrics.json, or None before the first evaluation."""
        return self._read_json(self.metrics_path)

    def words(self) -> list[str]:
        from wsl_tf.vocab import Vocabulary

        return list(Vocabulary.load(self.vocab_path).words)

    def latest_checkpoint(self) -> str | None:
        import tensorflow as tf

        return tf.train.latest_checkpoint(self.checkpoints)

    def restore(self) -> RestoredRun:
        """The centre model of the run's latest checkpoint, with its config and dictionary."""
        import tensorflow as tf

        from wsl_tf.models import build_model

        config = self.read_config()
        latest = self.latest_checkpoint()
        if latest is None:
            raise RunDirectoryError(f"{self.path}: no checkpoint yet in {self.checkpoints}")
        model = build_model(config.model, random_word_rows=False)  # The checkpoint sets every weight.
        tf.train.Checkpoint(centre=model).restore(latest).expect_partial().assert_existing_objects_matched()
        return RestoredRun(config, model, self.words(), latest)

    # --- Writing -----------------------------------------------------------------------------------------------
    def create(self) -> None:
        """Make the directory, and remove what a killed job left in it under temporary names."""
        _gfile().makedirs(self.path)
        fileio.remove_stale_temporaries(self.path)

    def write_config(self, config) -> None:
        fileio.write_text_atomic(self.config_path, config.to_json_best_effort(indent=2))

    def write_data(self, identity: dict, vocabulary_tsv: str) -> None:
        """data.json and vocab.tsv."""
        fileio.write_json_atomic(self.data_path, identity)
        fileio.write_text_atomic(self.vocab_path, vocabulary_tsv)

    def write_history(self, history: list) -> None:
        fileio.write_json_atomic(self.history_path, history)

    def write_summary(self, summary: dict) -> None:
        fileio.write_json_atomic(self.summary_path, summary)

    def prepare_eval(self) -> None:
        """RUN/eval/, without what a killed evaluation left under temporary names (its cache/ is FeatureCache's)."""
        _gfile().makedirs(self.eval)
        fileio.remove_stale_temporaries(self.eval)

    def write_metrics(self, metrics: dict) -> None:
        fileio.write_json_atomic(self.metrics_path, metrics)

    def write_report(self, text: str) -> None:
        fileio.write_text_atomic(self.report_path, text)


def read_config(workdir: str):
    """RunDirectory(workdir).read_config()."""
    return RunDirectory(workdir).read_config()


def restore_run(workdir: str) -> RestoredRun:
    """RunDirectory(workdir).restore()."""
    return RunDirectory(workdir).restore()
