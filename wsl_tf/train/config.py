"""What a training config must satisfy, and what a resumed run may change; the configs themselves are data in
configs/ (paper.py)."""

import json

from wsl_tf.errors import ConfigError
from wsl_tf.input.pipeline import input_problems
from wsl_tf.input.sampling import NEGATIVE_DRAWS
from wsl_tf.models.losses import BALANCES
from wsl_tf.train.training_run import CORRECTIONS
from wsl_tf.train.word_rows import HEAD_CLASSES

LOSSES = ("softmax", "one_vs_all")
# Settings a resumed run may change, each applied and logged: how long it goes on, how often it logs and
# checkpoints, how many checkpoints it keeps, whether it exports, how long a worker waits for a dead peer. Every
# other setting of a run that has a checkpoint is what its checkpoints were trained with: a change is refused.
RESUMABLE = (
    "train.max_epochs",
    "train.log_every_steps",
    "train.checkpoint_every_steps",
    "train.keep_checkpoints",
    "train.export",
    "train.peer_timeout_seconds",
)
# wsl-eval's settings change nothing a run trains but these, which the trainer's validation reads (LR halving,
# prior weight).
EVAL_READ_BY_TRAINING = ("eval.val_images",)
OPTIMIZERS = ("easgd", "sgd")


def problems(config, metadata: dict) -> list[str]:
    """One line per setting of a training config that cannot work with this dataset (empty when it can run):
    the loss, optimizer, head, model, input pipeline and train sections."""
    found = [f"input.{line}" for line in input_problems(config.input)]
    if config.loss not in LOSSES:
        found.append(f"loss={config.loss!r}: expected one of {', '.join(LOSSES)}")
    if config.optimizer.name not in OPTIMIZERS:
        found.append(f"optimizer.name={config.optimizer.name!r}: expected one of {', '.join(OPTIMIZERS)}")
    if config.one_vs_all_balance not in BALANCES:
        found.append(f"one_vs_all_balance={config.one_vs_all_balance!r}: expected one of {', '.join(BALANCES)}")
    head = config.head
    for key, allowed in (("classes", HEAD_CLASSES), ("correction", CORRECTIONS), ("negatives_by", NEGATIVE_DRAWS)):
        if head[key] not in allowed:
            found.append(f"head.{key}={head[key]!r}: expected one of {', '.join(allowed)}")
    if head.negatives < 0:
        found.append(f"head.negatives={head.negatives} must be >= 0")
    if head.negatives and head.classes == "full":
        found.append(
            f"head.negatives={head.negatives} adds words to in-batch classes; head.classes='full' "
            "already computes every word"
        )
    if config.model.num_words > metadata["vocab_size"]:
        found.append(
            f"model.num_words={config.model.num_words} exceeds the dataset's vocabulary "
            f"({metadata['vocab_size']} words in {config.data.dir})"
        )
    if config.input.crop_size != config.model.image_size:
        found.append(
            f"input.crop_size={config.input.crop_size} differs from model.image_size={config.model.image_size}"
        )
    for key in ("log_every_steps", "steps_per_loop", "checkpoint_every_steps"):
        if config.train[key] < 1:
            found.append(f"train.{key}={config.train[key]} must be >= 1")
    if config.train.steps_per_loop > 1 and config.optimizer.name != "easgd":
        # Synchronous SGD all-reduces sparse gradients of per-step sizes, which TensorFlow's collectives
        # reject inside a graph loop; EASGD's only collectives, the exchanges, run between its loops.
        found.append(
            f"train.steps_per_loop={config.train.steps_per_loop} needs optimizer.name='easgd' "
            f"(with '{config.optimizer.name}' use 1)"
        )
    if config.train.batch_size_per_replica < 1:
        found.append(f"train.batch_size_per_replica={config.train.batch_size_per_replica} must be >= 1")
    return found


def check(config, metadata: dict) -> None:
    """ConfigError naming every setting that cannot work with this dataset, at once, before any work."""
    found = problems(config, metadata)
    if found:
        raise ConfigError("; ".join(found))


def _flat(value, prefix: str = "") -> dict:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    return {prefix[:-1]: value}


def config_changes(saved, requested) -> list[tuple[str, object, object]]:
    """(key, saved value, requested value) of every setting the two configs give different values, in key
    order; a key only one of them has (a setting added to configs/paper.py since the run began) is left out."""
    old, new = (_flat(json.loads(config.to_json_best_effort())) for config in (saved, requested))
    return [(key, old[key], new[key]) for key in sorted(old.keys() & new.keys()) if old[key] != new[key]]


def resumable(key: str) -> bool:
    """Whether a resumed run may change this setting (RESUMABLE, and wsl-eval's settings but those training reads)."""
    return key in RESUMABLE or (key.startswith("eval.") and key not in EVAL_READ_BY_TRAINING)
