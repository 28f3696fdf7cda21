"""tf.data pipelines: training (sampled, augmented) and evaluation (in order).

Training: sampler draws -> blocks of byte-range reads -> parse -> decode,
resize, crop (or augment), standardise -> batch -> prefetch. Each element is
{"images": float32 [B, S, S, 3], "labels": int32 [B, L] (word ids, -1
padded), "positions": int64 [B] (stream positions, for resuming)}, and with
extra negatives "negatives": int32 [M] (words drawn at a known rate for the
step's classes, fixed by the batch's first position; see sampling.py).

Labels: "sampled_word" gives the drawn word alone (L = 1; the paper's
softmax with uniform-per-word sampling: the image's other words are
negatives); "all_words" gives every dictionary word of the image, padded to
the dataset's maximum (multi-hot for one-vs-all).

Both take a PreparedDataset (wsl_tf/input/dataset.py) or a dataset directory path;
give the same PreparedDataset to every replica's pipeline so the train index
is held once. Under tf.distribute, pass the InputContext that
`strategy.distribute_datasets_from_function` gives: input pipeline i of n
takes stream positions i, i + n, ..., so workers never share samples.
"""

import tensorflow as tf

from wsl_tf import records
from wsl_tf.errors import ConfigError
from wsl_tf.input import preprocessing
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.input.reader import RecordReader
from wsl_tf.input.sampling import SAMPLERS, NegativeDrawer

LABELS = ("sampled_word", "all_words")


def input_problems(config) -> list[str]:
    """One line per bad setting of an input section (its key without the 'input.'); empty when it can run."""
    found = []
    if config.sampler not in SAMPLERS:
        found.append(f"sampler={config.sampler!r}: expected one of {', '.join(SAMPLERS)}")
    if config.labels not in LABELS:
        found.append(f"labels={config.labels!r}: expected one of {', '.join(LABELS)}")
    if config.labels == "sampled_word" and config.sampler != "uniform_per_word":
        found.append("labels='sampled_word' needs input.sampler='uniform_per_word'")
    if config.crop_size > config.resize_size:
        found.append(f"crop_size={config.crop_size} exceeds input.resize_size={config.resize_size}")
    return found


def _check(config):
    found = input_problems(config)
    if found:
        raise ConfigError("; ".join(f"input.{line}" for line in found))


def train_dataset(
    dataset: PreparedDataset | str,
    config,
    batch_size: int,
    start: int = 0,
    input_context: tf.distribute.InputContext | None = None,
    num_words: int | None = None,
    negatives: int = 0,
    negatives_by: str = "uniform",
) -> tf.data.Dataset:
    """The endless training stream, from stream position `start` (0: the beginning).

    num_words: train on the first (most frequent) num_words words of the
    dataset's vocabulary only; later words are neither drawn nor labels.
    negatives, negatives_by: that many extra negative words per batch, drawn
    uniformly or by count among the first num_words (NegativeDrawer).
    """
    dataset = PreparedDataset.of(dataset)
    _check(config)
    index = dataset.train_index
    shards = dataset.shards("train")
    sampler = SAMPLERS[config.sampler](index, config.seed, num_words=num_words)
    reader = RecordReader(shards, index)
    num_pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    max_labels = 1 if config.labels == "sampled_word" else dataset.max_words_per_image

    def fetch(draws):
        """A block of draws -> their records, read and parsed in one go."""
        parsed = tf.io.parse_example(reader.read_tensor(draws["record"]), records.features())
        if config.labels == "sampled_word":
            labels = draws["word"][:, None]
        else:
            ids = tf.sparse.to_dense(
                tf.sparse.reset_shape(parsed[records.WORD_IDS], [tf.size(draws["record"], tf.int64), max_labels]),
                default_value=-1,
            )
            labels = tf.cast(ids, tf.int32)
            if num_words is not None:
                labels = tf.where(labels < num_words, labels, -1)
        return {"image_bytes": parsed[records.IMAGE], "labels": labels, "positions": draws["position"]}

    def example(draw):
        seed = tf.stack([tf.constant(config.seed, tf.int64), draw["positions"]]) if config.augment else None
        image = preprocessing.preprocess(
            draw["image_bytes"], config.resize_size, config.crop_size, training_seed=seed, jitter=config.jitter
        )
        return {"images": image, "labels": draw["labels"], "positions": draw["positions"]}

    stream = sampler.dataset(start, num_pipelines, pipeline_id, block=config.block_size)
    stream = stream.batch(config.block_size).map(fetch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    stream = stream.unbatch()
    stream = stream.map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    stream = stream.batch(batch_size, drop_remainder=True)
    if negatives:
        drawer = NegativeDrawer(index, num_words or dataset.vocab_size, negatives, negatives_by, config.seed)
        stream = stream.map(lambda batch: {**batch, "negatives": drawer.draw(batch["positions"][0])})
    return stream.prefetch(tf.data.AUTOTUNE)


def eval_dataset(dataset: PreparedDataset | str, split: str, config, batch_size: int) -> tf.data.Dataset:
    """A split in shard order, centre-cropped: {"images", "labels" (-1 padded), "keys"}."""
    shards = PreparedDataset.of(dataset).shards(split)

    def example(serialized):
        parsed = records.parse_example(serialized)
        image = preprocessing.preprocess(parsed[records.IMAGE], config.resize_size, config.crop_size)
        return {"images": image, "labels": tf.cast(parsed[records.WORD_IDS], tf.int32), "keys": parsed[records.KEY]}

    stream = tf.data.TFRecordDataset(shards).map(example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return stream.padded_batch(batch_size, padding_values={"images": 0.0, "labels": -1, "keys": ""}).prefetch(
        tf.data.AUTOTUNE
    )
