"""A small prepared dataset shared by the input tests."""

import json

import numpy as np
import pytest

from data_tools import preparer
from data_tools.sources.jsonl import JsonlSource
from tests.conftest import image_bytes

WORDS = ["sun", "sea", "tree", "dog", "cat", "car", "road", "sky", "hill", "boat"]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    rng = np.random.default_rng(0)
    with open(root / "list.jsonl", "w") as handle:
        for i in range(300):
            (root / f"{i}.png").write_bytes(image_bytes(40, 40, fmt="PNG", seed=i))
            words = rng.choice(WORDS, size=rng.integers(1, 4), replace=False, p=np.arange(10, 0, -1) / 55)
            handle.write(json.dumps({"image": f"{i}.png", "text": "photo " + " ".join(words), "key": f"k{i}"}) + "\n")
    out = root / "data"
    options = preparer.PrepareOptions(output_dir=str(out), vocab_size=20, num_stopwords=1, image_size=32,
                                      num_shards=3, val_fraction=0.1, test_fraction=0.1, workers=0,
                                      progress=False)
    preparer.DatasetPreparer(JsonlSource(str(root / "list.jsonl")), options, log=lambda *_: None).run()
    return str(out)
