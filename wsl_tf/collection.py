"""A whole collection embedded by an export, and searched: the index wsl-embed writes and wsl-search reads.

An index directory holds TFRecord shards `embeddings-{i:05d}.tfrecord`, each
of `shard_size` consecutive input images, in input order, one
tf.train.Example per image:

- `image/key` (bytes): the image's key in its collection;
- `image/valid` (int64 0/1): whether the export decoded it (an image that does
  not decode, or whose header declares more pixels than the export allows,
  is 0, with no embedding);
- `embedding` (bytes): E little-endian float16 or float32 values
  (manifest.json says which), the export's `embedding` output;
- `words/top` (bytes list) and `words/scores` (float list): the export's top
  words under its natural ranking;
- `image/thumbnail` (bytes): a JPEG at most THUMBNAIL px a side, for galleries;
- `image/problem` (bytes): why an image has no embedding ("" when valid).

TFRecord because the rest of the project and tf.data read it without another
dependency, and a shard streams in order. A shard is written under a
temporary name and renamed when complete, so a rerun after a kill skips the
finished ones and ends byte-identical to an uninterrupted run.
`manifest.json`, written last, names the export, the dtype, every shard with
its count, and the totals; `bad.tsv` lists the images that did not decode.

Search is exact (every embedding scored, top-k by TensorFlow): by words, the
images ranked by the mean of the words' scores as the model's word layer
gives them (e.w + b: a word's prior is the same for every image); by image,
the cosine of the query's embedding with each image's.
"""

import collections
import collections.abc
import concurrent.futures
import dataclasses
import io
import itertools
import json
import os
from collections.abc import Iterable, Iterator

import numpy as np

from wsl_tf import fileio
from wsl_tf.errors import DataError
from wsl_tf.records import write_shard

MANIFEST = "manifest.json"
SETTINGS = "index_settings.json"  # Written first: a rerun goes on only with the same export, dtype and shard size.
BAD = "bad.tsv"
SHARD_PATTERN = "embeddings-{:05d}.tfrecord"
THUMBNAIL = 128
KEY, VALID, EMBEDDING, WORDS, SCORES, THUMB, PROBLEM = (
    "image/key",
    "image/valid",
    "embedding",
    "words/top",
    "words/scores",
    "image/thumbnail",
    "image/problem",
)
UNREADABLE = "cannot read the file"
UNDECODABLE = "not an image the export decodes, or over its pixel limit (by its header)"
DTYPES = {"float16": "<f2", "float32": "<f4"}
# The outputs of serving_default a record keeps.
ANSWERS = ("valid", "embedding", "words", "scores")


class CollectionIndexError(DataError):
    """An index directory that cannot be read (missing, incomplete, of another model)."""


def export_identity(model_dir: str) -> dict:
    """What names an export in an index's manifest: its path, checkpoint, embedding size and K (export.json);
    DataError when model_dir is not an export."""
    from wsl_tf import serving

    info_path = os.path.join(model_dir, serving.INFO_FILE)
    if not fileio.exists(info_path):
        raise DataError(f"--model={model_dir}: not an export (no {serving.INFO_FILE} there; wsl-export writes one)")
    info = json.loads(fileio.read_text(info_path))
    return {
        "path": fileio.absolute(model_dir),
        "checkpoint": info.get("checkpoint"),
        "embedding_dim": info["embedding_dim"],
        "num_words": info["num_words"],
    }


