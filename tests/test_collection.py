"""A collection's index (wsl_tf/collection.py): what the export gives each image, written in shards that a rerun
after a kill completes byte for byte; exact search by words and by image against numpy."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import image_bytes, png_bomb
from wsl_tf import collection

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture(scope="module")
def signatures(tiny_run):
    return tf.saved_model.load(os.path.join(tiny_run.export, "saved_model")).signatures


@pytest.fixture(scope="module")
def items():
    """Eleven images: real photos, random drawings, a text file, a decompression bomb and an unreadable one."""
    real = [open(os.path.join(DATA, name), "rb").read() for name in ("crow.png", "grace_hopper.jpg")]
    drawn = [image_bytes(48 + i, 40, fmt="PNG" if i % 2 else "JPEG", seed=i) for i in range(6)]
    return (
        [(f"real/{i}", data) for i, data in enumerate(real)]
        + [(f"drawn/{i}", d) for i, d in enumerate(drawn)]
        + [
            ("bad/text", b"not an image"),
            ("bad/bomb", png_bomb(20_000)),
            ("bad/missing", None),
        ]
    )


def export_of(tiny_run) -> dict:
    return {"path": tiny_run.export, "checkpoint": "ckpt-1", "embedding_dim": 512, "num_words": 20}


def test_every_image_gets_what_serving_gives_it_and_bad_ones_are_listed(
    tiny_run, signatures, items, tmp_path, monkeypatch
):
    manifest = collection.write_index(
        signatures, items, str(tmp_path), export_of(tiny_run), batch_size=4, shard_size=5, progress=False
    )
    assert (manifest["images"], manifest["bad_images"], [s["images"] for s in manifest["shards"]]) == (11, 3, [5, 5, 1])
    index = collection.load_index(str(tmp_path))
    assert index.keys == [key for key, _ in items] and index.valid.tolist() == [True] * 8 + [False] * 3
    good = [data for _, data in items[:8]]
    out = signatures["serving_default"](images=tf.constant(good))
    np.testing.assert_allclose(index.embeddings[:8], out["embedding"].numpy(), rtol=1e-6, atol=1e-6)
    details = index.details(range(11))
    assert [d["words"] for d in details[:8]] == [[w.decode() for w in row] for row in out["words"].numpy().tolist()]
    np.testing.assert_allclose([d["scores"] for d in details[:8]], out["scores"].numpy(), rtol=1e-6)
    assert not index.embeddings[8:].any() and details[0]["thumbnail"][:2] == b"\xff\xd8"  # JPEG thumbnails.
    assert [d["words"] for d in details[8:]] == [[], [], []]
    # Rows asked in any order, across shards, come back in that order.
    again = index.details([10, 2, 7])
    assert [d["words"] for d in again] == [details[i]["words"] for i in (10, 2, 7)]
    np.testing.assert_array_equal(again[2]["embedding"], index.embeddings[7])
    assert again[0]["embedding"].size == 0  # No embedding for a bad image.
    lean = collection.load_index(str(tmp_path), embeddings=False)  # What a cached approximate search loads.
    assert lean.embeddings is None and lean.keys == index.keys and lean.valid.tolist() == index.valid.tolist()
    assert [d["words"] for d in lean.details([10, 2, 7])] == [d["words"] for d in again]
    monkeypatch.setattr(collection, "LOAD_BATCH", 2)  # A shard's records reach Python in several batches.
    rows = [4, 0, 3, 10, 2, 1]
    assert [d["scores"] for d in index.details(rows)] == [details[i]["scores"] for i in rows]
    bad = (tmp_path / "bad.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in bad[1:]] == ["bad/text", "bad/bomb", "bad/missing"]
    assert bad[3].endswith(collection.UNREADABLE) and json.loads((tmp_path / "manifest.json").read_text()) == manifest


def test_float16_halves_the_embeddings_within_their_precision(tiny_run, signatures, items, tmp_path):
    collection.write_index(signatures, items[:4], str(tmp_path / "32"), export_of(tiny_run), progress=False)
    collection.write_index(
        signatures, items[:4], str(tmp_path / "16"), export_of(tiny_run), dtype="float16", progress=False
    )
    full, half = (collection.load_index(str(tmp_path / n)) for n in ("32", "16"))
    assert half.manifest["dtype"] == "float16"
    np.testing.assert_allclose(half.embeddings, full.embeddings, rtol=2e-3, atol=1e-3)
    sizes = [os.path.getsize(tmp_path / n / "embeddings-00000.tfrecord") for n in ("32", "16")]
    assert sizes[1] < sizes[0] - 4 * 512 * 2 * 0.9  # 2 bytes a value fewer, for each of the 4 images.


def test_a_rerun_after_a_kill_skips_finished_shards_and_ends_byte_identical(tiny_run, signatures, items, tmp_path):
    whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")
    collection.write_index(signatures, items, whole, export_of(tiny_run), shard_size=4, progress=False)
    collection.write_index(signatures, items, killed, export_of(tiny_run), shard_size=4, progress=False)
    for name in ("manifest.json", "bad.tsv", "embeddings-00002.tfrecord"):  # As a kill in the third shard leaves it.
        os.remove(os.path.join(killed, name))
    with open(os.path.join(killed, ".embeddings-00002.tfrecord.tmp-0123456789ab"), "wb") as handle:
        handle.write(b"half a shard")
    finished = os.path.getmtime(os.path.join(killed, "embeddings-00000.tfrecord"))
    calls = []

    class Counting(dict):
        def __getitem__(self, name):
            calls.append(name)
            return signatures[name]

    collection.write_index(Counting(), items, killed, export_of(tiny_run), shard_size=4, progress=False)
    assert sorted(os.listdir(killed)) == sorted(os.listdir(whole))
    for name in os.listdir(whole):
        assert open(os.path.join(killed, name), "rb").read() == open(os.path.join(whole, name), "rb").read(), name
    assert os.path.getmtime(os.path.join(killed, "embeddings-00000.tfrecord")) == finished
    with pytest.raises(collection.CollectionIndexError, match="other settings .*dtype differ"):
        collection.write_index(
            signatures, items, killed, export_of(tiny_run), shard_size=4, dtype="float16", progress=False
        )


def test_exact_search_by_words_and_by_image_is_numpys(monkeypatch):
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(500, 16)).astype(np.float32)
    valid = rng.random(500) > 0.1
    vectors, biases = rng.normal(size=(2, 16)).astype(np.float32), rng.normal(size=2).astype(np.float32)
    scores = collection.word_query_scores(embeddings, vectors, biases)
    expected = (embeddings @ vectors.T + biases).mean(1)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    rows, values = collection.top_k(scores, valid, 10)
    order = [r for r in np.argsort(-expected, kind="stable") if valid[r]][:10]
    assert rows.tolist() == order and values == pytest.approx(expected[order], abs=1e-5)
    query = rng.normal(size=16).astype(np.float32)
    cosine = embeddings @ query / np.linalg.norm(embeddings, axis=1) / np.linalg.norm(query)
    np.testing.assert_allclose(collection.image_query_scores(embeddings, query), cosine, atol=1e-5)
    assert collection.top_k(cosine, valid, 10_000)[0].size == valid.sum()  # Never more than the valid images.
    monkeypatch.setattr(collection, "SEARCH_CHUNK", 64)  # Many chunks, and a float16 index: the same.
    half = embeddings.astype(np.float16)
    np.testing.assert_allclose(
        collection.word_query_scores(half, vectors, biases),
        (half.astype(np.float32) @ vectors.T + biases).mean(1),
        rtol=1e-4,
        atol=1e-4,
    )


def clustered_index(count=20_000, dim=64, clusters=200, seed=0) -> collection.CollectionIndex:
    """Embeddings around cluster centres, as a trained model's are (not a uniform cloud), 5% not valid."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 3
    embeddings = (centres[rng.integers(0, clusters, count)] + rng.normal(size=(count, dim))).astype(np.float32)
    valid = rng.random(count) > 0.05
    embeddings[~valid] = 0.0
    return collection.CollectionIndex([str(i) for i in range(count)], valid, embeddings, {})


