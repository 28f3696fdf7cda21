"""Atomic writes on any tf.io.gfile filesystem (local disk, GCS, ...), and strict JSON.

A killed job must never leave a half-written output: everything is written to
a temporary name beside its destination and renamed into place. Every JSON
file a run writes is strict JSON (RFC 8259), which JavaScript's JSON.parse
and other strict readers accept: a figure that does not exist is `null`,
never `NaN` or `Infinity`. `error_line` puts a reading error in one line;
`disk_full` tells a full disk whichever layer (Python, TensorFlow's C++
file systems, a worker process) met it.
"""

import contextlib
import errno
import json
import math
import os
import re
import uuid


def _gfile():
    import tensorflow as tf  # Deferred: importing TensorFlow costs seconds.

    return tf.io.gfile


def temp_path_for(path: str) -> str:
    """A unique temporary name in the same directory as `path`."""
    head, tail = os.path.split(path)
    return os.path.join(head, f".{tail}.tmp-{uuid.uuid4().hex[:12]}")


_TEMP_NAME = re.compile(r"^\..+\.(tmp|old)-[0-9a-z_]{8,}$")


def is_temporary(name: str) -> bool:
    """Whether a file or directory name is one of temp_path_for's (or a staging directory named alike)."""
    return bool(_TEMP_NAME.match(name))


def is_checkpoint_staging(name: str) -> bool:
    """Whether a name in a checkpoint directory is TensorFlow's staging: a sharded save's ckpt-N_temp/, or the
    state file's temporary copy (checkpoint.tmp<hex>)."""
    return name.endswith("_temp") or name.startswith("checkpoint.tmp")


def temporaries_under(root: str) -> list[str]:
    """Paths under root (relative) that a writer left under a temporary name: ours, or TensorFlow's checkpoint
    staging. After a finished or failed job there should be none."""
    found = []
    for folder, folders, names in os.walk(root):
        for name in folders + names:
            if is_temporary(name) or is_checkpoint_staging(name):
                found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def remove_stale_temporaries(directory: str, prefix: str = "") -> list[str]:
    """Remove what a killed writer left in `directory` under temporary names starting with `prefix`; the names
    removed.

    For what one job writes at a time (a dataset, a run, an export): the job
    calls it when it starts, so a kill -9 leaves no lasting litter.
    """
    gfile = _gfile()
    if not gfile.isdir(directory):
        return []
    stale = sorted(
        name.rstrip("/")
        for name in gfile.listdir(directory)
        if is_temporary(name.rstrip("/")) and name.startswith(prefix)
    )
    for name in stale:
        path = os.path.join(directory, name)
        if gfile.isdir(path):
            gfile.rmtree(path)
        else:
            gfile.remove(path)
    return stale


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


@contextlib.contextmanager
def staged_directory(final: str):
    """Build a directory under a temporary name beside `final` and move it onto `final` when the block ends
    without an error; on any error (a full disk, a kill's exception) the staging is removed. What a killed
    writer left beside `final` is removed first."""
    final = final.rstrip("/")
    parent = os.path.dirname(final) or "."
    makedirs(parent)
    remove_stale_temporaries(parent, prefix=f".{os.path.basename(final)}.")
    staging = temp_path_for(final)
    makedirs(staging)
    try:
        yield staging
        replace_directory(staging, final)
    finally:
        remove_tree(staging)


def replace_directory(new: str, final: str) -> None:
    """Move the finished directory `new` onto `final`, replacing what was there: the old one is moved aside
    under a temporary name first, then removed, so a kill leaves the old directory, the new one, or both."""
    old = None
    if _gfile().exists(final):
        old = temp_path_for(final).replace(".tmp-", ".old-")
        rename_tree(final, old)
    rename_tree(new, final)
    if old:
        remove_tree(old)


