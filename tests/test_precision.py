"""Word prediction on a split: precision@k against numpy, the loop against a brute-force reading of the records."""

import os

import numpy as np
import pytest
import tensorflow as tf
from wsl_tf.configs import paper

from tests.helpers import model_config, prepare_jsonl_dataset
from wsl_tf import precision, records
from wsl_tf.eval.baselines import frequency_scores
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.models import build_model
from wsl_tf.precision import (
    HeldOutBatches,
    NoLabelledImagesError,
    ceiling_at_k,
    first_images,
    mean_precision_at_k,
    model_scores,
    natural_and_raw_scores,
    per_image_precision,
    per_image_precisions,
    precision_at_k,
    split_precision,
    word_ids,
)


def input_config():
    config = paper.get_config().input
    config.update({"resize_size": 32, "crop_size": 32})
    return config


def split_labels(dataset_dir, split):
    """Each record's word ids, read straight from the shards in order."""
    labels = []
    for path in records.shard_paths(dataset_dir, split):
        for serialized in tf.data.TFRecordDataset(path):
            example = tf.train.Example.FromString(serialized.numpy())
            labels.append(list(example.features.feature[records.WORD_IDS].int64_list.value))
    return labels


def brute_force_precision(ranking, labels, k, num_words):
    values = [
        len(set(ranking[:k]) & set(w for w in words if w < num_words)) / k
        for words in labels
        if any(w < num_words for w in words)
    ]
    return float(np.mean(values)), len(values)


@pytest.mark.parametrize("num_words, max_images", [(9, None), (4, None), (9, 12)])
def test_the_frequency_baseline_matches_a_brute_force_count(ten_word_dataset, num_words, max_images):
    dataset = PreparedDataset(ten_word_dataset)
    counts = np.zeros(dataset.vocab_size, int)  # N_k by brute force: the train records' words.
    for words in split_labels(ten_word_dataset, "train"):
        counts[words] += 1
    ranking = list(np.argsort(-counts[:num_words], kind="stable"))
    labels = split_labels(ten_word_dataset, "val")
    batch_size = 5
    if max_images is not None:  # Exactly the first max_images, whatever the batch size.
        labels = labels[:max_images]
    got = split_precision(
        frequency_scores(dataset, num_words),
        dataset,
        input_config(),
        num_words,
        "val",
        batch_size,
        max_images,
        ks=(1, 3),
    )
    for k in (1, 3):
        expected, images = brute_force_precision(ranking, labels, k, num_words)
        assert got[f"precision_at_{k}"] == pytest.approx(expected) and got["images"] == images


def test_a_model_is_scored_on_the_images_it_is_given(ten_word_dataset):
    """Scores that depend on each image, paired here with the split's records read independently."""
    dataset = PreparedDataset(ten_word_dataset)
    projection = tf.random.stateless_normal((32 * 32 * 3, 9), (1, 2))
    scored = []

    class Model:
        def scores(self, images, ranking):
            assert ranking == "natural"  # Word prediction ranks as words occur in natural images.
            scores = tf.reshape(images, [tf.shape(images)[0], -1]) @ projection
            scored.append(scores.numpy())
            return scores

    got = split_precision(model_scores(Model()), dataset, input_config(), 9, "test", 7, ks=(1, 2))
    scores = np.concatenate(scored)
    labels = split_labels(ten_word_dataset, "test")
    assert len(scores) == len(labels)
    for k in (1, 2):
        values = [
            len(set(np.argsort(-s)[:k]) & {w for w in words if w < 9}) / k
            for s, words in zip(scores, labels)
            if any(w < 9 for w in words)
        ]
        assert got[f"precision_at_{k}"] == pytest.approx(np.mean(values)) and got["images"] == len(values)


