"""benchmarks/random_kills.py at 3 kills a job (slow): wsl-prepare (2 worker processes) and wsl-train + wsl-eval
(the demo's setting) killed with SIGKILL at seeded moments, rerun, and compared with uninterrupted runs file by file
and weight by weight; a rerun after committed work must go on from it."""

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_three_kills_of_each_job_end_exactly_where_uninterrupted_runs_end(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, "benchmarks", "random_kills.py"),
            "--kills=3",
            "--images=300",
            f"--workdir={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [line["job"] for line in lines] == ["prepare", "train"]
    for line in lines:
        assert line["differing"] == 0, line["differences"]
        assert line["kills"] == 3, line  # A kill after a faster run's end is tried again.
        assert line["identical"] == line["kills"]
        assert line["went_on"] == line["with_committed_work"], line  # Resumed, not started over.
        assert all(0 <= moment < line["reference_s"] for moment in line["moments_s"])
    # Most of a short wsl-prepare is its start, so its 3 kills may all come before a chunk is staged (its going on
    # from staged chunks is asserted in tests/cli/test_prepare.py); training's span is mostly work.
    assert lines[1]["with_committed_work"] >= 1, lines[1]
