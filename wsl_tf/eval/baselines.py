"""Word-prediction baselines of section 4.1: the word-frequency prior; features + one logistic regressor per word.

The paper's baseline takes the penultimate features of a network trained with
class labels on a labelled set (ImageNet there) and fits one L2-regularised
logistic regressor per word on the weakly supervised training images. No
pretrained weights exist here, so wsl_tf/eval/class_network.py trains the
same architecture on a labelled set (wsl-eval gives it Fashion-MNIST); the
floor is the same regressors on a randomly initialised network.
"""

import keras
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from wsl_tf.eval.logistic import covariance_eigen, one_vs_all_logistic
from wsl_tf.input.dataset import PreparedDataset
from wsl_tf.precision import PRIOR_WEIGHTS, first_images, mean_precision_at_k, word_ids

C_GRID = (0.01, 0.1, 1.0)
# L-BFGS iterations per fit, in whitened coordinates (wsl_tf/eval/logistic.py), each fit starting from the last
# one's weights. On the demo's random-network features (K = 1,000 words, 19,714 train images) test precision@1 /
# @5 / @10 is 0.232 / 0.192 / 0.132 after 10, 0.236 / 0.192 / 0.133 after 15 (benchmarks/baselines.py --run=RUN,
# docs/reliability.md for the converged fit's); 10 take 10.7 s a network on 2 cores, 15 15.7 s.
MAX_ITER = 10
# C is chosen on val with the regressors fitted on this many train images (a seeded subsample); the chosen C is
# then fitted on every train image, from the subsample's weights. At K = 1,000 words over 20,000 images the path
# over the grid on all images took about 4 minutes a network on 2 cores.
SELECTION_IMAGES = 2048


def frequency_scores(dataset: PreparedDataset | str, num_words: int):
    """The prior: every image scores each word by its count of train images (N_k); a score_fn for split_precision."""
    counts = tf.constant(np.asarray(PreparedDataset.of(dataset).train_word_counts()[:num_words], np.float64))
    return lambda images: tf.broadcast_to(counts, [tf.shape(images)[0], num_words])


def random_network(model_config, num_classes: int, seed: int = 0):
    """The architecture of model_config with its word layer over num_classes classes, initialised from seed.

    Seeded (Python, numpy, TensorFlow and Keras's global generator), so a
    rerun of the evaluation fits its baselines on the same features.
    """
    import ml_collections

    from wsl_tf.models import build_model

    config = ml_collections.ConfigDict(dict(model_config))
    config.num_words = num_classes
    keras.utils.set_random_seed(seed)
    return build_model(config)


def split_features(
    networks: dict,
    dataset,
    input_config,
    num_words: int,
    split: str,
    max_images: int,
    batch_size: int = 64,
    batches=None,
) -> tuple[dict, np.ndarray]:
    """({name: embeddings [N, E]} of each network, multi-hot labels [N, num_words]) of a split's first max_images
    images, read and decoded once for all the networks, each batch through one compiled call.

    batches: those images already read (a precision.HeldOutBatches of the same split and max_images)."""
    embed = tf.function(lambda images: {name: net.embed(images, training=False) for name, net in networks.items()})
    features, labels = {name: [] for name in networks}, []
    if batches is None:
        batches = first_images(dataset, split, input_config, batch_size, max_images)
    for batch in batches:
        for name, values in embed(batch["images"]).items():
            features[name].append(values.numpy())
        ids = batch["labels"].numpy()
        hot = np.zeros((len(ids), num_words), np.float32)
        rows, cols = np.nonzero((ids >= 0) & (ids < num_words))
        hot[rows, ids[rows, cols]] = 1.0
        labels.append(hot)
    if not labels:  # An empty split: no batch, so the networks never run.
        empty = {name: np.zeros((0, network.embedding_dim), np.float32) for name, network in networks.items()}
        return empty, np.zeros((0, num_words), np.float32)
    return {name: np.concatenate(values) for name, values in features.items()}, np.concatenate(labels)


def regressor_scores(
    train,
    val,
    test,
    progress: bool = True,
    selection_images: int = SELECTION_IMAGES,
    seed: int = 0,
    with_val: bool = False,
    max_iter: int | None = None,
):
    """Scores [N_test, K] of one logistic regressor per word fitted on every train image, C chosen on val by
    precision@1 (among fits on `selection_images` of them, when there are more); with_val: (val scores, test
    scores).

    train / val / test: (features, multi-hot labels). A word with no positive
    (or no negative) train image scores its train frequency's log-odds.
    max_iter: L-BFGS steps a fit (None: MAX_ITER).
    """
    (x_train, y_train), (x_val, y_val), (x_test, _) = train, val, test
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_val, x_test = ((x - mean) / std for x in (x_train, x_val, x_test))
    positives = y_train.sum(0)
    prior = np.log((positives + 0.5) / (len(y_train) - positives + 0.5))
    fitted = (positives > 0) & (positives < len(y_train))

    def scores_for(weights):
        """(val scores, test scores) of the fitted regressors, the prior for the others."""
        val, test = np.tile(prior, (len(x_val), 1)), np.tile(prior, (len(x_test), 1))
        val[:, fitted], test[:, fitted] = (x @ weights[:-1] + weights[-1] for x in (x_val, x_test))
        return val, test

    max_iter = max_iter or MAX_ITER
    rows = np.arange(len(x_train))
    if len(rows) > selection_images:
        rows = np.sort(np.random.default_rng(seed).choice(len(rows), selection_images, replace=False))
    scored, path, weights = {}, {}, None
    eigen = covariance_eigen(x_train[rows])
    for c in tqdm(sorted(C_GRID), desc="regressors", disable=not progress):
        weights = one_vs_all_logistic(
            x_train[rows], y_train[rows][:, fitted], c, start=weights, max_iter=max_iter, eigen=eigen
        )
        scored[c], path[c] = scores_for(weights), weights
    best = max(C_GRID, key=lambda c: np.nan_to_num(mean_precision_at_k(scored[c][0], word_ids(y_val), 1), nan=0.0))
    if len(rows) < len(x_train):
        scored[best] = scores_for(
            one_vs_all_logistic(x_train, y_train[:, fitted], best, start=path[best], max_iter=max_iter)
        )
    return scored[best] if with_val else scored[best][1]


def prior_weight_on_val(
    val_scores: np.ndarray, val_multi_hot: np.ndarray, log_prior: np.ndarray, weights=PRIOR_WEIGHTS
) -> float:
    """The lambda of `weights` whose scores + lambda log_prior score best on val at precision@1 (lowest on a tie):
    the natural ranking of scores that come without one (the regressors), chosen as the trainer chooses a model's."""
    labels = word_ids(val_multi_hot)
    return max(
        weights, key=lambda w: (np.nan_to_num(mean_precision_at_k(val_scores + w * log_prior, labels, 1), nan=0.0), -w)
    )