def thumbnail(data: bytes, size: int = THUMBNAIL) -> bytes:
    """A JPEG of the image at most size px a side (b"" if PIL cannot read it): an RGB JPEG already that small is
    its own thumbnail, and a larger JPEG is decoded at the smallest scale its DCT allows above size (draft)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG" and image.mode == "RGB" and max(image.size) <= size:
                return data
            if image.format == "JPEG":
                image.draft("RGB", (size, size))
            image = image.convert("RGB")
            image.thumbnail((size, size))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=80)
            return out.getvalue()
    except Exception:  # noqa: BLE001 (any decoding failure: the image is listed as bad elsewhere)
        return b""


def _example(key: str, problem: str, embedding, words, scores, thumb: bytes, dtype: str) -> bytes:
    import tensorflow as tf

    def bytes_feature(values):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))

    valid = not problem
    features = {
        KEY: bytes_feature([key.encode("utf-8")]),
        PROBLEM: bytes_feature([problem.encode("utf-8")]),
        VALID: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(valid)])),
        EMBEDDING: bytes_feature([np.asarray(embedding, DTYPES[dtype]).tobytes() if valid else b""]),
        WORDS: bytes_feature(list(words) if valid else []),
        SCORES: tf.train.Feature(float_list=tf.train.FloatList(value=list(scores) if valid else [])),
        THUMB: bytes_feature([thumb]),
    }
    # deterministic: the feature map in key order, so another process (a rerun after a kill) writes the same bytes.
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)


def _batched(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_index(
    signatures,
    items: Iterable[tuple[str, bytes | None]],
    output_dir: str,
    export: dict,
    batch_size: int = 64,
    shard_size: int = 4096,
    dtype: str = "float32",
    progress: bool = True,
    thumbnails: bool = True,
) -> dict:
    """Embed every (key, encoded image or None when unreadable) of items with the export's serving_default, in
    batches, into output_dir's shards; the manifest's contents.

    export: what identifies the model (its path, checkpoint, embedding_dim, num_words), written into the
    manifest; an index of another export in output_dir is refused. A shard already finished is skipped (its
    images read again, not embedded). Memory: IN_FLIGHT + 1 batches of images at a time.
    thumbnails: False leaves each image's thumbnail empty (a gallery then shows keys only).
    """
    from tqdm import tqdm

    start_index(output_dir, export, dtype, shard_size, thumbnails)
    serve = signatures["serving_default"]
    counts, problems = [], {}
    bar = tqdm(desc="embed", unit="img", disable=not progress)
    remaining = iter(items)
    for number in itertools.count():
        # The shard's images as they come (never a whole shard in memory): its first, then up to shard_size.
        first = next(remaining, None)
        if first is None:
            break
        shard_items = itertools.chain([first], itertools.islice(remaining, shard_size - 1))
        path = os.path.join(output_dir, SHARD_PATTERN.format(number))
        if not fileio.exists(path):  # A finished shard is kept: its images are not embedded again.
            problems[number], count = _write_shard(serve, shard_items, path, batch_size, dtype, bar, thumbnails)
        else:
            count = sum(1 for _ in shard_items)
            bar.update(count)
        counts.append(count)
    bar.close()
    return finish_index(output_dir, export, dtype, shard_size, counts, problems)


def start_index(output_dir: str, export: dict, dtype: str, shard_size: int, thumbnails: bool) -> None:
    """Make output_dir ready for shards: stale temporaries of a killed run removed, and the settings written, or
    checked against an earlier (partial) run's (CollectionIndexError naming what differs)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype={dtype!r}: expected one of {', '.join(DTYPES)}")
    fileio.makedirs(output_dir)
    fileio.remove_stale_temporaries(output_dir)
    settings = {"export": export, "dtype": dtype, "shard_size": shard_size, "thumbnails": thumbnails}
    settings_path = os.path.join(output_dir, SETTINGS)
    if fileio.exists(settings_path):
        previous = json.loads(fileio.read_text(settings_path))
        if previous != settings:
            changed = ", ".join(key for key in settings if previous.get(key) != settings[key])
            raise CollectionIndexError(
                f"{output_dir} holds (part of) an index of other settings ({changed} differ: "
                f"{previous.get('export', {}).get('path')}); use a new --output"
            )
    else:
        fileio.write_json_atomic(settings_path, settings)


def finish_index(
    output_dir: str, export: dict, dtype: str, shard_size: int, counts: list[int], problems: dict | None = None
) -> dict:
    """Once every shard is written (counts: each one's images, in order): bad.tsv, then, last, manifest.json; the
    manifest's contents. problems: {shard number: its (key, problem) list} for the shards this run wrote; the
    others' are read from their files."""
    problems = problems or {}
    shards = [{"name": SHARD_PATTERN.format(number), "images": count} for number, count in enumerate(counts)]
    bad = [
        problem
        for number, shard in enumerate(shards)
        for problem in (
            problems[number] if number in problems else _problems_of_shard(os.path.join(output_dir, shard["name"]))
        )
    ]
    manifest = {
        "export": export,
        "dtype": dtype,
        "embedding_dim": export["embedding_dim"],
        "images": sum(counts),
        "bad_images": len(bad),
        "shard_size": shard_size,
        "shards": shards,
        "format": "TFRecord of tf.train.Example (wsl_tf/collection.py)",
    }
    fileio.write_text_atomic(os.path.join(output_dir, BAD), "key\treason\n" + "".join(f"{k}\t{r}\n" for k, r in bad))
    fileio.write_json_atomic(os.path.join(output_dir, MANIFEST), manifest)
    return manifest


