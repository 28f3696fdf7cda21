"""wsl-demo end to end on a tiny slice of real data: fetch, prepare, train, export, evaluate, report; rerun skips."""

import json
import os
import subprocess
import sys

TINY = ["--config.data.corpora=('tuxpaint',)", "--config.data.max_records=160", "--config.data.num_stopwords=5",
        "--config.data.num_shards=2", "--config.data.test_fraction=0.25", "--config.data.val_fraction=0.15",
        "--config.run.model.num_words=30", "--config.run.train.max_epochs=1", "--config.run.train.epoch_size=128",
        "--config.run.train.batch_size_per_replica=16", "--config.run.eval.val_images=32",
        "--config.run.eval.batch_size=32", "--config.evaluation.test_images=60",
        "--config.evaluation.transfer_images=120", "--config.evaluation.class_network_steps=5"]


def wsl_demo(workdir):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-m", "wsl_tf.cli.demo", f"--workdir={workdir}", *TINY],
                          capture_output=True, text=True, env=env, timeout=1200)


def test_the_demo_chain_leaves_a_model_a_report_and_pictures_and_a_rerun_gives_the_same_numbers(tmp_path):
    first = wsl_demo(tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    run = tmp_path / "run"
    assert (run / "export" / "saved_model" / "saved_model.pb").exists() and (run / "export" / "model.keras").exists()
    report = (run / "eval" / "report.md").read_text()
    for section in ("## Word prediction", "## Transfer learning", "## Word embeddings", "## Pictures"):
        assert section in report
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    for picture in metrics["pictures"].values():
        assert (run / "eval" / picture).read_bytes()[:4] == b"\x89PNG"
    out = first.stdout.splitlines()
    assert f"report: {run / 'eval' / 'report.md'}" in out
    table = out[out.index(f"report: {run / 'eval' / 'report.md'}") + 1:]
    assert table[0].endswith("P@1    P@5    P@10") and table[1].startswith("this model")
    assert {line.split("  ")[0].strip() for line in table[2:]} == {
        "word frequency", "features logistic regression", "random network logistic regression"}

    again = wsl_demo(tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing to train" in again.stdout + again.stderr and "already done" in again.stdout
    assert again.stdout.splitlines()[-len(table):] == table  # The same numbers.
