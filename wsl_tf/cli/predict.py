"""wsl-predict: the top words of image files, from an exported model.

  wsl-predict --model=runs/demo/run/export photo1.jpg photo2.png
  wsl-predict --model=runs/demo/run/export --format=json *.jpg
  wsl-predict --model=runs/demo/run/export --words=cat,dog,car photo1.jpg   # only these words

--model is an export directory (or its saved_model/). Scores are the word
layer's, e.w + b (higher is better). A file that is missing, not an image,
or larger than the export's pixel limit (read from its header: it is never
decoded) gets one line naming it; the other files are still answered. With --words,
each image ranks only the given words (zero-shot labelling with your own
list), each through the project's text rules first (Letter is letter); words
outside the model's dictionary are named on stderr and left out, those of its
dataset's dictionary beyond the model's K words told apart.
--ranking: natural ranks words as they occur in natural images (the word
layer's score plus the model's prior weight times the log word frequency;
the default without --words), balanced as if every word were equally
frequent (the default with --words: zero-shot labelling wants no frequency
prior). The SavedModel holds the preprocessing, the dictionary and the
prior; answers and error lines come in the order the files were given.
"""

import os
import sys

from absl import app, flags

from wsl_tf import fileio
from wsl_tf.cli import command

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
flags.DEFINE_string(
    "model", None, "An export directory (holding saved_model/) or a SavedModel directory.", flag_values=FLAGS
)
flags.DEFINE_enum(
    "format", "table", ["table", "json"], "table: a line per image; json: a JSON object per line.", flag_values=FLAGS
)
flags.DEFINE_list("words", None, "Score only these words (comma-separated).", flag_values=FLAGS)
flags.DEFINE_integer(
    "top_k",
    0,
    "Words shown per image (0: what the model returns, or all of --words).",
    lower_bound=0,
    flag_values=FLAGS,
)
flags.DEFINE_integer("batch_size", 64, "Images per call.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_enum(
    "ranking",
    None,
    ["natural", "balanced"],
    "natural: words ranked with their frequency prior; balanced: as if all were equally frequent. "
    "Default: natural, or balanced with --words.",
    flag_values=FLAGS,
)
flags.mark_flags_as_required(["model"], flag_values=FLAGS)


def saved_model_dir(path: str) -> str:
    import tensorflow as tf

    nested = os.path.join(path, "saved_model")
    return nested if tf.io.gfile.isdir(nested) else path


SIGNATURES = {"natural": "serving_default", "balanced": "serving_balanced"}


def predict(
    signatures, images: list[bytes], words: list[str] | None, top_k: int, ranking: str = "natural"
) -> list[dict | None]:
    """Per image {"words", "scores"} under the ranking, or None for an image that does not decode."""
    import numpy as np
    import tensorflow as tf

    out = signatures[SIGNATURES[ranking]](images=tf.constant(images, tf.string))
    valid = out["valid"].numpy()
    if words:
        vectors = signatures["word_vectors"](words=tf.constant(words))
        weight = float(vectors["prior_weight"]) - (1.0 if ranking == "balanced" else 0.0)
        scores = (
            out["embedding"].numpy() @ vectors["vectors"].numpy().T
            + vectors["biases"].numpy()
            + weight * vectors["log_prior"].numpy()
        )
        order = np.argsort(-scores, axis=1, kind="stable")[:, : top_k or len(words)]
        ranked = [([words[j] for j in row], [float(scores[i, j]) for j in row]) for i, row in enumerate(order)]
    else:
        shown = top_k or out["words"].shape[1]
        ranked = [
            ([w.decode() for w in ws[:shown]], [float(s) for s in ss[:shown]])
            for ws, ss in zip(out["words"].numpy(), out["scores"].numpy())
        ]
    return [{"words": w, "scores": s} if ok else None for (w, s), ok in zip(ranked, valid)]


def refusal(data: bytes, max_pixels: int) -> str:
    """Why the model refused an image: too many pixels by its header, or it does not decode."""
    import tensorflow as tf

    from wsl_tf.input import preprocessing

    try:
        height, width = (int(v) for v in preprocessing.encoded_size(tf.constant(data)).numpy())
    except tf.errors.OpError:
        height = width = 0
    if height * width > max_pixels:
        return f"too large: {width} x {height} pixels, over the export's limit of {max_pixels:,} (not decoded)"
    return "not an image (it does not decode)"


def export_info(model_flag: str) -> dict:
    """export.json of --model (an export or its saved_model/), or {} where there is none or it does not parse."""
    import json

    import tensorflow as tf

    from wsl_tf import serving

    for folder in (model_flag, os.path.dirname(model_flag.rstrip("/"))):
        path = os.path.join(folder, serving.INFO_FILE)
        if tf.io.gfile.exists(path) and not tf.io.gfile.isdir(path):
            try:
                info = json.loads(fileio.read_text(path))
            except ValueError:
                return {}
            return info if isinstance(info, dict) else {}
    return {}


def export_max_pixels(model_flag: str) -> int:
    """The pixel limit the export was written with (export.json), or the serving default."""
    from wsl_tf import serving

    try:
        return int(export_info(model_flag).get("max_pixels", serving.MAX_PIXELS))
    except (ValueError, TypeError):
        return serving.MAX_PIXELS


