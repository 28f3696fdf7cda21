"""The training and evaluation pipelines on a small prepared dataset."""

import os

import numpy as np
import pytest
import tensorflow as tf

from wsl_tf import records
from wsl_tf.configs import paper
from wsl_tf.input import pipeline
from wsl_tf.input.index import TrainIndex
from wsl_tf.vocab import Vocabulary



def small_config(**overrides):
    config = paper.get_config().input
    config.update({"resize_size": 32, "crop_size": 24, "block_size": 16, **overrides})
    return config


def batches(dataset, n):
    return list(dataset.take(n).as_numpy_iterator())


def test_uniform_batches_hold_their_drawn_word(dataset_dir):
    (batch,) = batches(pipeline.train_dataset(dataset_dir, small_config(), 32), 1)
    assert batch["images"].shape == (32, 24, 24, 3) and batch["images"].dtype == np.float32
    assert batch["labels"].shape == (32, 1)
    index = TrainIndex.load(os.path.join(dataset_dir, records.TRAIN_INDEX_FILE))
    from wsl_tf.input.sampling import UniformWordSampler

    draws = UniformWordSampler(index, seed=0).draw(tf.constant(batch["positions"]))
    np.testing.assert_array_equal(batch["labels"][:, 0], draws["word"].numpy())
    assert batch["positions"].tolist() == list(range(32))


def test_all_words_labels_are_the_records_words_padded(dataset_dir):
    config = small_config(sampler="natural", labels="all_words")
    (batch,) = batches(pipeline.train_dataset(dataset_dir, config, 16), 1)
    metadata = records.read_metadata(dataset_dir)
    assert batch["labels"].shape == (16, metadata["max_words_per_image"])
    for row in batch["labels"]:
        ids = row[row >= 0]
        assert len(ids) >= 1 and list(ids) == sorted(set(ids))
        assert np.all(row[len(ids):] == -1)


@pytest.mark.parametrize("sampler, labels", [("uniform_per_word", "sampled_word"), ("natural", "all_words")])
def test_same_seed_same_stream_and_resume_continues_it(dataset_dir, sampler, labels):
    config = small_config(sampler=sampler, labels=labels, augment=True)
    whole = batches(pipeline.train_dataset(dataset_dir, config, 8), 6)
    again = batches(pipeline.train_dataset(dataset_dir, config, 8), 6)
    resumed = batches(pipeline.train_dataset(dataset_dir, config, 8, start=3 * 8), 3)
    for a, b in zip(whole, again):
        np.testing.assert_array_equal(a["images"], b["images"])
    for a, b in zip(whole[3:], resumed):
        for key in ("images", "labels", "positions"):
            np.testing.assert_array_equal(a[key], b[key])
    other = batches(pipeline.train_dataset(dataset_dir, small_config(sampler=sampler, labels=labels, seed=9), 8), 1)
    assert not np.array_equal(other[0]["labels"], whole[0]["labels"]) or not np.array_equal(
        other[0]["images"], whole[0]["images"])


def test_each_input_pipeline_gets_its_own_part_of_the_stream(dataset_dir):
    config = small_config()
    whole = batches(pipeline.train_dataset(dataset_dir, config, 8), 2)
    parts = [batches(pipeline.train_dataset(
        dataset_dir, config, 4, input_context=tf.distribute.InputContext(2, i, 8)), 2) for i in range(2)]
    assert parts[0][0]["positions"].tolist() == [0, 2, 4, 6]
    merged = {int(p): label for part in parts for b in part for p, label in zip(b["positions"], b["labels"][:, 0])}
    single = {int(p): label for b in whole for p, label in zip(b["positions"], b["labels"][:, 0])}
    assert merged == single


def test_mirrored_replicas_get_disjoint_samples(dataset_dir):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    config = small_config()

    def dataset_fn(context):
        return pipeline.train_dataset(dataset_dir, config, context.get_per_replica_batch_size(8), input_context=context)

    distributed = iter(strategy.distribute_datasets_from_function(dataset_fn))
    positions = []
    for _ in range(2):
        per_replica = next(distributed)["positions"]
        replicas = [t.numpy().tolist() for t in strategy.experimental_local_results(per_replica)]
        assert len(replicas) == 2 and all(len(r) == 4 for r in replicas)
        assert not set(replicas[0]) & set(replicas[1])
        positions += replicas[0] + replicas[1]
    assert sorted(positions) == list(range(16))


def test_a_dataset_on_another_gfile_filesystem_gives_the_same_batches(dataset_dir):
    remote = "ram://wsl_tf_test_dataset"
    tf.io.gfile.makedirs(remote)
    for name in tf.io.gfile.listdir(dataset_dir):
        tf.io.gfile.copy(os.path.join(dataset_dir, name), f"{remote}/{name}", overwrite=True)
    config = small_config(sampler="natural", labels="all_words")
    local = batches(pipeline.train_dataset(dataset_dir, config, 8), 2)
    far = batches(pipeline.train_dataset(remote, config, 8), 2)
    for a, b in zip(local, far):
        np.testing.assert_array_equal(a["images"], b["images"])
        np.testing.assert_array_equal(a["labels"], b["labels"])


def test_eval_dataset_reads_a_split_in_order_with_all_its_labels(dataset_dir):
    config = small_config()
    got = [b for b in pipeline.eval_dataset(dataset_dir, "val", config, 5).as_numpy_iterator()]
    keys = [k for b in got for k in b["keys"]]
    expected = [records.parse_example(s)[records.KEY].numpy()
                for s in tf.data.TFRecordDataset(records.shard_paths(dataset_dir, "val"))]
    assert keys == expected
    vocab = Vocabulary.load(os.path.join(dataset_dir, "vocab.tsv"))
    assert all(0 <= l < len(vocab) for b in got for row in b["labels"] for l in row if l >= 0)


@pytest.mark.parametrize("overrides, message", [
    ({"sampler": "natural"}, "needs input.sampler='uniform_per_word'"),
    ({"sampler": "bogus"}, "input.sampler='bogus'"),
    ({"crop_size": 64}, "exceeds input.resize_size"),
])
def test_config_errors_are_named(dataset_dir, overrides, message):
    with pytest.raises(ValueError, match=message):
        pipeline.train_dataset(dataset_dir, small_config(**overrides), 8)


def test_not_a_dataset_directory(tmp_path):
    with pytest.raises(ValueError, match="not a dataset directory"):
        pipeline.train_dataset(str(tmp_path), small_config(), 8)
