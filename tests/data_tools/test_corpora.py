"""Fetching the real corpora the registries ship (cached, so fetched once): the fetch logic against a stand-in
apt-get serving a package built here, and the real corpora (network)."""

import os

import numpy as np
import pytest

from data_tools import corpora, preparer
from data_tools.sources.tuxpaint import TuxpaintSource
from wsl_tf import records


def test_a_package_that_cannot_be_had_gives_a_clear_error_and_no_cache_entry(fake_apt, monkeypatch, tmp_path):
    bogus = corpora.Corpus("bogus", "nothing", "usr", debian=("wsl-tf-no-such-package",))
    monkeypatch.setitem(corpora.CORPORA, "bogus", bogus)
    with pytest.raises(
        corpora.FetchError,
        match="apt-get download wsl-tf-no-such-package .* failed: E: Unable to "
        "locate package wsl-tf-no-such-package. By hand: ",
    ):
        corpora.fetch("bogus", log=lambda *_: None)
    assert os.listdir(tmp_path / "cache") == []
    with pytest.raises(corpora.FetchError, match="unknown corpus 'nope'"):
        corpora.fetch("nope")


def test_a_debian_download_shows_its_bytes_against_the_packages_size(fake_apt, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(
        corpora.CORPORA, "tiny", corpora.Corpus("tiny", "a test corpus", "usr/share/tiny", debian=("tiny-corpus",))
    )
    said = []
    root = corpora.fetch("tiny", log=said.append)
    assert root == str(tmp_path / "cache" / "tiny" / "usr" / "share" / "tiny")
    assert open(os.path.join(root, "data.bin"), "rb").read() == np.random.default_rng(0).bytes(10_000)
    bar = [part for part in capsys.readouterr().err.split("\r") if part.startswith("tiny-corpus:")][-1]
    done, total = bar.split("| ")[1].split(" [")[0].split("/")
    assert "100%" in bar and done == total and total.endswith("k")  # About 10 kB, known before the download.
    assert said[-2:] == ["unpacked tiny-corpus", f"fetched tiny into {tmp_path / 'cache' / 'tiny'}"]
    assert corpora.is_fetched("tiny") and corpora.fetch("tiny", log=said.append) == root  # Cached: not again.
    assert len(said) == 3


@pytest.mark.network
def test_men_similarity_file_is_fetched_and_cached():
    path = corpora.fetch("men", log=lambda *_: None)
    rows = [line.split() for line in open(path)]
    assert len(rows) == 3000
    assert all(len(r) == 3 and 0 <= float(r[2]) <= 50 for r in rows)
    assert corpora.is_fetched("men") and corpora.fetch("men", log=print) == path


@pytest.mark.network
def test_real_tuxpaint_corpus_prepares_a_bilingual_dataset(tmp_path):
    root = corpora.fetch("tuxpaint", log=lambda *_: None)
    options = preparer.PrepareOptions(
        output_dir=str(tmp_path),
        vocab_size=1000,
        num_stopwords=20,
        image_size=32,
        num_shards=2,
        workers=2,
        progress=False,
    )
    metadata = preparer.DatasetPreparer(TuxpaintSource(root, ["en", "fr"]), options, log=lambda *_: None).run()
    assert 900 <= metadata["records_read"] <= 1000
    assert metadata["skipped_total"] < 10
    # Train images left without a dictionary word are dropped: with single letters no longer words, "a" is
    # not among the 20 stop words and one more real word is, so about 800 of the ~950 stamps remain.
    assert sum(metadata["images"].values()) > 750
    vocab = open(tmp_path / "vocab.tsv").read().split()
    assert {"hat", "chapeau", "flower", "fleur", "red", "rouge"} <= set(vocab[::2])
    import tensorflow as tf

    languages = {
        records.parse_example(s)[records.LANGUAGE].numpy()
        for s in tf.data.TFRecordDataset(records.shard_paths(str(tmp_path), "train"))
    }
    assert languages == {b"en", b"fr"}
