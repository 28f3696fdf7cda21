"""The training and evaluation pipelines on a small prepared dataset."""

import os

import numpy as np
import pytest
import tensorflow as tf
from wsl_tf.configs import paper

from wsl_tf import records
from wsl_tf.input import pipeline
from wsl_tf.input.index import TrainIndex
from wsl_tf.vocab import Vocabulary


def small_config(**overrides):
    config = paper.get_config().input
    config.update({"resize_size": 32, "crop_size": 24, "block_size": 16, **overrides})
    return config


def batches(dataset, n):
    return list(dataset.take(n).as_numpy_iterator())


def train_records_by_location(dataset_dir) -> dict:
    """{(shard, payload's byte offset): (image bytes, word ids)}, read shard by shard without index or reader.

    A TFRecord is an 8-byte length, a 4-byte CRC, the payload and a 4-byte CRC.
    """
    found = {}
    for shard, path in enumerate(records.shard_paths(dataset_dir, "train")):
        offset = 0
        for serialized in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(serialized.numpy())
            features = example.features.feature
            found[shard, offset + 12] = (
                features[records.IMAGE].bytes_list.value[0],
                set(features[records.WORD_IDS].int64_list.value),
            )
            offset += 12 + len(serialized.numpy()) + 4
    return found


def test_uniform_batches_hold_the_drawn_records_image_and_one_of_its_words(ten_word_dataset):
    from wsl_tf.input.preprocessing import preprocess
    from wsl_tf.input.sampling import UniformWordSampler

    (batch,) = batches(pipeline.train_dataset(ten_word_dataset, small_config(), 32), 1)
    assert batch["images"].shape == (32, 24, 24, 3) and batch["images"].dtype == np.float32
    assert batch["labels"].shape == (32, 1)
    assert batch["positions"].tolist() == list(range(32))
    index = TrainIndex.load(os.path.join(ten_word_dataset, records.TRAIN_INDEX_FILE))
    drawn = UniformWordSampler(index, seed=0).draw(tf.constant(batch["positions"]))["record"].numpy()
    stored = train_records_by_location(ten_word_dataset)
    assert len(set(drawn)) > 10  # Not one record over and over.
    for image, label, record in zip(batch["images"], batch["labels"][:, 0], drawn):
        image_bytes, words = stored[int(index.shard[record]), int(index.offset[record])]
        np.testing.assert_allclose(image, preprocess(image_bytes, 32, 24).numpy(), atol=1e-5)
        assert label in words


def test_all_words_labels_are_the_records_words_padded(ten_word_dataset):
    config = small_config(sampler="natural", labels="all_words")
    (batch,) = batches(pipeline.train_dataset(ten_word_dataset, config, 16), 1)
    metadata = records.read_metadata(ten_word_dataset)
    assert batch["labels"].shape == (16, metadata["max_words_per_image"])
    for row in batch["labels"]:
        ids = row[row >= 0]
        assert len(ids) >= 1 and list(ids) == sorted(set(ids))
        assert np.all(row[len(ids) :] == -1)


@pytest.mark.parametrize("sampler, labels", [("uniform_per_word", "sampled_word"), ("natural", "all_words")])
def test_same_seed_same_stream_and_resume_continues_it(ten_word_dataset, sampler, labels):
    config = small_config(sampler=sampler, labels=labels, augment=True)
    whole = batches(pipeline.train_dataset(ten_word_dataset, config, 8), 6)
    again = batches(pipeline.train_dataset(ten_word_dataset, config, 8), 6)
    resumed = batches(pipeline.train_dataset(ten_word_dataset, config, 8, start=3 * 8), 3)
    for a, b in zip(whole, again):
        np.testing.assert_array_equal(a["images"], b["images"])
    for a, b in zip(whole[3:], resumed):
        for key in ("images", "labels", "positions"):
            np.testing.assert_array_equal(a[key], b[key])
    other = batches(
        pipeline.train_dataset(ten_word_dataset, small_config(sampler=sampler, labels=labels, seed=9), 8), 1
    )
    assert not np.array_equal(other[0]["labels"], whole[0]["labels"]) or not np.array_equal(
        other[0]["images"], whole[0]["images"]
    )


