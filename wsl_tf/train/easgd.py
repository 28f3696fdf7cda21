"""Synchronous elastic averaging SGD (Zhang, Choromanska and LeCun 2015), sparse in the word rows.

Each replica keeps its own weights x_i and steps on its own gradients only
(no gradient all-reduce). A centre copy c is kept; every `tau` steps each
local copy moves toward the centre and the centre toward the locals:

    x_i <- x_i - alpha (x_i - c),    c <- c + alpha sum_i (x_i - c),

with alpha = beta / p for p replicas (beta = 0.9 by default). The local step
is SGD with Nesterov momentum (EAMSGD) or plain SGD, with lazy per-row
updates for sparse (IndexedSlices) gradients, as in SparseMomentumSGD.

Row-sparse variables (the word layers, K x E): a row no replica changed
between two exchanges moves only under the elastic maps, which are linear.
Per row, the mean m of the locals and the centre c follow a fixed 2 x 2 map
(p m + c is kept; m - c is multiplied by 1 - alpha - beta), and each local's
deviation from the mean shrinks by (1 - alpha). So the exchange sends only
the rows some replica changed since the last one, each replica its own rows
(its change since it caught the row up, an IndexedSlices), and every other
row is brought up to date in closed form when it is next touched, and for
all rows by `synchronize()` before evaluation, checkpoints or export. This
is exact EASGD: tests/train/test_easgd_rows.py checks it step for step against
a dense numpy EASGD. Its price is memory: for each word matrix every replica
also holds the locals' mean at each row's last exchange and the row's value
when it was caught up (two more K x E matrices), and a [K] touched mask and
[K] exchange count.

Under tf.distribute the local weights are per-replica variables
(synchronization ON_READ: create the training model inside
`local_variables()`), and the centre is an ordinary mirrored model of the
same architecture: evaluation, checkpoints and export use it. The exchange
runs in replica context and sums the replicas' differences with
`all_reduce`, so it works the same across machines
(MultiWorkerMirroredStrategy); each replica then writes its own copy of the
centre. That sum is the only traffic between replicas.
"""

import numpy as np
import tensorflow as tf

from wsl_tf.train.optimizers import momentum_update
from wsl_tf.variables import local_copy, local_variables, replica_copies, tensor_bytes


