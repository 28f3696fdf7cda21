"""Run commands on a small real filesystem that fills up: a tmpfs of a chosen size in a private mount namespace.

The kernel itself answers a write past the size with ENOSPC, whichever layer
writes (Python, TensorFlow's C++ file system, a worker process), so what a
user sees on a full disk is what the commands see here. `run_on_small_disk`
starts `unshare -m` (plus `-r` when not root) running this module, which
mounts the tmpfs on `mount_point`, carries out the plan's steps and writes
their results outside the tmpfs; the mount vanishes with the namespace.

Steps: {"run": [argv...]} (stdout, stderr and exit status kept),
{"fill": BYTES} (a ballast file takes all but BYTES of the free space: the disk is about to be full),
{"unfill": True} (the ballast removed: space is back),
{"snapshot": DIRECTORY} (copy the tmpfs's files, ballast aside, out to look at afterwards).
"""

import json
import os
import shutil
import subprocess
import sys


def run_on_small_disk(mount_point: str, size: int, steps: list[dict], timeout: float = 600) -> list[dict]:
    """Carry out `steps` with a `size`-byte tmpfs on mount_point; one result per step (run steps: returncode,
    stdout, stderr)."""
    os.makedirs(mount_point, exist_ok=True)
    plan = os.path.join(os.path.dirname(os.path.abspath(mount_point)), "small_disk_plan.json")
    results = plan.replace("plan", "results")
    with open(plan, "w") as handle:
        json.dump({"mount_point": mount_point, "size": size, "steps": steps, "results": results}, handle)
    unshare = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(
        [*unshare, sys.executable, "-m", "tests.small_disk", plan],
        cwd=repo,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the small-disk plan failed to run: {done.stderr[-2000:]}")
    with open(results) as handle:
        return json.load(handle)


BALLAST = ".ballast"


def _mount(mount_point: str, size: int) -> None:
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mount_point], check=True)


def _fill(mount_point: str, leave: int) -> int:
    """Write a ballast file so that `leave` bytes stay free; the free bytes after."""
    stats = os.statvfs(mount_point)
    size = stats.f_bavail * stats.f_frsize - leave
    with open(os.path.join(mount_point, BALLAST), "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, size)
    stats = os.statvfs(mount_point)
    return stats.f_bavail * stats.f_frsize


def main(plan_path: str) -> None:
    with open(plan_path) as handle:
        plan = json.load(handle)
    _mount(plan["mount_point"], plan["size"])
    results = []
    for step in plan["steps"]:
        if "run" in step:
            done = subprocess.run(step["run"], capture_output=True, text=True, env=step.get("env"))
            results.append({"returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr})
        elif "fill" in step:
            results.append({"free": _fill(plan["mount_point"], step["fill"])})
        elif "unfill" in step:
            os.remove(os.path.join(plan["mount_point"], BALLAST))
            results.append({"unfilled": True})
        elif "snapshot" in step:
            shutil.copytree(
                plan["mount_point"],
                step["snapshot"],
                symlinks=True,
                ignore=lambda folder, names: [BALLAST] if folder == plan["mount_point"] else [],
            )
            results.append({"snapshot": step["snapshot"]})
    with open(plan["results"], "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main(sys.argv[1])
