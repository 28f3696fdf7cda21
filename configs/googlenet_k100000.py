"""Paper run: googlenet at K = 100000, multi-class logistic loss, uniform-per-word sampling, EASGD, batch 128, LR 0.1.

  wsl-train --config=configs/googlenet_k100000.py --workdir=runs/googlenet_k100000 --config.data.dir=DATASET
"""

from wsl_tf.train.config import paper_config


def get_config():
    return paper_config("googlenet", num_words=100000, loss="softmax")