@pytest.mark.parametrize("kind", collection.QUERY_KINDS)
def test_the_approximate_index_finds_what_exact_search_finds_and_is_cached(kind, tmp_path):
    whole = clustered_index(count=20_100)
    index = collection.CollectionIndex(whole.keys[:20_000], whole.valid[:20_000], whole.embeddings[:20_000], {})
    said = []
    approximate = collection.approximate_index(index, str(tmp_path), kind, log=said.append)
    info = json.loads((tmp_path / "approximate.json").read_text())[kind]
    assert info["recall_at_10"] >= 0.95 and f"recall@10 against exact search {info['recall_at_10']:.3f}" in said[0]
    # Queries it was not tuned on, of its kind (images the index does not hold; random word-like directions):
    # numpy's exact top 10 against the index's.
    rows = index.embeddings[index.valid]
    queries = (
        whole.embeddings[20_000:][whole.valid[20_000:]]
        if kind == "image"
        else (np.random.default_rng(7).normal(size=(50, 64)) * rows.std(0)).astype(np.float32)
    )
    hits = []
    for query in queries:
        data = rows / np.linalg.norm(rows, axis=1, keepdims=True) if kind == "image" else rows
        q = query / np.linalg.norm(query) if kind == "image" else query
        exact = set(np.flatnonzero(index.valid)[np.argsort(-(data @ q), kind="stable")[:10]].tolist())
        found = collection.approximate_top_k(approximate, q, 10)[0]
        assert index.valid[found].all()
        hits.append(len(exact & set(found.tolist())) / 10)
    assert np.mean(hits) >= 0.9
    again = collection.approximate_index(index, str(tmp_path), kind, log=said.append)
    assert len(said) == 1 and again.ntotal == int(index.valid.sum())  # Read from the cache, not rebuilt.