def image_problem(data: bytes | None, answer: dict | None) -> str:
    """Why an image has no embedding ("" when it has one): see image_record."""
    if data is None:
        return UNREADABLE
    return "" if answer["valid"] else UNDECODABLE


def image_record(key: str, data: bytes | None, answer: dict | None, dtype: str, thumbnails: bool) -> bytes:
    """One image's serialized record. data: its encoded bytes, None when unreadable; answer: its row of
    serving_default's outputs (valid, embedding, words, scores), None when unreadable."""
    problem = image_problem(data, answer)
    if problem:
        return _example(key, problem, None, [], [], b"", dtype)
    return _example(
        key,
        "",
        answer["embedding"],
        answer["words"].tolist(),
        answer["scores"].tolist(),
        thumbnail(data) if thumbnails else b"",
        dtype,
    )


# Batches wsl-embed has in the model at once.
IN_FLIGHT = 2


def _write_shard(serve, shard_items, path: str, batch_size: int, dtype: str, bar, thumbnails: bool):
    """One shard's images (an iterator) through serving_default, a batch at a time; (the (key, problem) of each
    without an embedding, the shard's image count)."""
    problems = []

    def answered(batch):
        import tensorflow as tf

        readable = [data for _, data in batch if data is not None]
        out = serve(images=tf.constant(readable, tf.string)) if readable else {}
        return {name: value.numpy() for name, value in out.items()}

    def records():
        # IN_FLIGHT batches are in the model at once (TensorFlow runs off the GIL, and one call alone leaves the
        # cores idle part of the time) while this thread builds the records and thumbnails of the oldest, in order.
        with concurrent.futures.ThreadPoolExecutor(IN_FLIGHT) as model:
            batches = _batched(iter(shard_items), batch_size)
            pending = collections.deque((b, model.submit(answered, b)) for b in itertools.islice(batches, IN_FLIGHT))
            while pending:
                batch, future = pending.popleft()
                for following in itertools.islice(batches, 1):
                    pending.append((following, model.submit(answered, following)))
                yield from batch_records(batch, future.result())

    def batch_records(batch, answers):
        row = 0  # The row of the model's answers: unreadable images were not sent.
        for key, data in batch:
            answer = {name: answers[name][row] for name in ANSWERS} if data is not None else None
            if image_problem(data, answer):
                problems.append((key, image_problem(data, answer)))
            yield image_record(key, data, answer, dtype, thumbnails)
            row += data is not None
        bar.update(len(batch))

    count = write_shard(path, records())  # Fills problems as the records are written.
    return problems, count


def _problems_of_shard(path: str) -> list[tuple[str, str]]:
    """(key, problem) of each image of a shard that has no embedding, in order."""
    import tensorflow as tf

    found = []
    for serialized in tf.data.TFRecordDataset(path):
        feature = tf.train.Example.FromString(serialized.numpy()).features.feature
        problem = feature[PROBLEM].bytes_list.value[0].decode("utf-8")
        if problem:
            found.append((feature[KEY].bytes_list.value[0].decode("utf-8"), problem))
    return found


def _read_manifest(directory: str) -> dict | None:
    path = os.path.join(directory, MANIFEST)
    return json.loads(fileio.read_text(path)) if fileio.exists(path) else None


