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
    value = {
        "accuracy": float("nan"),
        "chance": np.float32("nan"),
        "scores": (1.5, float("inf"), -math.inf),
        "nested": [{"spearman": np.float64(0.25)}],
        "count": np.int64(3),
        "name": "x",
    }
    path = str(tmp_path / "metrics.json")
    fileio.write_json_atomic(path, value)
    assert strict_loads(open(path).read()) == {
        "accuracy": None,
        "chance": None,
        "scores": [1.5, None, None],
        "nested": [{"spearman": 0.25}],
        "count": 3,
        "name": "x",
    }
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
    found = [
        os.path.join(folder, name)
        for root in (tiny_run.workdir, tiny_run.dataset)
        for folder, _, names in os.walk(root)
        for name in names
        if name.endswith(".json")
    ]
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
    wrapped = (
        "{{function_node __wrapped__SaveV2_dtypes_108_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
        "/run/checkpoints/ckpt-2_temp/part-00000; No space left on device [Op:SaveV2]"
    )
    assert fileio.error_line(tf.errors.ResourceExhaustedError(None, None, wrapped)) == (
        "/run/checkpoints/ckpt-2_temp/part-00000; No space left on device"
    )


def test_a_full_disk_is_told_from_other_errors_whichever_layer_met_it():
    import errno

    import tensorflow as tf

    assert fileio.disk_full(OSError(errno.ENOSPC, "No space left on device", "x.tfrecord"))
    assert fileio.disk_full(tf.errors.ResourceExhaustedError(None, None, "/d/x.pickle; No space left on device"))
    assert not fileio.disk_full(OSError(errno.EACCES, "Permission denied", "x.tfrecord"))
    assert not fileio.disk_full(tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor"))


def test_stale_temporaries_a_kill_left_are_removed_and_nothing_else(tmp_path):
    kept = ["history.json", "export", ".hidden", "x.tmp-0123456789ab", "checkpoints"]
    for name in kept[:1] + kept[2:4]:
        (tmp_path / name).write_text("kept")
    (tmp_path / "export").mkdir()
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / ".history.json.tmp-0123456789ab").write_text("half")
    (tmp_path / ".export.tmp-k2j3h4_g").mkdir()
    (tmp_path / ".export.tmp-k2j3h4_g" / "model.keras").write_text("half")
    (tmp_path / ".export.old-a1b2c3d4").mkdir()
    assert fileio.remove_stale_temporaries(str(tmp_path), prefix=".export.") == [
        ".export.old-a1b2c3d4",
        ".export.tmp-k2j3h4_g",
    ]
    assert fileio.remove_stale_temporaries(str(tmp_path)) == [".history.json.tmp-0123456789ab"]
    assert sorted(os.listdir(tmp_path)) == sorted(kept)
    assert fileio.remove_stale_temporaries(str(tmp_path / "absent")) == []
    # Every name temp_path_for makes is one it removes.
    assert fileio.is_temporary(os.path.basename(fileio.temp_path_for(str(tmp_path / "metrics.json"))))


def test_a_staged_directory_replaces_the_old_one_only_when_its_block_ends_and_leaves_nothing_on_an_error(tmp_path):
    final = str(tmp_path / "data")
    (tmp_path / ".data.tmp-0123456789ab").mkdir()  # A killed writer's staging.
    with fileio.staged_directory(final) as staging:
        assert os.listdir(tmp_path) == [os.path.basename(staging)]  # The killed one's is gone; nothing final yet.
        fileio.write_text_atomic(os.path.join(staging, "a.txt"), "first")
    assert os.listdir(tmp_path) == ["data"] and open(os.path.join(final, "a.txt")).read() == "first"
    with pytest.raises(OSError, match="No space left"):
        with fileio.staged_directory(final) as staging:
            fileio.write_text_atomic(os.path.join(staging, "a.txt"), "second")
            raise OSError(28, "No space left on device")
    assert os.listdir(tmp_path) == ["data"] and open(os.path.join(final, "a.txt")).read() == "first"


def test_temporaries_left_under_a_directory_are_found_at_any_depth(tmp_path):
    (tmp_path / "run" / "checkpoints" / "ckpt-4_temp").mkdir(parents=True)
    (tmp_path / "run" / "checkpoints" / "checkpoint.tmp0123456789abcdef").write_text("")
    (tmp_path / "run" / "checkpoints" / "ckpt-2.index").write_text("")
    (tmp_path / "run" / "eval").mkdir()
    (tmp_path / "run" / "eval" / ".metrics.json.tmp-0123456789ab").write_text("")
    (tmp_path / "run" / "eval" / "metrics.json").write_text("")
    assert fileio.temporaries_under(str(tmp_path)) == [
        "run/checkpoints/checkpoint.tmp0123456789abcdef",
        "run/checkpoints/ckpt-4_temp",
        "run/eval/.metrics.json.tmp-0123456789ab",
    ]


def test_only_a_path_without_a_scheme_is_local():
    assert fileio.is_local("/tmp/x") and fileio.is_local("runs/demo")
    assert not fileio.is_local("gs://b/x") and not fileio.is_local("ram://x")
    assert fileio.absolute("gs://b/x") == "gs://b/x" and fileio.absolute("x") == os.path.abspath("x")
