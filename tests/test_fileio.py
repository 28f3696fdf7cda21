"""Atomic writes and strict JSON: a figure that does not exist is null, never NaN, in every file a run writes."""

import json
import math
import os

import numpy as np
import pytest

from wsl_tf import fileio


def strict_loads(text: str):
    """JSON as JavaScript's JSON.parse reads it: NaN, Infinity and -Infinity are refused."""
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_missing_figures_are_written_as_null(tmp_path):
    value = {"accuracy": float("nan"), "chance": np.float32("nan"), "scores": (1.5, float("inf"), -math.inf),
             "nested": [{"spearman": np.float64(0.25)}], "count": np.int64(3), "name": "x"}
    path = str(tmp_path / "metrics.json")
    fileio.write_json_atomic(path, value)
    assert strict_loads(open(path).read()) == {"accuracy": None, "chance": None, "scores": [1.5, None, None],
                                               "nested": [{"spearman": 0.25}], "count": 3, "name": "x"}
    assert os.listdir(tmp_path) == ["metrics.json"]  # No temporary file left.
    with pytest.raises(ValueError):
        strict_loads(json.dumps({"accuracy": float("nan")}))  # What json.dumps alone would have written.


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = str(tmp_path / "summary.json")
    fileio.write_json_atomic(path, {"step": 1})
    with pytest.raises(TypeError):
        fileio.write_json_atomic(path, {"step": object()})
    assert strict_loads(open(path).read()) == {"step": 1} and os.listdir(tmp_path) == ["summary.json"]


def test_every_json_file_of_the_shared_run_and_its_dataset_is_strict(tiny_run):
    found = [os.path.join(folder, name) for root in (tiny_run.workdir, tiny_run.dataset)
             for folder, _, names in os.walk(root) for name in names if name.endswith(".json")]
    names = {os.path.basename(p) for p in found}
    assert {"config.json", "data.json", "history.json", "summary.json", "export.json", "dataset.json"} <= names
    for path in found:
        strict_loads(open(path).read())


def test_an_error_is_one_short_line_of_its_message_or_its_type():
    import tensorflow as tf

    assert fileio.error_line(ValueError("first\nsecond")) == "first"
    assert fileio.error_line(KeyError()) == "KeyError"
    assert fileio.error_line(ValueError("x" * 300), limit=10) == "x" * 10
    assert fileio.error_line(tf.errors.DataLossError(None, None, "corrupted record at 12")) == "corrupted record at 12"
