"""Paper run: alexnet at K = 1000, class-balanced one-vs-all loss, natural sampling with all words as targets, EASGD, batch 128, LR 0.1.

  wsl-train --config=configs/alexnet_k1000_ova.py --workdir=runs/alexnet_k1000_ova --config.data.dir=DATASET
"""

from wsl_tf.train.config import paper_config


def get_config():
    return paper_config("alexnet", num_words=1000, loss="one_vs_all")
