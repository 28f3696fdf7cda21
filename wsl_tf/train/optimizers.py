"""SGD with momentum and weight decay that keeps sparse updates sparse.

Keras 3 SGD with momentum (and Adam) updates whole slot matrices every step:
an IndexedSlices gradient over the batch's 128 word rows becomes a dense
update of all K rows (measured: 3.4 s a step at K = 100,000, E = 4,096). This
optimizer updates, for an IndexedSlices gradient, only the rows it names,
slots included: lazy momentum, as TF1's sparse momentum did. A row's momentum
then decays only on the steps its word is in the batch.

The update is TF1's: accum = momentum * accum + grad (+ weight_decay * var),
var -= lr * accum, or with Nesterov var -= lr * (grad + momentum * accum).
Weight decay is coupled (added to the gradient), as in the paper's era, and
applied to a sparse variable's touched rows only.
"""

import keras
import tensorflow as tf

from wsl_tf.variables import local_copy


def _unique_rows(gradient: tf.IndexedSlices) -> tuple[tf.Tensor, tf.Tensor]:
    """(summed gradient rows, their distinct indices) of an IndexedSlices."""
    rows, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.size(rows))
    return values, rows


def momentum_update(variable, momentum, gradient, learning_rate, coefficient, nesterov, weight_decay):
    """One lazy-momentum SGD step of `variable` (and its `momentum` slot, or None).

    For an IndexedSlices gradient only the named rows of both are read and
    written. The variables must be plain tf.Variables or Keras variables whose
    value supports scatter ops; inside tf.distribute each resolves to the
    replica's (or, in an update context, the device's) own copy, so no op
    reads a whole matrix for a sparse gradient.
    """
    variable, momentum = local_copy(variable), momentum if momentum is None else local_copy(momentum)
    lr = tf.cast(learning_rate, variable.dtype)
    if isinstance(gradient, tf.IndexedSlices):
        grad, rows = _unique_rows(gradient)
        if weight_decay:
            grad += weight_decay * tf.gather(variable, rows)
        if momentum is not None:
            accum = coefficient * tf.gather(momentum, rows) + grad
            momentum.scatter_update(tf.IndexedSlices(accum, rows))
            grad = grad + coefficient * accum if nesterov else accum
        variable.scatter_sub(tf.IndexedSlices(lr * grad, rows))
        return
    grad = tf.convert_to_tensor(gradient)
    if weight_decay:
        grad += weight_decay * variable
    if momentum is not None:
        accum = coefficient * momentum + grad
        momentum.assign(accum)
        grad = grad + coefficient * accum if nesterov else accum
    variable.assign_sub(lr * grad)


@keras.saving.register_keras_serializable(package="wsl_tf")
class SparseMomentumSGD(keras.optimizers.Optimizer):
    def __init__(
        self, learning_rate=0.1, momentum=0.9, nesterov=False, weight_decay=0.0, name="sparse_momentum_sgd", **kwargs
    ):
        kwargs.pop("weight_decay", None)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self.nesterov = nesterov
        self.coupled_weight_decay = weight_decay

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum:
            self.momentums = [self.add_variable_from_reference(v, "momentum") for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        momentum = self.momentums[self._get_variable_index(variable)] if self.momentum else None
        momentum_update(
            variable, momentum, gradient, learning_rate, self.momentum, self.nesterov, self.coupled_weight_decay
        )

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov, weight_decay=self.coupled_weight_decay)
        return config