class PackedKeys(collections.abc.Sequence):
    """Image keys as one UTF-8 blob and their offsets: a million keys in about 26 MB rather than a million
    Python strings (about 75 MB, and as many allocations)."""

    def __init__(self, blob: bytes, offsets: np.ndarray):
        self.blob, self.offsets = blob, offsets

    @classmethod
    def of(cls, parts: list[list[bytes]]) -> "PackedKeys":
        """From batches of encoded keys, in order."""
        lengths = np.fromiter((len(k) for part in parts for k in part), np.int64)
        return cls(b"".join(k for part in parts for k in part), np.concatenate([[0], np.cumsum(lengths)]))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, row):
        if isinstance(row, slice):
            return [self[i] for i in range(*row.indices(len(self)))]
        start, end = self.offsets[row], self.offsets[row + 1]
        return self.blob[start:end].decode("utf-8")

    def __eq__(self, other) -> bool:
        return list(self) == list(other)


@dataclasses.dataclass
class CollectionIndex:
    """What search holds of an index: keys [N], valid [N] and embeddings [N, E] as stored (float16 or float32;
    zeros where not valid), and the manifest. Each image's top words, scores and thumbnail stay in the shards,
    read for the rows asked (details), so a million-image index costs its embeddings' bytes and little more."""

    keys: collections.abc.Sequence  # Of str: PackedKeys when loaded.
    valid: np.ndarray
    embeddings: np.ndarray
    manifest: dict
    directory: str | None = None
    _resident: object = None

    def searchable(self):
        """What the query functions score: the embeddings as one float32 tensor, made once, when they fit in
        RESIDENT_BYTES; else the stored array, scored a chunk at a time."""
        import tensorflow as tf

        if self.embeddings.size * 4 > RESIDENT_BYTES:
            return self.embeddings
        if self._resident is None:
            self._resident = tf.constant(np.asarray(self.embeddings, np.float32))
        return self._resident

    def details(self, rows) -> list[dict]:
        """{"words", "scores", "thumbnail", "embedding" (float32; empty when not valid)} of each row, in the order
        asked, read from the shards holding them (each read up to its last row asked)."""
        import tensorflow as tf

        rows = [int(r) for r in rows]
        starts = np.cumsum([0] + [shard["images"] for shard in self.manifest["shards"]])
        wanted: dict[int, dict[int, int]] = {}  # shard -> {offset in it: row}
        for row in rows:
            shard = int(np.searchsorted(starts, row, side="right")) - 1
            wanted.setdefault(shard, {})[row - int(starts[shard])] = row
        found = {}
        for shard, offsets in wanted.items():
            path = os.path.join(self.directory, self.manifest["shards"][shard]["name"])
            records = tf.data.TFRecordDataset(path).take(max(offsets) + 1).batch(LOAD_BATCH)
            # Handed to Python a batch at a time: one record at a time took 0.3 s to reach row 2,000.
            for first, batch in zip(itertools.count(0, LOAD_BATCH), records):
                serialized = batch.numpy()
                for offset in (o for o in offsets if first <= o < first + len(serialized)):
                    feature = tf.train.Example.FromString(serialized[offset - first]).features.feature
                    raw = feature[EMBEDDING].bytes_list.value[0]
                    found[offsets[offset]] = {
                        "words": [w.decode("utf-8") for w in feature[WORDS].bytes_list.value],
                        "scores": list(feature[SCORES].float_list.value),
                        "thumbnail": feature[THUMB].bytes_list.value[0],
                        "embedding": np.frombuffer(raw, DTYPES[self.manifest["dtype"]]).astype(np.float32),
                    }
        return [found[row] for row in rows]


def index_manifest(directory: str) -> dict:
    """The manifest of a complete index; CollectionIndexError when it has none (wsl-embed not run or not done)."""
    manifest = _read_manifest(directory)
    if manifest is None:
        raise CollectionIndexError(f"{directory}: no {MANIFEST} (wsl-embed writes it when an index is complete)")
    return manifest


# Records read per batch when an index is loaded, or its rows' details are read.
LOAD_BATCH = 4096


