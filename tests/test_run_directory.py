"""The run directory on a filesystem that is not local disk: train -> resume -> export -> eval -> predict on
TensorFlow's ram://, with nothing landing on local disk; and the layout's own reads and writes."""

import os
import uuid

import ml_collections
import pytest
import tensorflow as tf

from tests.conftest import RUN_WORDS, tiny_run_config
from tests.helpers import image_bytes
from wsl_tf.run_directory import RunDirectory, RunDirectoryError


def test_layout_reads_back_what_it_writes(tmp_path):
    run = RunDirectory(str(tmp_path / "run"))
    with pytest.raises(RunDirectoryError, match="not a run directory: no config.json"):
        run.read_config()
    assert run.read_data() is None and run.read_history() == [] and run.read_metrics() is None
    run.create()
    run.write_config(ml_collections.ConfigDict({"model": {"num_words": 7}}))
    run.write_data({"dir": "d", "num_words": 7}, "cat\t3\ndog\t2\n")
    run.write_history([{"epoch": 1, "loss": float("nan")}])
    run.prepare_eval()
    run.write_metrics({"x": float("inf")})
    assert run.read_config().model.num_words == 7
    assert run.read_data() == {"dir": "d", "num_words": 7} and run.words() == ["cat", "dog"]
    assert run.read_history() == [{"epoch": 1, "loss": None}] and run.read_metrics() == {"x": None}
    assert sorted(os.listdir(run.path)) == ["config.json", "data.json", "eval", "history.json", "vocab.tsv"]
    assert run.metrics_path == os.path.join(run.path, "eval", "metrics.json")


def test_train_export_eval_predict_on_a_filesystem_that_is_not_local(run_dataset, tmp_path, monkeypatch):
    from wsl_tf.cli.predict import predict, saved_model_dir
    from wsl_tf.cli.train import train_and_export
    from wsl_tf.eval.run_evaluation import evaluate_run

    monkeypatch.chdir(tmp_path)  # A path written as if local would land here, as ./ram:/...
    run = RunDirectory(f"ram://wsl_tf_test_{uuid.uuid4().hex[:8]}/run")
    config = tiny_run_config(run_dataset)
    first = train_and_export(config, run.path, log=lambda *_: None)
    config.train.max_epochs = 3  # Resuming reads its own checkpoint back (ram:// appends to a rewritten file).
    resumed = train_and_export(config, run.path, log=lambda *_: None)
    assert (first["epoch"], resumed["epoch"]) == (2, 3) and resumed["step"] > first["step"]
    assert run.latest_checkpoint().endswith(f"ckpt-{resumed['step']}")
    assert [entry["epoch"] for entry in run.read_history()] == [1, 2, 3]

    export = run.export
    assert tf.io.gfile.exists(os.path.join(export, "model.keras"))
    assert tf.io.gfile.isdir(os.path.join(export, "saved_model"))
    metrics = evaluate_run(
        run.path,
        dict(
            experiments=("word_prediction", "pictures"),
            test_images=32,
            baseline_train_images=64,
            map_images=12,
            map_words=10,
        ),
        progress=False,
        log=lambda *_: None,
    )
    assert run.read_metrics()["checkpoint"] == metrics["checkpoint"] == run.latest_checkpoint()
    assert metrics["run"] == run.path and 0.0 <= metrics["word_prediction"]["precision_at_1"] <= 1.0
    assert tf.io.gfile.exists(run.report_path) and tf.io.gfile.exists(run.join("eval", "predictions.png"))
    assert tf.io.gfile.listdir(run.eval_cache)  # The feature cache is written, and reread below.
    again = evaluate_run(
        run.path, dict(experiments=("pictures",), map_images=12, map_words=10), progress=False, log=lambda *_: None
    )
    assert again["pictures"] == metrics["pictures"]

    signatures = tf.saved_model.load(saved_model_dir(export)).signatures
    answers = predict(signatures, [image_bytes(64, 64), b"not an image"], None, 3)
    assert answers[1] is None and len(answers[0]["words"]) == 3 and set(answers[0]["words"]) <= set(RUN_WORDS)
    assert os.listdir(tmp_path) == []  # Nothing went to local disk.