def test_a_thumbnail_is_a_jpeg_at_most_128_px_and_a_small_jpeg_is_its_own():
    import io

    from PIL import Image

    small = image_bytes(100, 60)  # An RGB JPEG within the size: kept as it is.
    assert collection.thumbnail(small) == small
    for data, expected in ((image_bytes(600, 300), (128, 64)), (image_bytes(90, 300, fmt="PNG"), (38, 128))):
        thumb = Image.open(io.BytesIO(collection.thumbnail(data)))
        assert (thumb.format, thumb.mode, thumb.size) == ("JPEG", "RGB", expected)
    assert collection.thumbnail(b"not an image") == b""


def test_embedding_holds_a_few_batches_of_images_not_a_shard(tiny_run, signatures, tmp_path):
    pulled, pulled_at_calls, sizes = [0], [], []

    def images():
        for i in range(60):
            pulled[0] += 1
            yield f"{i:02d}.png", image_bytes(32, 32, fmt="PNG", seed=i)

    def serve(images):
        pulled_at_calls.append(pulled[0])
        sizes.append(int(images.shape[0]))
        return signatures["serving_default"](images=images)

    manifest = collection.write_index(
        {"serving_default": serve}, images(), str(tmp_path), export_of(tiny_run), 4, 50, progress=False
    )
    assert [s["images"] for s in manifest["shards"]] == [50, 10] and sizes == [4] * 12 + [2, 4, 4, 2]
    # When the model is called, the images read beyond those it was given before are at most the batches in
    # flight and the one being read (reading a whole shard first would have read 50 before the first call).
    given_before = np.cumsum([0, *sizes[:-1]])
    assert all(p - g <= 4 * (collection.IN_FLIGHT + 1) for p, g in zip(pulled_at_calls, given_before))
    assert pulled_at_calls[0] <= 4 * collection.IN_FLIGHT


def test_packed_keys_give_back_each_key_in_order_unicode_included():
    keys = ["a.jpg", "dossier/été.png", "", "日本/猫.jpg"]
    packed = collection.PackedKeys.of([[k.encode() for k in keys[:2]], [k.encode() for k in keys[2:]]])
    assert len(packed) == 4 and list(packed) == keys and packed == keys and packed[3] == "日本/猫.jpg"
    assert packed[1:3] == keys[1:3] and packed != keys[:3]
    assert len(collection.PackedKeys.of([])) == 0


def test_a_cached_approximate_index_reads_back_from_a_filesystem_that_is_not_local():
    index = clustered_index(count=2_000)
    said = []
    built = collection.approximate_index(index, "ram://approximate_cache", "words", log=said.append)
    again = collection.approximate_index(index, "ram://approximate_cache", "words", log=said.append)
    assert len(said) == 1 and again.ntotal == built.ntotal == int(index.valid.sum()) and again.nprobe == built.nprobe