def test_extra_negatives_ride_with_each_batch_fixed_by_its_position(ten_word_dataset):
    """A resumed stream draws the same negatives; each batch's are the drawer's for its first position."""
    from wsl_tf.input.dataset import PreparedDataset
    from wsl_tf.input.sampling import NegativeDrawer

    config = small_config(sampler="natural", labels="all_words")
    whole = batches(pipeline.train_dataset(ten_word_dataset, config, 8, num_words=6, negatives=5), 4)
    resumed = batches(pipeline.train_dataset(ten_word_dataset, config, 8, start=2 * 8, num_words=6, negatives=5), 2)
    drawer = NegativeDrawer(PreparedDataset(ten_word_dataset).train_index, 6, 5, seed=config.seed)
    for batch in whole:
        assert batch["negatives"].shape == (5,) and batch["negatives"].max() < 6
        np.testing.assert_array_equal(batch["negatives"], drawer.draw(batch["positions"][0]))
    for a, b in zip(whole[2:], resumed):
        np.testing.assert_array_equal(a["negatives"], b["negatives"])
    assert len({tuple(b["negatives"]) for b in whole}) > 1


def test_each_input_pipeline_gets_its_own_part_of_the_stream(ten_word_dataset):
    config = small_config()
    whole = batches(pipeline.train_dataset(ten_word_dataset, config, 8), 2)
    parts = [
        batches(
            pipeline.train_dataset(ten_word_dataset, config, 4, input_context=tf.distribute.InputContext(2, i, 8)), 2
        )
        for i in range(2)
    ]
    assert parts[0][0]["positions"].tolist() == [0, 2, 4, 6]
    merged = {int(p): label for part in parts for b in part for p, label in zip(b["positions"], b["labels"][:, 0])}
    single = {int(p): label for b in whole for p, label in zip(b["positions"], b["labels"][:, 0])}
    assert merged == single


def test_mirrored_replicas_get_disjoint_samples(ten_word_dataset):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    config = small_config()

    def dataset_fn(context):
        return pipeline.train_dataset(
            ten_word_dataset, config, context.get_per_replica_batch_size(8), input_context=context
        )

    distributed = iter(strategy.distribute_datasets_from_function(dataset_fn))
    positions = []
    for _ in range(2):
        per_replica = next(distributed)["positions"]
        replicas = [t.numpy().tolist() for t in strategy.experimental_local_results(per_replica)]
        assert len(replicas) == 2 and all(len(r) == 4 for r in replicas)
        assert not set(replicas[0]) & set(replicas[1])
        positions += replicas[0] + replicas[1]
    assert sorted(positions) == list(range(16))


def test_a_dataset_on_another_gfile_filesystem_gives_the_same_batches(ten_word_dataset):
    remote = "ram://wsl_tf_test_dataset"
    tf.io.gfile.makedirs(remote)
    for name in tf.io.gfile.listdir(ten_word_dataset):
        tf.io.gfile.copy(os.path.join(ten_word_dataset, name), f"{remote}/{name}", overwrite=True)
    config = small_config(sampler="natural", labels="all_words")
    local = batches(pipeline.train_dataset(ten_word_dataset, config, 8), 2)
    far = batches(pipeline.train_dataset(remote, config, 8), 2)
    for a, b in zip(local, far):
        np.testing.assert_array_equal(a["images"], b["images"])
        np.testing.assert_array_equal(a["labels"], b["labels"])


def test_eval_dataset_reads_a_split_in_order_with_all_its_labels(ten_word_dataset):
    config = small_config()
    got = [b for b in pipeline.eval_dataset(ten_word_dataset, "val", config, 5).as_numpy_iterator()]
    keys = [k for b in got for k in b["keys"]]
    expected = [
        records.parse_example(s)[records.KEY].numpy()
        for s in tf.data.TFRecordDataset(records.shard_paths(ten_word_dataset, "val"))
    ]
    assert keys == expected
    vocab = Vocabulary.load(os.path.join(ten_word_dataset, "vocab.tsv"))
    assert all(0 <= word < len(vocab) for b in got for row in b["labels"] for word in row if word >= 0)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"sampler": "natural"}, "needs input.sampler='uniform_per_word'"),
        ({"sampler": "bogus"}, "input.sampler='bogus'"),
        ({"crop_size": 64}, "exceeds input.resize_size"),
    ],
)
def test_config_errors_are_named(ten_word_dataset, overrides, message):
    with pytest.raises(ValueError, match=message):
        pipeline.train_dataset(ten_word_dataset, small_config(**overrides), 8)


def test_not_a_dataset_directory(tmp_path):
    with pytest.raises(ValueError, match="not a dataset directory"):
        pipeline.train_dataset(str(tmp_path), small_config(), 8)