def rename_tree(source: str, destination: str) -> None:
    """Rename a directory. A filesystem whose rename moves only the entry itself, not what is under it
    (TensorFlow's ram://), gets the rest moved file by file."""
    gfile = _gfile()
    gfile.rename(source, destination)
    import tensorflow as tf

    try:
        left = gfile.listdir(source) if gfile.isdir(source) else []
    except tf.errors.NotFoundError:  # The rename moved everything.
        left = []
    for name in left:
        name = name.rstrip("/")
        part, target = os.path.join(source, name), os.path.join(destination, name)
        if gfile.isdir(part):
            rename_tree(part, target)
        else:
            gfile.rename(part, target, overwrite=True)
    remove_tree(source)


def remove_tree(path: str) -> None:
    """Remove a directory and what it holds, if it is there (a filesystem that lists a renamed directory's
    old name until it is emptied says it exists, and then that it is not found)."""
    import tensorflow as tf

    try:
        if _gfile().exists(path):
            _gfile().rmtree(path)
    except tf.errors.NotFoundError:
        pass


def is_local(path: str) -> bool:
    """Whether a path is on the local filesystem, not on one of its own (gs://, hdfs://, ram://): where a library
    that opens files itself (faiss) can be handed the path."""
    return "://" not in str(path)


def absolute(path: str) -> str:
    """A local path made absolute (for a record of where something came from); a path on a filesystem of its
    own (gs://, hdfs://, ram://) as given."""
    return os.path.abspath(path) if is_local(path) else str(path)


def write_text_atomic(path: str, text: str) -> None:
    with atomic_output(path, "w") as handle:
        handle.write(text)


def write_bytes_atomic(path: str, data: bytes) -> None:
    with atomic_output(path, "wb") as handle:
        handle.write(data)


def strict_json_value(value):
    """value with every NaN or infinite float (numpy's too) replaced by None, tuples as lists."""
    if isinstance(value, dict):
        return {key: strict_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json_value(item) for item in value]
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # A numpy scalar.
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_strict(value, **kwargs) -> str:
    """json.dumps of strict_json_value(value); never writes NaN or Infinity."""
    return json.dumps(strict_json_value(value), allow_nan=False, **kwargs)


def write_json_atomic(path: str, value, indent: int | None = 2, sort_keys: bool = False) -> None:
    """value as strict JSON (a missing figure is null), written atomically, newline-terminated."""
    write_text_atomic(path, dumps_strict(value, indent=indent, sort_keys=sort_keys) + "\n")


def exists(path: str) -> bool:
    return _gfile().exists(path)


def makedirs(path: str) -> None:
    """The directory and its parents, wherever they are missing."""
    _gfile().makedirs(path)


def listdir(path: str) -> list[str]:
    """The names in a directory (a directory's without gfile's trailing '/')."""
    return [name.rstrip("/") for name in _gfile().listdir(path)]


def read_text(path: str) -> str:
    with _gfile().GFile(path, "r") as handle:
        return handle.read()


def read_bytes(path: str) -> bytes:
    with _gfile().GFile(path, "rb") as handle:
        return handle.read()


# What TensorFlow wraps an op's own message in: "{{function_node ...}} MESSAGE [Op:SaveV2]".
_OP_CONTEXT = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[A-Za-z0-9_]+\]$")


def error_line(error: BaseException, limit: int = 200) -> str:
    """An exception's message as one short line: TensorFlow's `message` if it has one, without the function and
    op it ran in, the first line, at most `limit` characters; its type's name when the message is empty."""
    text = (getattr(error, "message", None) or str(error)).strip()
    text = _OP_CONTEXT.sub("", text.splitlines()[0] if text else "").strip()
    return text[:limit] if text else type(error).__name__


def disk_full(error: BaseException) -> bool:
    """Whether `error` says a disk is full: errno ENOSPC, or TensorFlow's wording of it (ResourceExhaustedError)."""
    return getattr(error, "errno", None) == errno.ENOSPC or "No space left on device" in str(error)