def load_index(directory: str, embeddings: bool = True) -> CollectionIndex:
    """The keys, validity and embeddings of the index in directory, parsed in batches by TensorFlow into one
    array of the stored dtype made at its full size once; CollectionIndexError when it has no manifest
    (wsl-embed not run or not finished). embeddings=False leaves them in the shards (embeddings is None): what
    a query through a cached approximate index needs."""
    import tensorflow as tf

    manifest = index_manifest(directory)
    dim, dtype = manifest["embedding_dim"], np.dtype(DTYPES[manifest["dtype"]])
    spec = {KEY: tf.io.FixedLenFeature([], tf.string), VALID: tf.io.FixedLenFeature([], tf.int64)}
    if embeddings:
        spec[EMBEDDING] = tf.io.FixedLenFeature([], tf.string)

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        if not embeddings:
            return parsed[KEY], parsed[VALID], tf.zeros([0])
        # As bytes (decode_raw has no padded float16): an image without an embedding stores b"", padded with zeros.
        rows = tf.io.decode_raw(parsed[EMBEDDING], tf.uint8, fixed_length=dim * dtype.itemsize)
        return parsed[KEY], parsed[VALID], rows

    paths = [os.path.join(directory, shard["name"]) for shard in manifest["shards"]]
    rows_kept = np.empty((manifest["images"], dim), dtype) if embeddings else None
    key_parts, valid, filled = [], np.empty(manifest["images"], bool), 0
    if paths:
        batches = tf.data.TFRecordDataset(paths).batch(LOAD_BATCH).map(parse)
        for batch_keys, batch_valid, rows in batches:
            count = len(batch_valid)
            key_parts.append(batch_keys.numpy().tolist())
            valid[filled : filled + count] = batch_valid.numpy().astype(bool)
            if rows_kept is not None:
                rows_kept[filled : filled + count] = rows.numpy().view(dtype)
            filled += count
    if filled != manifest["images"]:
        raise CollectionIndexError(
            f"{directory}: {filled:,} records in its shards, the manifest says {manifest['images']:,}"
        )
    return CollectionIndex(PackedKeys.of(key_parts), valid, rows_kept, manifest, directory)


def top_k(scores, valid: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, scores) of the k highest scores among the valid rows, best first (ties: the earlier row), exact."""
    import tensorflow as tf

    scores = tf.where(tf.constant(valid), tf.cast(scores, tf.float32), -np.inf)
    k = min(k, int(valid.sum()))
    values, rows = tf.math.top_k(scores, k=k, sorted=True)
    return rows.numpy(), values.numpy()


# Rows scored at a time (32 MiB as float32 at E = 512): an index of a million float16 embeddings is never copied
# whole to float32.
SEARCH_CHUNK = 16384


# An index up to this many bytes as float32 is held by TensorFlow whole, once (CollectionIndex.searchable); a
# larger one is scored a chunk at a time from its stored (float16) array.
RESIDENT_BYTES = 1 << 30


def _chunked(embeddings, score) -> np.ndarray:
    """[N] float32: score(float32 [n, E] tensor) of a resident tensor at once, or of an array's consecutive
    chunks of SEARCH_CHUNK rows."""
    import tensorflow as tf

    if isinstance(embeddings, tf.Tensor):
        return score(embeddings).numpy()
    parts = [
        score(tf.cast(tf.constant(embeddings[start : start + SEARCH_CHUNK]), tf.float32)).numpy()
        for start in range(0, len(embeddings), SEARCH_CHUNK)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def word_query_scores(embeddings: np.ndarray, vectors: np.ndarray, biases: np.ndarray) -> np.ndarray:
    """[N] scores of a word query: the mean over its words of the word layer's e.w + b."""
    import tensorflow as tf

    vectors, biases = tf.constant(vectors, tf.float32), tf.constant(biases, tf.float32)
    return _chunked(embeddings, lambda x: tf.reduce_mean(tf.matmul(x, vectors, transpose_b=True) + biases, axis=1))


def image_query_scores(embeddings: np.ndarray, query: np.ndarray) -> np.ndarray:
    """[N] cosine similarities of each embedding with the query embedding [E]."""
    import tensorflow as tf

    unit = tf.math.l2_normalize(tf.constant(query, tf.float32), axis=0)
    return _chunked(embeddings, lambda x: tf.linalg.matvec(tf.math.l2_normalize(x, axis=1), unit))


