"""wsl-search: look a collection up by words or by image, in an index wsl-embed wrote.

  wsl-search --index=index/photos --words=dog,red            # images ranked by the words' scores
  wsl-search --index=index/photos --image=query.jpg --top=20  # images nearest by cosine of embeddings
  wsl-search --index=index/photos --words=flower --format=html --output=flower.html

By words: each word goes through the project's text rules and must be in the
model's dictionary (one that is not is named on stderr and left out); images
are ranked by the mean of the words' scores from the word layer (e.w + b),
as the model scores them. By image: the query goes through the export's
preprocessing and images are ranked by the cosine of its embedding with
theirs. The search is exact up to 1,000,000 images, approximate above
(--search: faiss's inverted file, the [ann] extra, built on first use and
cached in the index, its recall@10 against exact search printed). --model is
the export the index was made with
(default: the one its manifest names); an index of another export is
refused. --format=text prints rank, score, key and top words a line each;
json a JSON object per line; html a self-contained page (thumbnails inline)
written to --output.
"""

import os
import sys

from absl import app, flags

from wsl_tf import fileio
from wsl_tf.cli import command
from wsl_tf.errors import ConfigError, DataError

FLAGS = flags.FlagValues()  # This command's own: several commands can be imported in one process.
flags.DEFINE_string("index", None, "An index directory wsl-embed wrote.", flag_values=FLAGS)
flags.DEFINE_string("model", None, "The export the index was made with (default: the manifest's).", flag_values=FLAGS)
flags.DEFINE_list("words", None, "Rank the collection by these words (comma-separated).", flag_values=FLAGS)
flags.DEFINE_string("image", None, "Rank the collection by closeness to this image file.", flag_values=FLAGS)
flags.DEFINE_integer("top", 10, "Images shown.", lower_bound=1, flag_values=FLAGS)
flags.DEFINE_enum("format", "text", ["text", "json", "html"], "How to show them.", flag_values=FLAGS)
flags.DEFINE_string("output", None, "With --format=html: the page to write.", flag_values=FLAGS)
flags.DEFINE_enum(
    "search",
    "auto",
    ["auto", "exact", "approximate"],
    "exact: every image scored; approximate: a faiss inverted-file index (the [ann] extra), built on "
    "first use and cached in the index, its recall@10 printed; auto: approximate above "
    "1,000,000 images.",
    flag_values=FLAGS,
)

APPROXIMATE_ABOVE = 1_000_000
flags.mark_flags_as_required(["index"], flag_values=FLAGS)


def query_vector(index, signatures, words, image: str | None):
    """(the query's description, its kind "words" or "image", the vector [E] and the constant added to every
    image's score): a word query's score is e . mean(w) + mean(b), an image query's the cosine with its embedding.
    DataError for a query that cannot be made."""
    import tensorflow as tf

    from wsl_tf.cli.predict import zero_shot_words

    if image is not None:
        try:
            data = fileio.read_bytes(image)
        except (OSError, tf.errors.OpError) as error:
            raise DataError(f"--image={image}: cannot read it ({fileio.error_line(error)})") from None
        out = signatures["serving_default"](images=tf.constant([data]))
        if not bool(out["valid"][0]):
            raise DataError(f"--image={image}: not an image the export decodes (or over its pixel limit)")
        return f"nearest to {image}", "image", out["embedding"][0].numpy(), 0.0
    kept, notes = zero_shot_words(words, signatures, FLAGS.model or index.manifest["export"]["path"])
    for note in notes:
        print(f"wsl-search: {note}", file=sys.stderr)
    if not kept:
        raise DataError("--words: none of them is in the model's dictionary")
    vectors = signatures["word_vectors"](words=tf.constant(kept))
    return (
        f"words: {', '.join(kept)}",
        "words",
        vectors["vectors"].numpy().mean(0),
        float(vectors["biases"].numpy().mean()),
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if bool(FLAGS.words) == bool(FLAGS.image):
        raise ConfigError("give --words or --image (one of them)")
    if FLAGS.format == "html" and not FLAGS.output:
        raise ConfigError("--format=html writes a page: give --output=PAGE.html")
    import tensorflow as tf

    from wsl_tf import collection
    from wsl_tf.cli.predict import saved_model_dir
    from wsl_tf.gallery import gallery_html

    manifest = collection.index_manifest(FLAGS.index)
    approximate = FLAGS.search == "approximate" or (FLAGS.search == "auto" and manifest["images"] > APPROXIMATE_ABOVE)
    kind = "image" if FLAGS.image else "words"
    # Through a cached approximate index the embeddings stay in the shards: only the hits' are read.
    cached = approximate and fileio.exists(collection.approximate_path(FLAGS.index, kind))
    index = collection.load_index(FLAGS.index, embeddings=not cached)
    model = FLAGS.model or index.manifest["export"]["path"]
    identity = collection.export_identity(model)
    if {k: identity[k] for k in ("checkpoint", "embedding_dim", "num_words")} != {
        k: index.manifest["export"][k] for k in ("checkpoint", "embedding_dim", "num_words")
    }:
        raise DataError(
            f"--index={FLAGS.index} was made with another export ({index.manifest['export']['path']}, checkpoint "
            f"{index.manifest['export']['checkpoint']}), not --model={model}"
        )
    signatures = tf.saved_model.load(saved_model_dir(model)).signatures
    query, kind, vector, constant = query_vector(index, signatures, FLAGS.words, FLAGS.image)
    hits = collection.search(
        index,
        FLAGS.index,
        kind,
        vector,
        constant,
        FLAGS.top,
        approximate,
        log=lambda line: print(f"wsl-search: {line}", file=sys.stderr),
    )
    if FLAGS.format == "html":
        if os.path.dirname(FLAGS.output):
            fileio.makedirs(os.path.dirname(FLAGS.output))  # The page's folder, as any output's, is made.
        fileio.write_text_atomic(FLAGS.output, gallery_html(query, hits))
        print(f"wrote {FLAGS.output}: {query}, {len(hits)} images")
    for rank, hit in enumerate(hits, start=1):
        if FLAGS.format == "json":
            print(fileio.dumps_strict({"rank": rank, **{k: v for k, v in hit.items() if k != "thumbnail"}}))
        elif FLAGS.format == "text":
            print(f"{rank}\t{hit['score']:.4f}\t{hit['key']}\t{', '.join(hit['words'][:5])}")
    return 0


def run():
    command.run(main, "wsl-search", FLAGS)


if __name__ == "__main__":
    run()
