"""Keras callbacks for the custom training loop.

HalveLROnValidationIncrease is the paper's schedule: after every epoch (a
sweep through `epoch_size` images, a million in the paper) the validation
error is measured; when it rose since the previous epoch, and the current
learning rate has been used for at least `min_epochs_per_lr` epochs, the
rate is halved. Training stops once it falls below `min_lr`.
"""

import math

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="wsl_tf")
class HalveLROnValidationIncrease(keras.callbacks.Callback):
    """Reads logs[monitor] at each epoch end; halves `learning_rate` (a tf.Variable).

    Keras passes on_epoch_end the 0-based epoch index, as under fit; its log lines number epochs from 1, as
    the trainer's do.
    """

    def __init__(self, learning_rate: tf.Variable, monitor="val_error", min_epochs_per_lr=10, min_lr=1e-6, log=print):
        super().__init__()
        self.learning_rate = learning_rate
        self.monitor = monitor
        self.min_epochs_per_lr = min_epochs_per_lr
        self.min_lr = min_lr
        self.log = log
        self.previous_error = tf.Variable(math.inf, dtype=tf.float64, trainable=False, name="previous_error")
        self.epochs_at_lr = tf.Variable(0, dtype=tf.int64, trainable=False, name="epochs_at_lr")
        self.stopped = False

    def state(self) -> dict:
        """The variables a checkpoint must hold to resume the schedule."""
        return {
            "previous_error": self.previous_error,
            "epochs_at_lr": self.epochs_at_lr,
            "learning_rate": self.learning_rate,
        }

    def on_epoch_end(self, epoch, logs=None):
        if not logs or self.monitor not in logs:
            raise ValueError(f"HalveLROnValidationIncrease needs logs[{self.monitor!r}] at epoch end")
        error = float(logs[self.monitor])
        self.epochs_at_lr.assign_add(1)
        if error > float(self.previous_error) and int(self.epochs_at_lr) >= self.min_epochs_per_lr:
            new_lr = float(self.learning_rate) / 2
            self.learning_rate.assign(new_lr)
            self.epochs_at_lr.assign(0)
            self.log(f"epoch {epoch + 1}: {self.monitor} rose to {error:.4f}; learning rate halved to {new_lr:g}")
        self.previous_error.assign(error)
        if float(self.learning_rate) < self.min_lr:
            self.stopped = True
            if self.model is not None:
                self.model.stop_training = True
            self.log(f"epoch {epoch + 1}: learning rate {float(self.learning_rate):g} < {self.min_lr:g}; stopping")

    def get_config(self):
        """Its settings and the current learning rate; from_config gives that rate a variable of its own."""
        return {
            "learning_rate": float(self.learning_rate),
            "monitor": self.monitor,
            "min_epochs_per_lr": self.min_epochs_per_lr,
            "min_lr": self.min_lr,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["learning_rate"] = tf.Variable(
            config["learning_rate"], dtype=tf.float64, trainable=False, name="learning_rate"
        )
        return cls(**config)
