"""Atomic writes on any tf.io.gfile filesystem (local disk, GCS, ...).

A killed job must never leave a half-written output: everything is written to
a temporary name beside its destination and renamed into place.
"""

import contextlib
import os
import uuid


def _gfile():
    import tensorflow as tf  # Deferred: importing TensorFlow costs seconds.

    return tf.io.gfile


def temp_path_for(path: str) -> str:
    """A unique temporary name in the same directory as `path`."""
    head, tail = os.path.split(path)
    return os.path.join(head, f".{tail}.tmp-{uuid.uuid4().hex[:12]}")


def commit(temp_path: str, path: str) -> None:
    """Move a finished temporary file onto its final name."""
    _gfile().rename(temp_path, path, overwrite=True)


@contextlib.contextmanager
def atomic_output(path: str, mode: str = "w"):
    """Open a temporary file for writing; rename it onto `path` on success."""
    gfile = _gfile()
    temp = temp_path_for(path)
    try:
        with gfile.GFile(temp, mode) as handle:
            yield handle
        commit(temp, path)
    finally:
        if gfile.exists(temp):
            gfile.remove(temp)


def write_text_atomic(path: str, text: str) -> None:
    with atomic_output(path, "w") as handle:
        handle.write(text)


def write_bytes_atomic(path: str, data: bytes) -> None:
    with atomic_output(path, "wb") as handle:
        handle.write(data)


def read_text(path: str) -> str:
    with _gfile().GFile(path, "r") as handle:
        return handle.read()
