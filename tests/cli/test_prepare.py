"""wsl-prepare as a user runs it: its errors in one line (in this process), and on a disk that fills up (slow).
Killed with SIGKILL and rerun: tests/test_random_kills.py."""

import filecmp
import json
import os
import re
import sys

import pytest

from data_tools import preparer
from tests.helpers import image_bytes, prepare_jsonl_dataset, run_command
from tests.small_disk import run_on_small_disk
from wsl_tf import fileio
from wsl_tf.cli import prepare


@pytest.fixture(scope="module")
def slow_corpus(tmp_path_factory):
    """Enough 320 px PNGs that one worker takes several seconds."""
    root = tmp_path_factory.mktemp("slow")
    with open(root / "list.jsonl", "w") as handle:
        for i in range(400):
            (root / f"{i}.png").write_bytes(image_bytes(320, 320, fmt="PNG", seed=i))
            handle.write(json.dumps({"image": f"{i}.png", "text": f"word{i % 7} common animal {i % 3}"}) + "\n")
    return str(root / "list.jsonl")


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--source=jsonl", "--input=/nonexistent.jsonl", "--output_dir=OUT"],
            "wsl-prepare: error: --input=/nonexistent.jsonl: no such file or directory",
        ),
        (
            ["--source=jsonl", "--input=CORPUS", "--output_dir=OUT", "--vocab_size=0"],
            "wsl-prepare: error: --vocab_size=0: must be in [1, 1000000]",
        ),
        (
            ["--source=yfcc100m", "--input=CORPUS", "--output_dir=OUT"],
            "wsl-prepare: error: --image_dir is required for this source",
        ),
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
    prepare_jsonl_dataset(
        tmp_path,
        80,
        words,
        image_px=8,
        vocab_size=1000,
        num_stopwords=30,
        image_size=16,
        num_shards=1,
        val_fraction=0.0,
        test_fraction=0.0,
        log=said.append,
    )
    warnings = [line for line in said if "warning" in line]
    distinct = len({w for line in open(tmp_path / "list.jsonl") for w in json.loads(line)["text"].split()})
    assert warnings == [
        f"wsl-prepare: warning: the dictionary has {distinct - 30} words (--vocab_size=1000): the "
        f"train split has {distinct} distinct words and --num_stopwords=30 drops the most common 30 "
        f"of them; --num_stopwords=0 would keep {distinct}, and more data more"
    ]


@pytest.mark.parametrize(
    "distinct, stopwords, size, requested, warned",
    [
        (1000, 500, 500, 500, False),  # Half the words are stop words, the dictionary is full: fine.
        (1000, 501, 499, 499, True),  # More than half.
        (1000, 20, 980, 1000, True),  # A full corpus but smaller than asked for.
        (1000, 0, 1000, 1000, False),
    ],
)
def test_the_small_dictionary_rule(distinct, stopwords, size, requested, warned):
    assert (preparer.small_dictionary_warning(distinct, stopwords, size, requested) is not None) == warned


@pytest.mark.parametrize(
    "distinct, stopwords, size, requested, hint",
    [
        (1000, 501, 499, 499, "drops the most common 501, more than half of them; --num_stopwords=500 or lower"),
        (1000, 600, 400, 500, "drops the most common 600 of them; --num_stopwords=500 would keep 500"),
        (300, 500, 0, 1000, "drops the most common 300 of them; --num_stopwords=0 would keep 300, and more data more"),
        (300, 0, 300, 1000, "has only 300 distinct words; add data for more"),
    ],
)
def test_the_small_dictionary_line_gives_the_setting_that_keeps_more(distinct, stopwords, size, requested, hint):
    line = preparer.small_dictionary_warning(distinct, stopwords, size, requested)
    assert line.startswith(f"wsl-prepare: warning: the dictionary has {size} words (--vocab_size={requested})")
    assert hint in line


@pytest.mark.slow
def test_a_full_disk_is_one_line_leaves_nothing_half_written_and_the_rerun_completes(slow_corpus, tmp_path):
    """On a real filesystem that fills up (a tmpfs in a private mount namespace): the kernel's own ENOSPC."""
    disk = tmp_path / "disk"

    def command(output):
        return [
            sys.executable,
            "-m",
            "wsl_tf.cli.prepare",
            "--source=jsonl",
            f"--input={slow_corpus}",
            f"--output_dir={disk / output}",
            "--vocab_size=5",
            "--num_stopwords=1",
            "--image_size=32",
            "--num_shards=2",
            "--workers=2",
            "--chunk_size=20",
            "--noprogress",
        ]

    results = run_on_small_disk(
        str(disk),
        256 << 20,
        [
            {"run": command("reference")},
            {"fill": 256 << 10},
            {"run": command("data")},
            {"snapshot": str(tmp_path / "full")},
            {"unfill": True},
            {"run": command("data")},
            {"snapshot": str(tmp_path / "after")},
        ],
    )
    assert results[0]["returncode"] == 0 and results[5]["returncode"] == 0, results[5]["stderr"]
    assert results[0]["stderr"] == results[5]["stderr"] == ""  # No TensorFlow lines, from it or its 2 workers.
    failed = results[2]
    assert failed["returncode"] == 1
    (line,) = failed["stderr"].splitlines()
    assert re.fullmatch(
        rf"wsl-prepare: error: no space left on the device \({disk}/data/\S+; No space left on "
        r"device\)\. Nothing half-written is kept: free some space, then rerun the same command to "
        r"go on from its last complete step",
        line,
    ), line
    full = tmp_path / "full" / "data"
    assert fileio.temporaries_under(str(full)) == []
    assert [n for n in os.listdir(full) if n.endswith(".tfrecord") or n == "dataset.json"] == []
    staged = len([n for n in os.listdir(full / preparer.STAGING_DIR) if n.startswith("chunk-") and n.endswith(".json")])
    (wrote,) = [line for line in results[5]["stdout"].splitlines() if line.startswith("wrote ")]
    assert int(wrote.split("(")[1].split()[0]) == 400 - 20 * staged  # Went on from the staged chunks.
    after, reference = tmp_path / "after" / "data", tmp_path / "after" / "reference"
    names = sorted(os.listdir(reference))
    assert sorted(os.listdir(after)) == names
    assert filecmp.cmpfiles(after, reference, names, shallow=False)[1:] == ([], [])
