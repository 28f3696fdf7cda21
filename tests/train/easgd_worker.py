"""One worker of the multi-worker EASGD test (run as a subprocess with TF_CONFIG set).

Trains the linear model of test_easgd.py for a fixed data order with
MultiWorkerMirroredStrategy (one CPU replica per worker) and writes its
local and centre weights as JSON to argv[1].
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from wsl_tf.train.easgd import EASGD, local_variables  # noqa: E402

DIM, STEPS, TAU, LR = 5, 12, 3, 0.05


def main(out_path):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    worker = strategy.cluster_resolver.task_id
    rng = np.random.default_rng(0)
    truth = rng.normal(size=DIM)
    x = rng.normal(size=(STEPS, 2, 4, DIM)).astype(np.float32)
    y = (x @ truth + 0.1 * rng.normal(size=(STEPS, 2, 4))).astype(np.float32)

    def model():
        return keras.Sequential([keras.Input((DIM,)), keras.layers.Dense(1, kernel_initializer="zeros")])

    with strategy.scope():
        centre = model()
        with local_variables():
            local = model()
    easgd = EASGD(
        strategy, local.trainable_variables, centre.trainable_variables, LR, momentum=0.9, nesterov=True, tau=TAU
    )
    easgd.set_locals_to_centre()

    @tf.function
    def local_step(xs, ys):
        def replica(a, b):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((local(a)[:, 0] - b) ** 2)
            easgd.apply_local(tape.gradient(loss, local.trainable_variables))

        strategy.run(replica, args=(xs, ys))

    elastic = tf.function(easgd.elastic_step)
    for t in range(STEPS):
        if t % TAU == 0:
            elastic()
        local_step(tf.constant(x[t, worker]), tf.constant(y[t, worker]))
    own = [np.asarray(v.value._get_on_device_or_primary()).ravel().tolist() for v in local.trainable_variables]
    with open(out_path, "w") as handle:
        json.dump(
            {
                "worker": worker,
                "local": own,
                "centre": [np.asarray(v).ravel().tolist() for v in centre.trainable_variables],
            },
            handle,
        )


if __name__ == "__main__":
    main(sys.argv[1])
