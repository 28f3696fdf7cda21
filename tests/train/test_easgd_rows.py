"""EASGD's row-sparse exchange against a dense numpy EASGD, step for step, on 2 and 4 replicas.

The model: word rows W [K, E] and biases b [K] (row-sparse, read only for
each step's words) and a dense scale v [E]; squared error of
W[r] . (v * x) + b[r] against targets. Some rows stay untouched for several
tau periods, then return.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from wsl_tf.train.easgd import EASGD, local_variables
from wsl_tf.variables import local_copy, replica_copies

K, E, BATCH, TAU, LR, MOMENTUM = 24, 3, 4, 3, 0.05, 0.9


def rows_schedule(replicas, steps):
    """Rows each replica touches at each step: period-dependent blocks, some rows idle for periods."""
    rng = np.random.default_rng(1)
    schedule = np.zeros((steps, replicas, 4), np.int32)
    for t in range(steps):
        period = t // TAU
        for i in range(replicas):
            if period in (0, 1, 5, 6):
                pool = np.arange(0, 8) + 2 * i  # Rows 0-13: idle in periods 2-4, back in 5-6.
            else:
                pool = np.arange(12, 24)  # Rows 12-23 only in periods 2-4.
            schedule[t, i] = rng.choice(pool, size=4, replace=False)
    return schedule


def numpy_reference(x, y, rows, replicas, steps, nesterov=True, weight_decay=0.0):
    """Dense EASGD: every row exchanged every tau steps; lazy momentum on the rows a step touches."""
    p, alpha = replicas, 0.9 / replicas
    rng = np.random.default_rng(0)
    w0, b0, v0 = rng.normal(size=(K, E)) * 0.5, rng.normal(size=K) * 0.1, 1.0 + 0.1 * rng.normal(size=E)
    w, b, v = np.repeat(w0[None], p, 0), np.repeat(b0[None], p, 0), np.repeat(v0[None], p, 0)
    cw, cb, cv = w0.copy(), b0.copy(), v0.copy()
    mw, mb, mv = np.zeros_like(w), np.zeros_like(b), np.zeros_like(v)
    touched_values = []
    for t in range(steps):
        if t % TAU == 0:
            dw, db, dv = w - cw, b - cb, v - cv
            w, b, v = w - alpha * dw, b - alpha * db, v - alpha * dv
            cw, cb, cv = cw + alpha * dw.sum(0), cb + alpha * db.sum(0), cv + alpha * dv.sum(0)
        for i in range(p):
            r = rows[t, i]
            feats = x[t, i] * v[i]  # [B, E]
            err = feats @ w[i, r].T + b[i, r] - y[t, i]  # [B, R]
            gw = err.T @ feats / BATCH + weight_decay * w[i, r]
            gb = err.sum(0) / BATCH + weight_decay * b[i, r]
            gv = ((err @ w[i, r]) * x[t, i]).sum(0) / BATCH + weight_decay * v[i]
            for grad, slot, var, index in ((gw, mw, w, r), (gb, mb, b, r)):
                slot[i, index] = MOMENTUM * slot[i, index] + grad
                step = grad + MOMENTUM * slot[i, index] if nesterov else slot[i, index]
                var[i, index] -= LR * step
            mv[i] = MOMENTUM * mv[i] + gv
            v[i] -= LR * (gv + MOMENTUM * mv[i] if nesterov else mv[i])
        touched_values.append((w.copy(), b.copy()))
    return (w, b, v), (cw, cb, cv), touched_values, (w0, b0, v0)


def run_tf(replicas, steps, x, y, rows, init, synchronize_at=(), weight_decay=0.0):
    strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])
    w0, b0, v0 = (a.astype(np.float32) for a in init)
    with strategy.scope():
        centre = [keras.Variable(w0), keras.Variable(b0), keras.Variable(v0)]
        with local_variables():
            local = [keras.Variable(w0), keras.Variable(b0), keras.Variable(v0)]
    easgd = EASGD(
        strategy,
        local,
        centre,
        LR,
        momentum=MOMENTUM,
        nesterov=True,
        weight_decay=weight_decay,
        tau=TAU,
        row_sparse=[0, 1],
    )
    easgd.set_locals_to_centre()

    @tf.function
    def local_step(inputs):
        def replica(xs, ys, r):
            easgd.prepare_rows(r)
            with tf.GradientTape() as tape:
                w_rows = tf.gather(local_copy(local[0]), r)
                b_rows = tf.gather(local_copy(local[1]), r)
                feats = xs * local_copy(local[2])
                err = tf.matmul(feats, w_rows, transpose_b=True) + b_rows - ys
                loss = 0.5 * tf.reduce_sum(err**2) / BATCH
            gradients = tape.gradient(loss, local)
            easgd.apply_local(gradients)
            return tf.constant(isinstance(gradients[0], tf.IndexedSlices))

        return strategy.run(replica, args=inputs)

    elastic, synchronize = tf.function(easgd.elastic_step), tf.function(easgd.synchronize)
    seen = []
    for t in range(steps):
        if t % TAU == 0:
            elastic()
        inputs = strategy.experimental_distribute_values_from_function(
            lambda ctx, t=t: tuple(
                tf.constant(a[t, ctx.replica_id_in_sync_group])
                for a in (x.astype(np.float32), y.astype(np.float32), rows)
            )
        )
        sparse = local_step(inputs)
        assert all(bool(s) for s in strategy.experimental_local_results(sparse))
        seen.append(
            [(replica_copies(local[0])[i].numpy(), replica_copies(local[1])[i].numpy()) for i in range(replicas)]
        )
        if t in synchronize_at:
            synchronize()
    synchronize()
    locals_ = [np.stack([c.numpy() for c in replica_copies(v)]) for v in local]
    return locals_, [c.numpy() for c in centre], seen, easgd


@pytest.mark.parametrize("replicas", [2, 4])
def test_row_sparse_easgd_matches_dense_numpy_easgd_step_for_step(replicas):
    steps = 7 * TAU  # Seven periods; rows 0-11 idle through periods 2-4.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(steps, replicas, BATCH, E))
    y = rng.normal(size=(steps, replicas, BATCH, 4))
    rows = rows_schedule(replicas, steps)
    (w, b, v), (cw, cb, cv), reference_steps, init = numpy_reference(x, y, rows, replicas, steps)
    locals_, centre, seen, easgd = run_tf(replicas, steps, x, y, rows, init, synchronize_at=(10,))
    for t in range(steps):  # The rows each replica used are current after every step.
        for i in range(replicas):
            r = rows[t, i]
            np.testing.assert_allclose(seen[t][i][0][r], reference_steps[t][0][i, r], atol=1e-5)
            np.testing.assert_allclose(seen[t][i][1][r], reference_steps[t][1][i, r], atol=1e-5)
    np.testing.assert_allclose(locals_[0], w, atol=1e-5)
    np.testing.assert_allclose(locals_[1], b, atol=1e-5)
    np.testing.assert_allclose(locals_[2], v, atol=1e-5)
    np.testing.assert_allclose(centre[0], cw, atol=1e-5)
    np.testing.assert_allclose(centre[1], cb, atol=1e-5)
    np.testing.assert_allclose(centre[2], cv, atol=1e-5)
    idle = np.arange(0, 12)
    assert np.abs(cw[idle] - init[0][idle]).max() > 1e-3  # The idle rows did move (they were caught up).


def test_the_exchange_sends_only_the_rows_each_replica_changed():
    replicas, steps = 2, 2 * TAU + 1
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(steps, replicas, BATCH, E)), rng.normal(size=(steps, replicas, BATCH, 4))
    rows = rows_schedule(replicas, steps)
    *_, easgd = run_tf(replicas, steps, x, y, rows, numpy_reference(x, y, rows, replicas, 1)[3])
    expected = 0
    for exchange in range(int(np.ceil(steps / TAU))):  # Exchanges at t = 0, 3, 6 (rows of the period before).
        if exchange == 0:  # Nothing changed yet: each replica sends row 0 with a zero change.
            changed = [1] * replicas
        else:
            period = slice((exchange - 1) * TAU, exchange * TAU)
            changed = [len(np.unique(rows[period, i])) for i in range(replicas)]
        dense = E * 4
        expected += sum(n * (E * 4 + 4) + n * (4 + 4) for n in changed) + replicas * dense
    assert easgd.total_reduced_bytes() == expected
