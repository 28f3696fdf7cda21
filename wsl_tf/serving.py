"""Export for serving: a SavedModel that needs only TensorFlow, and a `.keras` file for scripts.

`export(model, words, output_dir, ...)` writes `output_dir/model.keras` and
`output_dir/saved_model/` with four signatures:

- `serving_default`: `images`, a batch of encoded image bytes (tf.string; JPEG,
  PNG, GIF or BMP of any size) -> `words` (string [B, top_k]), `scores`
  (float32 [B, top_k], descending), `embedding` (float32 [B, E]) and `valid`
  (bool [B]). Words are ranked as they occur in natural images: the word
  layer's e.w + b plus the model's prior weight times the train split's log
  word frequency (wsl_tf/models/word_predictor.py: the natural ranking).
- `serving_balanced`: the same, ranked as if every word were equally
  frequent (the balanced ranking: the natural scores minus the log
  frequency). Preprocessing is `wsl_tf.input.preprocessing.preprocess`, the
  input pipeline's own function, so training and serving cannot drift. An
  image that does not decode, or whose header declares more than
  `max_pixels` pixels (checked before decoding: a few KB of PNG can declare
  30,000 x 30,000), gets valid = false, empty words and zero scores and
  embedding; the others in its batch are answered. An empty batch, or
  one whose images all fail to decode, never reaches the network.
- `embed`: preprocessed `pixels` (float32 [B, S, S, 3]) -> `embedding`.
- `word_vectors`: `words` (string [N]) -> `vectors` (float32 [N, E]), `biases`
  ([N]), `log_prior` ([N], log N_k / N), `prior_weight` (float32 [], lambda),
  `ids` (int64 [N], -1 for a word outside the dictionary) and `known`. A
  word's raw score for an image is embedding . vector + bias; natural adds
  lambda log_prior, balanced (lambda - 1) log_prior: zero-shot scoring and
  word similarity without the package.

The dictionary travels as an asset (`assets/words.txt`, one word a line, id =
line number). Each weight is stored once: the module tracks the model's
variables, not the Keras model (keras-team/keras#23553 stores them twice).
"""

import json
import os

import keras
import tensorflow as tf

from wsl_tf import fileio
from wsl_tf.errors import DataError
from wsl_tf.input import preprocessing
from wsl_tf.run_directory import RunDirectory
from wsl_tf.variables import plain

SAVED_MODEL_DIR = "saved_model"
KERAS_FILE = "model.keras"
INFO_FILE = "export.json"
WORDS_ASSET = "words.txt"
MAX_PIXELS = 50_000_000  # A 50-megapixel photo; larger images are refused before decoding.


class ServingModule(tf.Module):
    """The SavedModel's object graph: the model's weights, the dictionary table and the signatures."""

    def __init__(
        self, model, words_file: str, resize_size: int, crop_size: int, top_k: int, max_pixels: int = MAX_PIXELS
    ):
        super().__init__(name="wsl_tf_serving")
        self.__dict__["_model"] = model  # Untracked: saving the Keras model's object graph stores each weight twice.
        self.weights = [plain(v) for v in model.weights]  # Tracked once, by what the signatures capture.
        self.words_asset = tf.saved_model.Asset(words_file)
        self.word_of_id = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                self.words_asset,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
            ),
            default_value="",
            experimental_is_anonymous=True,
        )
        self.id_of_word = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                self.words_asset,
                tf.string,
                tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64,
                tf.lookup.TextFileIndex.LINE_NUMBER,
            ),
            default_value=-1,
            experimental_is_anonymous=True,
        )
        self.resize_size, self.crop_size, self.max_pixels = resize_size, crop_size, max_pixels
        self.top_k = min(top_k, model.num_words)
        self.embedding_dim = model.embedding_dim

    def _decoded(self, images):
        """(indices of the images that decode, their preprocessed pixels), bad images skipped, not raised."""

        def preprocess(index, image_bytes):
            return index, preprocessing.preprocess(
                image_bytes, self.resize_size, self.crop_size, max_pixels=self.max_pixels
            )

        size = self.crop_size
        # A sentinel that always decodes keeps the batch non-empty; it is dropped after.
        sentinel = tf.data.Dataset.from_tensors((tf.constant(-1, tf.int32), tf.zeros([size, size, 3])))
        decoded = (
            tf.data.Dataset.from_tensor_slices((tf.range(tf.size(images)), images))
            .map(preprocess, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .ignore_errors()
            .concatenate(sentinel)
            .batch(tf.cast(tf.size(images), tf.int64) + 1)
        )
        indices, pixels = decoded.get_single_element()
        return indices[:-1], pixels[:-1]

    def _forward(self, pixels, scores: bool = True, ranking: str = "natural"):
        """(embedding [B, E], and word scores [B, K] if asked) in float32; B = 0 never reaches the network.

        Some kernels reject an empty batch (oneDNN's grouped convolution on
        CPUs with AMX: "input depth must be evenly divisible by filter
        depth"), so an empty batch is answered with empty outputs instead.
        """

        def network():
            embedding = tf.cast(self._model.embed(pixels, training=False), tf.float32)
            if not scores:
                return (embedding,)
            raw = tf.cast(self._model.head(embedding), tf.float32)
            return embedding, raw + self._prior_weight(ranking) * plain(self._model.log_prior)

        def nothing():
            return (tf.zeros([0, self.embedding_dim]), tf.zeros([0, self._model.num_words]))[: 2 if scores else 1]

        return tf.cond(tf.shape(pixels)[0] > 0, network, nothing)

    def _prior_weight(self, ranking: str):
        """The factor of log_prior in a ranking's scores: lambda (natural) or lambda - 1 (balanced)."""
        weight = tf.cast(plain(self._model.prior_weight), tf.float32)
        return weight if ranking == "natural" else weight - 1.0

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve(self, images):
        return self._answer(images, "natural")

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve_balanced(self, images):
        return self._answer(images, "balanced")

    def _answer(self, images, ranking: str):
        indices, pixels = self._decoded(images)
        count = tf.size(images)
        embedding, all_scores = self._forward(pixels, ranking=ranking)
        scores, ids = tf.math.top_k(all_scores, k=self.top_k)
        words = self.word_of_id.lookup(tf.cast(ids, tf.int64))
        place = indices[:, None]
        return {
            "words": tf.scatter_nd(place, words, [count, self.top_k]),
            "scores": tf.scatter_nd(place, scores, [count, self.top_k]),
            "embedding": tf.scatter_nd(place, embedding, [count, self.embedding_dim]),
            "valid": tf.scatter_nd(place, tf.ones_like(indices, tf.bool), [count]),
        }

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="pixels")])
    def embed(self, pixels):
        return {"embedding": self._forward(pixels, scores=False)[0]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="words")])
    def word_vectors(self, words):
        ids = self.id_of_word.lookup(words)
        known = ids >= 0
        safe = tf.where(known, ids, 0)
        vectors = tf.where(known[:, None], tf.gather(plain(self._model.head.kernel), safe), 0.0)
        biases = tf.where(known, tf.gather(plain(self._model.head.bias), safe), 0.0)
        log_prior = tf.where(known, tf.gather(plain(self._model.log_prior), safe), 0.0)
        return {
            "vectors": vectors,
            "biases": biases,
            "log_prior": log_prior,
            "prior_weight": tf.cast(plain(self._model.prior_weight), tf.float32),
            "ids": ids,
            "known": known,
        }