# --- Approximate search -------------------------------------------------------------------------------------
# For a large collection: faiss (faiss-cpu, the [ann] extra), an inverted file of 8-bit scalar-quantised lists over
# inner products (the hits it finds are scored exactly from their shards), built by wsl-embed --index or on first
# use and cached in the index directory; a query through it needs no embeddings in memory. Word queries search the
# raw embeddings (a word query's score is e . mean(w) + mean(b), an inner product plus a constant); image queries
# the unit-length ones (cosine).
APPROXIMATE_FILE = "approximate-{kind}.faiss"
APPROXIMATE_INFO = "approximate.json"
QUERY_KINDS = ("words", "image")


def _faiss():
    try:
        import faiss
    except ImportError:
        raise CollectionIndexError("approximate search needs faiss: pip install 'wsl_tf[ann]' (faiss-cpu)") from None
    return faiss


def _kind_rows(index: CollectionIndex, kind: str, rows=None) -> np.ndarray:
    """Rows of the embeddings (default: every valid one) as float32, unit length for image queries."""
    picked = np.asarray(index.embeddings[np.flatnonzero(index.valid) if rows is None else rows], np.float32)
    if kind == "image":
        picked /= np.maximum(np.linalg.norm(picked, axis=1, keepdims=True), 1e-12)
    return picked


# Valid rows converted to float32 and added to the approximate index at a time (64 MiB at E = 256).
ADD_CHUNK = 65536


def build_approximate(index: CollectionIndex, kind: str, lists: int | None = None, seed: int = 0):
    """A faiss IndexIVFScalarQuantizer (8 bits a dimension, inner product) over the valid rows, ids = row numbers,
    a quarter of float32's bytes; lists: its inverted lists (default sqrt(N), at least 1), trained on at most 64
    rows a list; the rows are added ADD_CHUNK at a time, so the build holds no float32 copy of the index."""
    faiss = _faiss()
    ids = np.flatnonzero(index.valid).astype(np.int64)
    dim = index.embeddings.shape[1]
    lists = min(lists or max(1, int(np.sqrt(len(ids)))), max(1, len(ids)))  # No more lists than rows.
    quantizer = faiss.IndexFlatIP(dim)
    approximate = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    sample = np.random.default_rng(seed).permutation(len(ids))[: 64 * lists]
    approximate.train(_kind_rows(index, kind, ids[np.sort(sample)]))
    for start in range(0, len(ids), ADD_CHUNK):
        chunk = ids[start : start + ADD_CHUNK]
        approximate.add_with_ids(_kind_rows(index, kind, chunk), chunk)
    return approximate


def approximate_index(index: CollectionIndex, directory: str, kind: str, log=print):
    """The cached approximate index of directory for a query kind; when missing, built, its lists probed raised
    until its recall@10 against exact search reaches TARGET_RECALL on 100 queries of its kind (recall_queries) or
    every list is probed, that recall logged and kept in approximate.json."""
    faiss = _faiss()
    path = approximate_path(directory, kind)
    if fileio.exists(path):
        if fileio.is_local(path):  # faiss reads a local file into the index, with no copy of its bytes.
            return faiss.read_index(path)
        return faiss.deserialize_index(np.frombuffer(fileio.read_bytes(path), np.uint8))
    approximate = build_approximate(index, kind)
    approximate.nprobe = default_probes(approximate.nlist)
    queries, exact = recall_queries(index, kind)
    recall = measured_recall(approximate, queries, exact)
    while recall < TARGET_RECALL and approximate.nprobe < approximate.nlist:  # Probe more lists until it finds them.
        approximate.nprobe = min(approximate.nlist, 2 * approximate.nprobe)
        recall = measured_recall(approximate, queries, exact)
    fileio.write_bytes_atomic(path, faiss.serialize_index(approximate).tobytes())
    info_path = os.path.join(directory, APPROXIMATE_INFO)
    info = json.loads(fileio.read_text(info_path)) if fileio.exists(info_path) else {}
    info[kind] = {"lists": approximate.nlist, "probes": approximate.nprobe, "recall_at_10": recall}
    fileio.write_json_atomic(info_path, info)
    log(
        f"built {path}: {approximate.nlist} lists, {approximate.nprobe} probed; recall@10 against exact search "
        f"{recall:.3f} ({len(queries)} queries: {'its own images' if kind == 'image' else 'random directions'})"
    )
    return approximate


# The recall@10 against exact search that the lists probed are raised to (approximate_index).
TARGET_RECALL = 0.95