def test_a_split_without_dictionary_words_is_an_error(tmp_path):
    """A dataset sharing another's dictionary, whose first word ("green") none of its images has."""
    (tmp_path / "donor").mkdir()
    (tmp_path / "mine").mkdir()
    donor = prepare_jsonl_dataset(
        tmp_path / "donor",
        30,
        ["green", "blue"],
        image_px=16,
        probabilities=[0.8, 0.2],
        max_words=1,
        vocab_size=2,
        num_stopwords=0,
        image_size=16,
        num_shards=1,
    )
    mine = prepare_jsonl_dataset(
        tmp_path / "mine",
        40,
        ["red", "blue"],
        image_px=16,
        max_words=2,
        vocab_size=2,
        num_stopwords=0,
        image_size=16,
        num_shards=1,
        val_fraction=0.3,
        vocab_path=os.path.join(donor, "vocab.tsv"),
    )
    dataset = PreparedDataset(mine)
    assert dataset.vocabulary.words[0] == "green"
    with pytest.raises(NoLabelledImagesError, match="val split has no image with one of the first 1 "):
        split_precision(frequency_scores(dataset, 1), dataset, input_config(), 1, "val", 8)
    assert split_precision(frequency_scores(dataset, 2), dataset, input_config(), 2, "val", 8)["images"] > 0


def numpy_precision_at_k(scores, labels, k):
    values = []
    for s, row_labels in zip(scores, labels):
        truth = set(row_labels[row_labels >= 0].tolist())
        if truth:
            values.append(len(set(np.argsort(-s)[:k].tolist()) & truth) / k)
    return np.mean(values)


@pytest.mark.parametrize("k", [1, 5, 10])
def test_matches_a_numpy_reference(k):
    rng = np.random.default_rng(k)
    scores = rng.normal(size=(40, 60))
    labels = np.full((40, 6), -1)
    for i in range(40):
        if i % 7:  # Every 7th image has no word and is not counted.
            labels[i, : 1 + i % 6] = rng.choice(60, size=1 + i % 6, replace=False)
    labels[3, :3] = np.argsort(-scores[3])[:3]  # Some certain hits.
    total, count = precision_at_k(tf.constant(scores), tf.constant(labels), k)
    assert count == 34
    assert total / count == pytest.approx(numpy_precision_at_k(scores, labels, k))


def test_perfect_and_hopeless_predictions():
    scores = tf.constant([[0.0, 9.0, 8.0], [9.0, 0.0, 1.0]])
    total, count = precision_at_k(scores, tf.constant([[1, 2], [0, -1]]), 1)
    assert total / count == 1.0
    total, _ = precision_at_k(scores, tf.constant([[0, -1], [1, -1]]), 1)
    assert total == 0.0


def test_the_ceiling_and_each_images_precision_against_a_count():
    scores = tf.constant([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.7, 0.1], [0.3, 0.2, 0.1, 0.0]])
    labels = tf.constant([[0, 2, 3], [1, -1, -1], [-1, -1, -1]])
    # Image 1 has 3 words, image 2 one, image 3 none (not counted).
    assert ceiling_at_k(labels, 1) == (2.0, 2.0)
    assert ceiling_at_k(labels, 2) == (1.0 + 0.5, 2.0)
    assert ceiling_at_k(labels, 4) == (0.75 + 0.25, 2.0)
    per_image = per_image_precision(scores, labels, 2)  # Image 1: top-2 {0, 2} both right; image 2: {1, 2} one.
    np.testing.assert_allclose(per_image[:2], [1.0, 0.5])
    assert np.isnan(per_image[2])


def test_every_k_from_one_ranking_is_a_brute_force_count_ties_to_the_lower_word():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, size=(40, 12)).astype(np.float32)  # Many ties.
    labels = np.full((40, 3), -1)
    for row in range(40):
        words = rng.choice(12, size=rng.integers(0, 4), replace=False)
        labels[row, : len(words)] = words
    got = per_image_precisions(tf.constant(scores), tf.constant(labels), (1, 3, 5))
    for k in (1, 3, 5):
        for row in range(40):
            ranked = sorted(range(12), key=lambda word: (-scores[row, word], word))[:k]
            own = set(labels[row][labels[row] >= 0].tolist())
            expected = len(own & set(ranked)) / k if own else np.nan
            np.testing.assert_equal(got[k][row], expected)
        np.testing.assert_equal(got[k], per_image_precision(tf.constant(scores), tf.constant(labels), k))


