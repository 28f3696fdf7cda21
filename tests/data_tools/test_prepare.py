"""wsl-prepare as a user runs it: its errors in one line (in this process), and a separate process killed and
rerun (slow)."""

import filecmp
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from data_tools import prepare, preparer
from data_tools.sources.jsonl import JsonlSource
from tests.helpers import image_bytes, prepare_jsonl_dataset, run_command


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


@pytest.mark.slow
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
    (wrote,) = [line for line in stdout.splitlines() if line.startswith("wrote ")]
    processed = int(wrote.split("(")[1].split()[0])
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
def test_bad_flags_fail_with_one_clear_line(tmp_path, capsys, args, message):
    (tmp_path / "list.jsonl").write_text("")
    args = [a.replace("OUT", str(tmp_path / "out")).replace("CORPUS", str(tmp_path / "list.jsonl")) for a in args]
    assert run_command(prepare, *args) != 0
    stderr = capsys.readouterr().err
    assert message in stderr
    assert stderr.startswith("wsl-prepare: error:") and stderr.count("\n") == 1
    assert not (tmp_path / "out" / "dataset.json").exists()


def test_a_dictionary_the_stop_words_empty_is_said_in_one_line(tmp_path):
    """A small corpus under the paper's 500 stop words: the preparer says what happened and what to change."""
    said = []
    words = [f"word{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(40)]
    prepare_jsonl_dataset(tmp_path, 80, words, image_px=8, vocab_size=1000, num_stopwords=30, image_size=16,
                          num_shards=1, val_fraction=0.0, test_fraction=0.0, log=said.append)
    warnings = [line for line in said if "warning" in line]
    distinct = len({w for line in open(tmp_path / "list.jsonl") for w in json.loads(line)["text"].split()})
    assert warnings == [f"wsl-prepare: warning: the dictionary has {distinct - 30} words (--vocab_size=1000): the "
                        f"train split has {distinct} distinct words and --num_stopwords=30 drops the most common 30 "
                        f"of them; lower --num_stopwords or add data"]


@pytest.mark.parametrize("distinct, stopwords, size, requested, warned", [
    (1000, 500, 500, 500, False),  # Half the words are stop words, the dictionary is full: fine.
    (1000, 501, 499, 499, True),  # More than half.
    (1000, 20, 980, 1000, True),  # A full corpus but smaller than asked for.
    (1000, 0, 1000, 1000, False),
])
def test_the_small_dictionary_rule(distinct, stopwords, size, requested, warned):
    assert (preparer.small_dictionary_warning(distinct, stopwords, size, requested) is not None) == warned
