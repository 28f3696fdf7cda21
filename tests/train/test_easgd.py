"""EASGD under MirroredStrategy against a numpy EASGD, on 2 and 4 logical CPUs."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wsl_tf.train.easgd import EASGD, local_variables
from wsl_tf.variables import local_copy

DIM = 5


def linear_model():
    return keras.Sequential([keras.Input((DIM,)), keras.layers.Dense(1, kernel_initializer="zeros")])


def setup(replicas, tau, momentum, nesterov, lr=0.05):
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])
    with strategy.scope():
        centre = linear_model()
        with local_variables():
            local = linear_model()
    easgd = EASGD(
        strategy,
        local.trainable_variables,
        centre.trainable_variables,
        lr,
        momentum=momentum,
        nesterov=nesterov,
        tau=tau,
        beta=0.9,
    )
    easgd.set_locals_to_centre()

    @tf.function
    def local_step(inputs):
        def replica(x, y):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean((local(x)[:, 0] - y) ** 2)
            easgd.apply_local(tape.gradient(loss, local.trainable_variables))
            return loss

        return strategy.run(replica, args=inputs)

    return strategy, local, centre, easgd, local_step, tf.function(easgd.elastic_step)


def data(replicas, steps, batch=4):
    rng = np.random.default_rng(0)
    truth = rng.normal(size=DIM)
    x = rng.normal(size=(steps, replicas, batch, DIM)).astype(np.float32)
    y = (x @ truth + 0.1 * rng.normal(size=(steps, replicas, batch))).astype(np.float32)
    return x, y


def numpy_easgd(x, y, tau, lr, momentum, nesterov, beta=0.9):
    """Zhang et al., Algorithm 1 (synchronous), with the local optimizer of SparseMomentumSGD."""
    steps, p = x.shape[:2]
    w = np.zeros((p, DIM + 1))  # Kernel then bias.
    accum = np.zeros_like(w)
    centre = np.zeros(DIM + 1)
    alpha = beta / p
    for t in range(steps):
        if t % tau == 0:
            diff = w - centre
            w -= alpha * diff
            centre += alpha * diff.sum(axis=0)
        for i in range(p):
            err = x[t, i] @ w[i, :DIM] + w[i, DIM] - y[t, i]
            grad = np.concatenate([2 * x[t, i].T @ err / len(err), [2 * err.mean()]])
            if momentum:
                accum[i] = momentum * accum[i] + grad
                grad = grad + momentum * accum[i] if nesterov else accum[i]
            w[i] -= lr * grad
    return w, centre


def run(replicas, tau, momentum, nesterov, steps=12):
    strategy, local, centre, easgd, local_step, elastic_step = setup(replicas, tau, momentum, nesterov)
    x, y = data(replicas, steps)
    for t in range(steps):
        if t % tau == 0:
            elastic_step()
        inputs = strategy.experimental_distribute_values_from_function(
            lambda ctx, t=t: (
                tf.constant(x[t, ctx.replica_id_in_sync_group]),
                tf.constant(y[t, ctx.replica_id_in_sync_group]),
            )
        )
        local_step(inputs)
    per_replica = [
        np.concatenate([k.numpy().ravel(), b.numpy()])
        for k, b in zip(local.trainable_variables[0].value.values, local.trainable_variables[1].value.values)
    ]
    centre_weights = np.concatenate(
        [centre.trainable_variables[0].numpy().ravel(), centre.trainable_variables[1].numpy()]
    )
    return np.array(per_replica), centre_weights, x, y


@pytest.mark.parametrize(
    "replicas, tau, momentum, nesterov", [(2, 3, 0.9, True), (4, 2, 0.0, False), (2, 1, 0.9, False)]
)
def test_matches_numpy_easgd_step_for_step(replicas, tau, momentum, nesterov):
    local, centre, x, y = run(replicas, tau, momentum, nesterov)
    expected_local, expected_centre = numpy_easgd(x, y, tau, 0.05, momentum, nesterov)
    np.testing.assert_allclose(local, expected_local, atol=1e-5)
    np.testing.assert_allclose(centre, expected_centre, atol=1e-5)


def test_local_copies_really_diverge_between_communications():
    local, centre, _, _ = run(4, tau=5, momentum=0.9, nesterov=True, steps=4)
    assert np.abs(local - local.mean(axis=0)).max() > 1e-2  # Four different models...
    assert np.abs(centre).max() == 0  # ...and a centre not yet moved (first elastic step at t = 0 was a no-op).


def test_sparse_gradients_update_only_their_rows_on_each_replica():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        centre = keras.Variable(np.ones((50, 3), np.float32))
        with local_variables():
            local = keras.Variable(np.ones((50, 3), np.float32))
    easgd = EASGD(strategy, [local], [centre], 0.1, momentum=0.9, tau=10)

    @tf.function
    def step():
        def replica():
            rid = tf.distribute.get_replica_context().replica_id_in_sync_group
            rows = tf.stack([rid, 10 + rid])
            easgd.apply_local([tf.IndexedSlices(tf.ones((2, 3)), rows)])

        strategy.run(replica)

    step()
    copies = [v.numpy() for v in local.value.values]
    changed = [np.flatnonzero(np.any(c != 1, axis=1)).tolist() for c in copies]
    assert changed == [[0, 10], [1, 11]]
    slots = [np.flatnonzero(np.any(s.numpy() != 0, axis=1)).tolist() for s in easgd.slots[0].values]
    assert slots == [[0, 10], [1, 11]]
    np.testing.assert_array_equal(local_copy(centre).numpy(), np.ones((50, 3)))  # Local steps leave the centre.


def test_bad_arguments():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with pytest.raises(ValueError, match="tau must be >= 1"):
        EASGD(strategy, [], [], 0.1, tau=0)


def test_a_dense_model_sends_one_copy_of_itself_per_replica_and_exchange():
    strategy, local, centre, easgd, _, elastic_step = setup(2, tau=3, momentum=0.9, nesterov=True)
    for _ in range(3):
        elastic_step()
    assert easgd.total_reduced_bytes() == 3 * 2 * (DIM + 1) * 4


@pytest.mark.slow
def test_two_workers_with_multiworker_mirrored_strategy_match_numpy_easgd(tmp_path):
    """Two processes on this machine, one replica each: the elastic step's sum crosses processes."""
    import json
    import os
    import socket
    import subprocess
    import sys

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    script = os.path.join(os.path.dirname(__file__), "easgd_worker.py")
    processes = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
            "TF_CPP_MIN_LOG_LEVEL": "3",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, script, str(tmp_path / f"w{index}.json")],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr[-3000:]
    results = [json.loads((tmp_path / f"w{i}.json").read_text()) for i in range(2)]
    x, y = data(2, 12)
    expected_local, expected_centre = numpy_easgd(x, y, 3, 0.05, 0.9, True)
    for result in results:
        worker = result["worker"]
        np.testing.assert_allclose(np.concatenate(result["local"]), expected_local[worker], atol=1e-5)
        np.testing.assert_allclose(np.concatenate(result["centre"]), expected_centre, atol=1e-5)
    assert not np.allclose(expected_local[0], expected_local[1])
