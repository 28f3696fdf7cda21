"""wsl-prepare as a user runs it: a separate process, killed and rerun."""

import filecmp
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from data_tools import preparer
from data_tools.sources.jsonl import JsonlSource
from tests.helpers import image_bytes


def wsl_prepare(*args, **kwargs):
    """The command with the environment a user has: no TF_CPP_MIN_LOG_LEVEL."""
    command = [sys.executable, "-m", "data_tools.prepare", *args]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)


@pytest.fixture(scope="module")
def slow_corpus(tmp_path_factory):
    """Enough 320 px PNGs that one worker takes several seconds."""
    root = tmp_path_factory.mktemp("slow")
    with open(root / "list.jsonl", "w") as handle:
        for i in range(400):
            (root / f"{i}.png").write_bytes(image_bytes(320, 320, fmt="PNG", seed=i))
            handle.write(json.dumps({"image": f"{i}.png", "text": f"word{i % 7} common animal {i % 3}"}) + "\n")
    return str(root / "list.jsonl")


def test_kill_9_mid_run_then_rerun_completes_identically(slow_corpus, tmp_path):
    out = tmp_path / "out"
    flags = ["--source=jsonl", f"--input={slow_corpus}", f"--output_dir={out}", "--vocab_size=5",
             "--num_stopwords=1", "--image_size=32", "--num_shards=2", "--workers=1", "--chunk_size=20",
             "--noprogress"]
    process = wsl_prepare(*flags)
    staging = out / preparer.STAGING_DIR
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if staging.exists() and len([n for n in os.listdir(staging) if n.endswith(".json")]) >= 3:
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "dataset.json").exists()
    assert not [n for n in os.listdir(out) if n.endswith(".tfrecord")]  # No final shard, whole or partial.
    done_before = len([n for n in os.listdir(staging) if n.startswith("chunk-") and n.endswith(".json")])

    rerun = wsl_prepare(*flags)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert stderr == ""  # No TensorFlow start-up lines, from the command or its worker process.
    processed = int(stdout.split("(")[1].split()[0])
    assert processed == 400 - 20 * done_before  # Resumed, not restarted.

    reference = tmp_path / "reference"
    options = preparer.PrepareOptions(output_dir=str(reference), vocab_size=5, num_stopwords=1, image_size=32,
                                      num_shards=2, workers=0, chunk_size=20, progress=False)
    preparer.DatasetPreparer(JsonlSource(slow_corpus), options, log=lambda *_: None).run()
    names = sorted(os.listdir(reference))
    assert sorted(os.listdir(out)) == names
    assert filecmp.cmpfiles(out, reference, names, shallow=False)[1:] == ([], [])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--source=jsonl", "--input=/nonexistent.jsonl", "--output_dir=OUT"],
         "wsl-prepare: error: --input=/nonexistent.jsonl: no such file or directory"),
        (["--source=jsonl", "--input=CORPUS", "--output_dir=OUT", "--vocab_size=0"],
         "wsl-prepare: error: --vocab_size=0: must be in [1, 1000000]"),
        (["--source=yfcc100m", "--input=CORPUS", "--output_dir=OUT"],
         "wsl-prepare: error: --image_dir is required for this source"),
        (["--source=bogus", "--output_dir=OUT"], "flag --source=bogus: value should be one of"),
    ],
)
def test_bad_flags_fail_with_one_clear_line(slow_corpus, tmp_path, args, message):
    args = [a.replace("OUT", str(tmp_path)).replace("CORPUS", slow_corpus) for a in args]
    process = wsl_prepare(*args)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode != 0
    assert message in stderr
    assert stderr.startswith("wsl-prepare: error:") and stderr.count("\n") == 1
    assert not (tmp_path / "dataset.json").exists()
