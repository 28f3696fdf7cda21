"""Paper run: alexnet at K = 10000, multi-class logistic loss, uniform-per-word sampling, EASGD, batch 128, LR 0.1.

  wsl-train --config=configs/alexnet_k10000.py --workdir=runs/alexnet_k10000 --config.data.dir=DATASET
"""

from wsl_tf.train.config import paper_config


def get_config():
    return paper_config("alexnet", num_words=10000, loss="softmax")