def test_split_precision_gives_the_ceiling_and_per_image_values_of_its_images(ten_word_dataset):
    dataset = PreparedDataset(ten_word_dataset)
    labels = [[w for w in words if w < 9] for words in split_labels(ten_word_dataset, "val")]
    got = split_precision(frequency_scores(dataset, 9), dataset, input_config(), 9, "val", 7, ks=(1, 3), per_image=True)
    counted = [words for words in labels if words]
    for k in (1, 3):
        assert got[f"ceiling_at_{k}"] == pytest.approx(np.mean([min(k, len(w)) / k for w in counted]))
        assert len(got["per_image"][k]) == len(counted)
        assert got["per_image"][k].mean() == pytest.approx(got[f"precision_at_{k}"])


def test_word_ids_read_a_multi_hot_matrix_back_as_the_scorer_reads_labels():
    multi_hot = np.array([[0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 1, 0]], np.float32)
    assert word_ids(multi_hot).tolist() == [[1, 3, -1], [-1, -1, -1], [0, 1, 2]]
    scores = np.array([[0.1, 0.9, 0.2, 0.3], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.9]])
    # Image 1: top-2 {1, 3}, both right; image 2 has no word (not counted); image 3: top-2 {3, 2}, one right.
    assert mean_precision_at_k(scores, word_ids(multi_hot), 2) == pytest.approx(0.75)
    assert np.isnan(mean_precision_at_k(scores, word_ids(np.zeros((3, 4))), 1))


def test_first_images_cut_at_exactly_n_whatever_the_batch_size(ten_word_dataset):
    config = input_config()
    keys = {}
    for batch_size in (3, 4, 64):
        keys[batch_size] = [
            k for b in first_images(ten_word_dataset, "val", config, batch_size, 10) for k in b["keys"].numpy().tolist()
        ]
    assert len(keys[3]) == 10 and keys[3] == keys[4] == keys[64]
    assert list(first_images(ten_word_dataset, "val", config, 4, 0)) == []


def test_held_out_batches_are_read_once_when_they_fit_and_at_every_pass_when_not(ten_word_dataset, monkeypatch):
    config = input_config()
    reads = []
    original = precision.first_images

    def counted(*args, **kwargs):
        reads.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(precision, "first_images", counted)

    def scores(images):
        return {"first": tf.tile(tf.range(9, 0, -1, dtype=tf.float32)[None], [tf.shape(images)[0], 1])}

    streamed = precision.split_precisions(scores, ten_word_dataset, config, 9, "val", 4, 10, ks=(1, 5))
    assert len(reads) == 1
    held = HeldOutBatches(ten_word_dataset, "val", config, 4, 10)
    assert held.held_in_memory
    for _ in range(3):
        again = precision.split_precisions(scores, ten_word_dataset, config, 9, "val", 4, 10, ks=(1, 5), batches=held)
        assert again == streamed
    assert len(reads) == 2  # The held batches read the split once for three passes.
    # 10 images of 32 x 32 x 3 float32 are 122,880 bytes: under a smaller limit each pass reads the split again.
    streaming = HeldOutBatches(ten_word_dataset, "val", config, 4, 10, memory_bytes=100_000)
    assert not streaming.held_in_memory
    for _ in range(2):
        again = precision.split_precisions(
            scores, ten_word_dataset, config, 9, "val", 4, 10, ks=(1, 5), batches=streaming
        )
        assert again == streamed
    assert len(reads) == 4


def test_natural_and_raw_scores_come_from_one_forward_pass_and_equal_the_models_two_rankings():
    model = build_model(model_config("alexnet", num_words=12))
    log_prior = np.log(np.linspace(0.01, 0.4, 12)).astype(np.float32)
    model.set_prior(log_prior=log_prior, prior_weight=0.5)
    images = tf.random.stateless_normal((3, 64, 64, 3), (4, 2))
    expected_raw, expected_natural = model(images).numpy(), model.scores(images, "natural").numpy()
    calls = []
    forward = model.call
    model.call = lambda *args, **kwargs: calls.append(1) or forward(*args, **kwargs)
    got = natural_and_raw_scores(model)(images)
    assert len(calls) == 1
    np.testing.assert_allclose(got["raw"].numpy(), expected_raw, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["natural"].numpy(), expected_natural, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["natural"].numpy(), expected_raw + 0.5 * log_prior, rtol=1e-5, atol=1e-5)