def default_probes(lists: int) -> int:
    """Lists searched per query to start with: a sixteenth of them, at least 1 (raised to TARGET_RECALL)."""
    return max(1, lists // 16)


def approximate_path(directory: str, kind: str) -> str:
    """Where the approximate index of a query kind is cached in an index directory."""
    return os.path.join(directory, APPROXIMATE_FILE.format(kind=kind))


def approximate_top_k(approximate, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, inner products from the 8-bit codes) of the k best rows the approximate index finds for the query
    vector [E] (unit length for image queries)."""
    scores, rows = approximate.search(np.asarray(query, np.float32)[None], k)
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]


def recall_queries(index: CollectionIndex, kind: str, queries: int = 100, k: int = 10) -> tuple[np.ndarray, list]:
    """(queries [Q, E], each one's exact top-k rows), seeded: for image queries the collection's own valid
    embeddings; for word queries random directions of the embeddings' per-feature spread (a word vector is
    near no image, and a query among the images is the easy case)."""
    ids = np.flatnonzero(index.valid)
    dim = index.embeddings.shape[1]
    rng = np.random.default_rng(1)
    if kind == "image":
        picked = _kind_rows(index, kind, ids[rng.permutation(len(ids))[:queries]])
    else:
        spread = _kind_rows(index, kind, ids[: 1 << 16]).std(0) if len(ids) else np.ones(dim, np.float32)
        picked = (rng.standard_normal((queries, dim)) * spread).astype(np.float32)
    searchable = index.searchable()
    return picked, [set(top_k(_exact_scores(searchable, q, kind), index.valid, k)[0].tolist()) for q in picked]


def measured_recall(approximate, queries: np.ndarray, exact: list, k: int = 10) -> float:
    """Mean recall@k of the approximate index against the queries' exact top-k rows."""
    found = [
        len(truth & set(approximate_top_k(approximate, q, k)[0].tolist())) / max(1, len(truth))
        for q, truth in zip(queries, exact)
    ]
    return float(np.mean(found)) if found else 1.0


def _exact_scores(searchable, query: np.ndarray, kind: str) -> np.ndarray:
    if kind == "image":
        return image_query_scores(searchable, query)
    return word_query_scores(searchable, query[None], np.zeros(1, np.float32))


def search(
    index: CollectionIndex,
    directory: str,
    kind: str,
    vector,
    constant: float,
    top: int,
    approximate: bool = False,
    log=print,
) -> list[dict]:
    """The top images of a query, best first: {"key", "score", "words", "thumbnail"} each.

    kind "words": vector is the words' mean row and constant their mean bias (score e . vector + constant);
    "image": vector is the query's embedding (score: cosine). approximate: through the cached approximate
    index of directory (approximate_index), else exact.
    """
    if approximate:
        faiss_index = approximate_index(index, directory, kind, log=log)
        query = np.asarray(vector, np.float32)
        query = query / max(float(np.linalg.norm(query)), 1e-12) if kind == "image" else query
        rows, _ = approximate_top_k(faiss_index, query, top)
        details = index.details(rows.tolist())
        # The hits' scores exact, from their stored embeddings (the codes only chose them), and ranked by those.
        exact = [exact_score(d["embedding"], query, kind) + constant for d in details]
        order = np.argsort(-np.asarray(exact), kind="stable")
        rows, scores, details = rows[order], np.asarray(exact)[order], [details[i] for i in order]
    else:
        if kind == "image":
            scored = image_query_scores(index.searchable(), vector)
        else:
            scored = word_query_scores(index.searchable(), np.asarray(vector)[None], np.full(1, constant, np.float32))
        rows, scores = top_k(scored, index.valid, top)
        details = index.details(rows.tolist())
    return [
        {"key": index.keys[r], "score": float(v), "words": d["words"], "thumbnail": d["thumbnail"]}
        for r, v, d in zip(rows.tolist(), scores.tolist(), details)
    ]


def exact_score(embedding: np.ndarray, query: np.ndarray, kind: str) -> float:
    """One image's score for a query: e . query for words (before the bias), its cosine for an image (query of
    unit length)."""
    if kind == "image":
        return float(embedding @ query / max(float(np.linalg.norm(embedding)), 1e-12))
    return float(embedding @ query)
