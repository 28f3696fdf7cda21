"""Where a word layer's scores lean with word frequency: trained runs compared on the same held-out images.

Not a speed benchmark: the measurement behind docs/word_layer.md's account
of the corrected in-batch layer against the exact head. The dictionary's
words are cut into ten deciles by train count (decile 0: the most frequent
tenth). For each run, on the first --images images of --split (its raw
scores, no prior): each decile's mean score (centred per image), the share
of images whose top-1 word falls in each decile, beside the share of the
images' own words in each decile, and the slope of a word's mean centred
score against log of its train count. Prints one JSON line per run:
{"bench": "score_by_frequency", "run", "images", "mean_centred_score", "top1_share", "truth_share", "slope"}.

    python benchmarks/score_by_frequency.py --runs=runs/demo/run,runs/exact
"""

import json

import numpy as np
from absl import app, flags

FLAGS = flags.FLAGS
flags.DEFINE_list("runs", None, "Trained run directories on the same prepared dataset.", required=True)
flags.DEFINE_string("split", "test", "The held-out split.")
flags.DEFINE_integer("images", 2000, "Its first this many images.")

DECILES = 10


def frequency_profile(scores: np.ndarray, labels: np.ndarray, counts: np.ndarray) -> dict:
    """The profile of raw scores [N, K] of images whose words are labels [N, L] (-1 padded), for words of
    train counts [K]."""
    num_words = len(counts)
    decile = np.empty(num_words, int)
    decile[np.argsort(-counts, kind="stable")] = np.arange(num_words) * DECILES // num_words
    centred = scores - scores.mean(1, keepdims=True)
    top1 = scores.argmax(1)
    own = labels[(labels >= 0) & (labels < num_words)]
    return {
        "images": len(scores),
        "mean_centred_score": [round(float(centred[:, decile == d].mean()), 3) for d in range(DECILES)],
        "top1_share": [round(float(np.mean(decile[top1] == d)), 3) for d in range(DECILES)],
        "truth_share": [round(float(np.mean(decile[own] == d)), 3) for d in range(DECILES)],
        "slope": round(float(np.polyfit(np.log(np.maximum(counts, 1)), centred.mean(0), 1)[0]), 3),
    }


def main(argv):
    del argv
    from wsl_tf.input.dataset import PreparedDataset
    from wsl_tf.precision import first_images
    from wsl_tf.run_directory import restore_run

    for directory in FLAGS.runs:
        run = restore_run(directory)
        config, model = run.config, run.model
        dataset = PreparedDataset.of(config.data.dir)
        num_words = config.model.num_words
        counts = np.asarray(dataset.train_word_counts()[:num_words], np.float64)
        scores, labels = [], []
        for batch in first_images(dataset, FLAGS.split, config.input, config.eval.batch_size, FLAGS.images):
            scores.append(np.asarray(model(batch["images"], training=False), np.float64))
            labels.append(batch["labels"].numpy())
        width = max(part.shape[1] for part in labels)
        labels = np.concatenate(
            [np.pad(part, ((0, 0), (0, width - part.shape[1])), constant_values=-1) for part in labels]
        )
        profile = frequency_profile(np.concatenate(scores), labels, counts)
        print(json.dumps({"bench": "score_by_frequency", "run": directory, **profile}), flush=True)


if __name__ == "__main__":
    app.run(main)