def export(
    model,
    words,
    output_dir: str,
    resize_size: int,
    crop_size: int,
    top_k: int = 10,
    info: dict | None = None,
    max_pixels: int = MAX_PIXELS,
) -> str:
    """Write model.keras, saved_model/ and export.json into output_dir, replacing it whole; returns output_dir.

    words: the dictionary, id order; the first model.num_words are the model's.
    Written under a temporary name and renamed, so a killed export leaves the old one or none.
    """
    words = list(words)[: model.num_words]
    if len(words) != model.num_words:
        raise DataError(f"the dictionary has {len(words)} words, the model {model.num_words}")
    bad = [w for w in words if not w or "\n" in w]
    if bad:
        raise DataError(f"dictionary words must be non-empty single lines: {bad[:3]}")
    with fileio.staged_directory(output_dir) as staging:
        words_file = os.path.join(staging, WORDS_ASSET)
        fileio.write_text_atomic(words_file, "".join(f"{w}\n" for w in words))
        module = ServingModule(model, words_file, resize_size, crop_size, top_k, max_pixels)
        tf.saved_model.save(
            module,
            os.path.join(staging, SAVED_MODEL_DIR),
            signatures={
                "serving_default": module.serve,
                "serving_balanced": module.serve_balanced,
                "embed": module.embed,
                "word_vectors": module.word_vectors,
            },
        )
        tf.io.gfile.remove(words_file)  # Copied into saved_model/assets/.
        model.save(os.path.join(staging, KERAS_FILE))
        fileio.write_json_atomic(
            os.path.join(staging, INFO_FILE),
            {
                **(info or {}),
                "num_words": model.num_words,
                "embedding_dim": model.embedding_dim,
                "resize_size": resize_size,
                "crop_size": crop_size,
                "top_k": module.top_k,
                "max_pixels": max_pixels,
                "prior_weight": float(keras.ops.convert_to_numpy(model.prior_weight)),
                "keras_version": keras.__version__,
                "tensorflow_version": tf.__version__,
            },
        )
    return output_dir.rstrip("/")


def export_run(workdir: str, output_dir: str | None = None, top_k: int = 10) -> str:
    """Export the centre weights of a run directory's latest checkpoint (default: to WORKDIR/export).

    RunDirectoryError if workdir is not a run directory or has no checkpoint yet.
    """
    run = RunDirectory(workdir).restore()
    return export(
        run.model,
        run.words,
        output_dir or RunDirectory(workdir).export,
        run.config.input.resize_size,
        run.config.input.crop_size,
        top_k,
        info={"run": fileio.absolute(workdir), "checkpoint": run.checkpoint},
    )


def export_latest(workdir: str, top_k: int = 10, log=print) -> str:
    """WORKDIR/export from the run's latest checkpoint, unless it already holds that checkpoint's export.

    What wsl-train and wsl-demo do when a run ends; a rerun of a finished
    run exports only if the export is missing or older than the checkpoint.
    """
    run = RunDirectory(workdir)
    output_dir = run.export
    latest = run.latest_checkpoint()
    info_path = os.path.join(output_dir, INFO_FILE)
    if latest and tf.io.gfile.exists(info_path) and json.loads(fileio.read_text(info_path)).get("checkpoint") == latest:
        return output_dir
    export_run(workdir, output_dir, top_k)
    log(f"exported {output_dir} (model.keras, saved_model/)")
    return output_dir