class EASGD:
    """The local steps and the elastic exchange over a strategy's replicas.

    row_sparse: positions in the variable lists of the row-sparse variables
    (first dimension K, gradients IndexedSlices over rows). Before each local
    step's forward pass call `prepare_rows(rows)` with the rows it will read.
    """

    def __init__(
        self,
        strategy,
        local_variables_list,
        centre_variables,
        learning_rate,
        momentum=0.9,
        nesterov=True,
        weight_decay=0.0,
        tau=10,
        beta=0.9,
        row_sparse=(),
    ):
        if len(local_variables_list) != len(centre_variables):
            raise ValueError("local and centre models must have the same variables")
        if tau < 1:
            raise ValueError(f"tau must be >= 1, got {tau}")
        self.strategy = strategy
        self.local = list(local_variables_list)
        self.centre = list(centre_variables)
        self.learning_rate = learning_rate
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay
        self.tau, self.beta = tau, beta
        self.num_replicas = strategy.num_replicas_in_sync
        self.alpha = beta / self.num_replicas
        self.row_sparse = sorted(set(row_sparse))
        self.dense = [i for i in range(len(self.centre)) if i not in self.row_sparse]
        rows = {int(self.centre[i].shape[0]) for i in self.row_sparse}
        if len(rows) > 1:
            raise ValueError(f"row-sparse variables must share their first dimension, got {sorted(rows)}")
        self.num_rows = rows.pop() if rows else 0
        with strategy.scope(), local_variables():
            self.slots = (
                [tf.Variable(tf.zeros(c.shape, c.dtype), trainable=False, name="easgd_momentum") for c in self.centre]
                if momentum
                else []
            )
            self.exchanges = tf.Variable(0, dtype=tf.int32, trainable=False, name="easgd_exchanges")
            self.reduced_bytes = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="easgd_reduced_bytes")
            self.means = {
                i: tf.Variable(
                    tf.zeros(self.centre[i].shape, self.centre[i].dtype), trainable=False, name="easgd_row_mean"
                )
                for i in self.row_sparse
            }
            self.anchors = {
                i: tf.Variable(
                    tf.zeros(self.centre[i].shape, self.centre[i].dtype), trainable=False, name="easgd_row_anchor"
                )
                for i in self.row_sparse
            }
            self.touched = tf.Variable(tf.zeros([self.num_rows], tf.int32), trainable=False, name="easgd_touched")
            self.synced_at = tf.Variable(tf.zeros([self.num_rows], tf.int32), trainable=False, name="easgd_synced_at")

    # --- State -------------------------------------------------------------------
    def state_variables(self) -> list:
        """Every per-replica variable EASGD keeps besides the models (for checkpoints)."""
        return [
            *self.slots,
            self.exchanges,
            self.reduced_bytes,
            *self.means.values(),
            *self.anchors.values(),
            self.touched,
            self.synced_at,
        ]

    def set_locals_to_centre(self):
        """Start (or restart) every replica from the centre weights, at exchange 0."""

        def copy():
            for local, centre in zip(self.local, self.centre):
                local_copy(local).assign(local_copy(centre))
            for i, mean in self.means.items():
                local_copy(mean).assign(local_copy(self.centre[i]))
            local_copy(self.touched).assign(tf.zeros_like(self.touched))
            local_copy(self.synced_at).assign(tf.zeros_like(self.synced_at))
            local_copy(self.exchanges).assign(0)

        tf.function(lambda: self.strategy.run(copy))()

    def total_reduced_bytes(self) -> float:
        """Bytes all replicas have handed to cross-replica sums so far."""
        return float(sum(np.asarray(copy) for copy in replica_copies(self.reduced_bytes)))

    # --- Untouched rows in closed form ----------------------------------------------
    def _lagged(self, mean, centre, lag):
        """(mean, centre) of rows after `lag` exchanges in which no replica changed them."""
        lag = tf.reshape(tf.cast(lag, mean.dtype), [-1] + [1] * (mean.shape.rank - 1))
        p = float(self.num_replicas)
        total = p * mean + centre
        gap = (mean - centre) * tf.pow(tf.constant(1.0 - self.alpha - self.beta, mean.dtype), lag)
        lagged_mean = (total + gap) / (p + 1.0)
        still = tf.equal(lag, 0.0)
        return tf.where(still, mean, lagged_mean), tf.where(still, centre, lagged_mean - gap)

    def _caught_up(self, value, mean, lagged_mean, lag):
        """A local copy's untouched rows after `lag` exchanges: the mean's move plus a shrunk deviation."""
        lag = tf.reshape(tf.cast(lag, value.dtype), [-1] + [1] * (value.shape.rank - 1))
        return lagged_mean + tf.pow(tf.constant(1.0 - self.alpha, value.dtype), lag) * (value - mean)

    @staticmethod
    def _rows_mask(mask, like):
        return tf.reshape(mask, [-1] + [1] * (like.shape.rank - 1))

    # --- Replica context -------------------------------------------------------------
    def prepare_rows(self, rows):
        """In replica context, before the forward pass: bring these rows of the local copy up to date."""
        if not self.row_sparse:
            return
        rows = tf.cast(rows, tf.int32)
        touched = local_copy(self.touched)
        exchanges = local_copy(self.exchanges)
        already = tf.gather(touched, rows) > 0
        lag = exchanges - tf.gather(local_copy(self.synced_at), rows)
        for i in self.row_sparse:
            local, anchor = local_copy(self.local[i]), local_copy(self.anchors[i])
            mean = tf.gather(local_copy(self.means[i]), rows)
            centre = tf.gather(local_copy(self.centre[i]), rows)
            current = tf.gather(local, rows)
            lagged_mean, _ = self._lagged(mean, centre, lag)
            caught = self._caught_up(current, mean, lagged_mean, lag)
            keep = self._rows_mask(already, current)
            local.scatter_update(tf.IndexedSlices(tf.where(keep, current, caught), rows))
            anchor.scatter_update(tf.IndexedSlices(tf.where(keep, tf.gather(anchor, rows), caught), rows))
        touched.scatter_update(tf.IndexedSlices(tf.ones_like(rows), rows))

    def apply_local(self, gradients):
        """In replica context: one local step on this replica's own gradients."""
        for index, (gradient, variable) in enumerate(zip(gradients, self.local)):
            if gradient is None:
                continue
            slot = self.slots[index] if self.slots else None
            momentum_update(
                variable, slot, gradient, self.learning_rate, self.momentum, self.nesterov, self.weight_decay
            )

    def _exchange(self):
        context = tf.distribute.get_replica_context()
        sent = tf.constant(0.0, tf.float64)
        differences = [local_copy(self.local[i]) - local_copy(self.centre[i]) for i in self.dense]
        changes = []
        if self.row_sparse:
            mine = tf.cast(tf.where(local_copy(self.touched) > 0)[:, 0], tf.int32)
            # The collective all-gather behind an IndexedSlices sum crashes on an empty one: a replica
            # that changed nothing sends row 0 with a zero change.
            mine = tf.cond(tf.size(mine) > 0, lambda: mine, lambda: tf.zeros([1], tf.int32))
            changed = tf.gather(local_copy(self.touched), mine) > 0
            for i in self.row_sparse:
                local, anchor = local_copy(self.local[i]), local_copy(self.anchors[i])
                change = tf.gather(local, mine) - tf.gather(anchor, mine)
                change = tf.where(self._rows_mask(changed, change), change, tf.zeros_like(change))
                # A static dense_shape: tf.shape(local) would read the whole matrix (and make the scatters
                # below copy it while that read is alive).
                changes.append(tf.IndexedSlices(change, mine, dense_shape=tf.constant(local.shape.as_list())))
                sent += tensor_bytes(tf.IndexedSlices(change, mine))
        for difference in differences:
            sent += tensor_bytes(difference)
        summed = context.all_reduce(tf.distribute.ReduceOp.SUM, differences + changes) if differences or changes else []
        alpha, p = self.alpha, float(self.num_replicas)
        for i, difference, total in zip(self.dense, differences, summed[: len(differences)]):
            local_copy(self.local[i]).assign_sub(alpha * difference)
            local_copy(self.centre[i]).assign_add(alpha * total)
        exchanges = local_copy(self.exchanges)
        if self.row_sparse:
            touched, synced_at = local_copy(self.touched), local_copy(self.synced_at)
            # Every replica receives the same sum, so all agree on the exchanged rows and their order.
            rows, where = tf.unique(summed[len(differences)].indices)
            lag = exchanges - tf.gather(synced_at, rows)
            already = tf.gather(touched, rows) > 0
            for i, total in zip(self.row_sparse, summed[len(differences) :]):
                change = tf.math.unsorted_segment_sum(total.values, where, tf.size(rows))
                local, mean_var, centre_var = (
                    local_copy(self.local[i]),
                    local_copy(self.means[i]),
                    local_copy(self.centre[i]),
                )
                mean, centre = tf.gather(mean_var, rows), tf.gather(centre_var, rows)
                lagged_mean, lagged_centre = self._lagged(mean, centre, lag)
                current = tf.gather(local, rows)
                current = tf.where(
                    self._rows_mask(already, current), current, self._caught_up(current, mean, lagged_mean, lag)
                )
                # sum_j (x_j - c) = p (mean - c) + the replicas' own changes (untouched deviations sum to 0).
                new_centre = lagged_centre + alpha * (p * (lagged_mean - lagged_centre) + change)
                new_mean = (1.0 - alpha) * (lagged_mean + change / p) + alpha * lagged_centre
                local.scatter_update(tf.IndexedSlices(current - alpha * (current - lagged_centre), rows))
                centre_var.scatter_update(tf.IndexedSlices(new_centre, rows))
                mean_var.scatter_update(tf.IndexedSlices(new_mean, rows))
            synced_at.scatter_update(tf.IndexedSlices(tf.fill(tf.shape(rows), exchanges + 1), rows))
            touched.scatter_update(tf.IndexedSlices(tf.zeros_like(mine), mine))
        exchanges.assign_add(1)
        local_copy(self.reduced_bytes).assign_add(sent)

    def _catch_up_all_rows(self):
        if not self.row_sparse:
            return
        exchanges = local_copy(self.exchanges)
        synced_at = local_copy(self.synced_at)
        lag = exchanges - synced_at.read_value()
        already = local_copy(self.touched).read_value() > 0
        for i in self.row_sparse:
            local, mean_var, centre_var = (
                local_copy(self.local[i]),
                local_copy(self.means[i]),
                local_copy(self.centre[i]),
            )
            mean, centre = mean_var.read_value(), centre_var.read_value()
            lagged_mean, lagged_centre = self._lagged(mean, centre, lag)
            current = local.read_value()
            local.assign(
                tf.where(self._rows_mask(already, current), current, self._caught_up(current, mean, lagged_mean, lag))
            )
            centre_var.assign(lagged_centre)
            mean_var.assign(lagged_mean)
        synced_at.assign(tf.fill(tf.shape(synced_at), exchanges))

    # --- Cross-replica context ----------------------------------------------------------
    def elastic_step(self):
        """Pull locals and centre together (only the rows some replica changed, for row-sparse variables)."""
        self.strategy.run(self._exchange)

    def synchronize(self):
        """Bring every row of the centre and the locals up to date (before evaluation, checkpoints, export)."""
        self.strategy.run(self._catch_up_all_rows)
