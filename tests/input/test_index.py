"""The train index wsl-prepare writes, read back against the shards."""

import os

import tensorflow as tf

from wsl_tf import records
from wsl_tf.input.index import TrainIndex


def test_index_locates_every_train_record_and_lists_each_words_records(ten_word_dataset):
    index = TrainIndex.load(os.path.join(ten_word_dataset, records.TRAIN_INDEX_FILE))
    shards = records.shard_paths(ten_word_dataset, "train")
    in_order = [[records.parse_example(s) for s in tf.data.TFRecordDataset(p)] for p in shards]
    seen = [0] * len(shards)
    words_of = []
    for n in range(index.num_records):
        shard = index.shard[n]
        with open(shards[shard], "rb") as handle:
            handle.seek(index.offset[n])
            parsed = records.parse_example(tf.constant(handle.read(index.length[n])))
        expected = in_order[shard][seen[shard]]
        seen[shard] += 1
        assert parsed[records.KEY].numpy() == expected[records.KEY].numpy()
        words_of.append(set(parsed[records.WORD_IDS].numpy().tolist()))
    assert seen == [len(x) for x in in_order]
    for word in range(index.num_words):
        assert index.records_of(word).tolist() == [n for n, w in enumerate(words_of) if word in w]