def main(argv):
    files = argv[1:]
    if not files:
        raise app.UsageError("give one or more image files")
    import tensorflow as tf

    path = saved_model_dir(FLAGS.model)
    if not tf.saved_model.contains_saved_model(path):
        print(f"wsl-predict: error: --model={FLAGS.model}: {no_saved_model(FLAGS.model)}", file=sys.stderr)
        return 1
    try:
        signatures = tf.saved_model.load(path).signatures
    except (tf.errors.OpError, OSError, ValueError) as error:
        print(
            f"wsl-predict: error: --model={FLAGS.model}: the SavedModel in {path} does not load "
            f"({type(error).__name__}: {fileio.error_line(error)}); export it again (wsl-export)",
            file=sys.stderr,
        )
        return 1
    ranking = FLAGS.ranking or ("balanced" if FLAGS.words else "natural")
    if SIGNATURES[ranking] not in signatures:
        print(
            f"wsl-predict: error: --model={FLAGS.model}: the export has no {SIGNATURES[ranking]} signature "
            f"(exported by an older wsl_tf); export it again (wsl-export)",
            file=sys.stderr,
        )
        return 1
    words = None
    if FLAGS.words:
        words, notes = zero_shot_words(FLAGS.words, signatures, FLAGS.model)
        for note in notes:
            print(f"wsl-predict: {note}", file=sys.stderr)
        if not words:
            print("wsl-predict: error: --words: none of them is in the model's dictionary", file=sys.stderr)
            return 1
    failures = 0
    max_pixels = export_max_pixels(FLAGS.model)
    for start in range(0, len(files), FLAGS.batch_size):
        batch = files[start : start + FLAGS.batch_size]
        contents, errors = [], {}
        for name in batch:
            try:
                with open(name, "rb") as handle:
                    contents.append(handle.read())
            except OSError as error:
                contents.append(None)
                errors[len(contents) - 1] = f"cannot read: {error.strerror or error}"
        readable = [data for data in contents if data is not None]
        results = iter(predict(signatures, readable, words, FLAGS.top_k, ranking) if readable else [])
        for position, (name, data) in enumerate(zip(batch, contents)):  # Answers and errors in input order.
            result = next(results) if data is not None else None
            if result is None:
                failures += 1
                report(name, error=errors.get(position) or refusal(data, max_pixels))
            else:
                report(name, **result)
    return 1 if failures == len(files) else 0


def no_saved_model(model_flag: str) -> str:
    """Why --model holds no SavedModel, and where one is when the path is a run directory."""
    import tensorflow as tf

    from wsl_tf.run_directory import RunDirectory

    run = RunDirectory(model_flag)
    if run.exists():
        if tf.saved_model.contains_saved_model(saved_model_dir(run.export)):
            return f"a run directory, not an export: its export is --model={run.export}"
        return f"a run directory without an export: wsl-export --workdir={model_flag} writes one"
    if not tf.io.gfile.exists(model_flag):
        return "no such file or directory"
    return "no SavedModel there (wsl-export writes one)"


def zero_shot_words(requested: list[str], signatures, model_flag: str) -> tuple[list[str], list[str]]:
    """(the words to rank, lines for stderr): each requested word through the project's text rules
    (lowercase, accents: wsl_tf/text.py), those the model has kept; one line for those it has not, telling a
    word of the dataset's dictionary beyond the model's K words from a word of no dictionary."""
    import tensorflow as tf

    from wsl_tf import text

    notes, candidates = [], []
    for word in requested:
        tokens = text.words(word)
        if len(tokens) != 1:
            notes.append(
                f"--words: {word!r} is {len(tokens)} words under the text rules "
                f"({', '.join(tokens) or 'none'}): left out; give one word at a time"
            )
            continue
        if tokens[0] != word:
            notes.append(f"--words: {word} is {tokens[0]} under the text rules")
        if tokens[0] not in candidates:
            candidates.append(tokens[0])
    if not candidates:
        return [], notes
    known = signatures["word_vectors"](words=tf.constant(candidates))["known"].numpy()
    kept = [w for w, k in zip(candidates, known) if k]
    missing = [w for w, k in zip(candidates, known) if not k]
    if missing:
        num_words, dataset_words = _dictionaries(model_flag)
        beyond = [w for w in missing if w in dataset_words]
        nowhere = [w for w in missing if w not in dataset_words]
        if beyond:
            notes.append(
                f"beyond the model's {num_words:,} words (in its dataset's dictionary), left out: {', '.join(beyond)}"
            )
        if nowhere:
            notes.append(f"not in the dictionary, left out: {', '.join(nowhere)}")
    return kept, notes


def _dictionaries(model_flag: str) -> tuple[int, set]:
    """(the model's K, the words of the dictionary of the run it was exported from), from export.json and
    the run's vocab.tsv; (0, empty) where they cannot be read."""
    import tensorflow as tf

    from wsl_tf.run_directory import RunDirectory

    info = export_info(model_flag)
    try:
        return int(info.get("num_words", 0)), set(RunDirectory(info["run"]).words())
    except (KeyError, TypeError, ValueError, tf.errors.OpError):  # An export whose run moved away.
        return 0, set()


def report(name: str, words=None, scores=None, error=None) -> None:
    if FLAGS.format == "json":
        line = {"file": name, "error": error} if error else {"file": name, "words": words, "scores": scores}
        print(fileio.dumps_strict(line), flush=True)
    elif error:
        print(f"{name}: {error}", flush=True)
    else:
        print(f"{name}: " + ", ".join(f"{w} {s:.3f}" for w, s in zip(words, scores)), flush=True)


def run():
    command.run(main, "wsl-predict", FLAGS)


if __name__ == "__main__":
    run()
