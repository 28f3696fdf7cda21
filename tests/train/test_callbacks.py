"""The paper's learning-rate schedule, driven by scripted validation errors."""

import keras
import pytest
import tensorflow as tf

from wsl_tf.train.callbacks import HalveLROnValidationIncrease


def drive(errors, lr=0.1, min_epochs=3, min_lr=1e-6):
    rate = tf.Variable(lr, dtype=tf.float64)
    callback = HalveLROnValidationIncrease(rate, min_epochs_per_lr=min_epochs, min_lr=min_lr, log=lambda *_: None)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False  # As the training loop (like fit) sets it.
    callback.set_model(model)
    rates = []
    for epoch, error in enumerate(errors):
        callback.on_epoch_end(epoch, {"val_error": error})
        rates.append(float(rate.numpy()))
        if model.stop_training:
            break
    return rates, callback, model


def test_halves_only_when_the_error_rose_after_enough_epochs_at_this_rate():
    # Epoch:  0     1     2: rose, 3rd epoch   3: rose, 1st  4     5: rose, 3rd  6: rose, 1st
    rates, _, _ = drive([0.9, 0.8, 0.85, 0.86, 0.7, 0.75, 0.8])
    assert rates == [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]


def test_a_falling_error_never_changes_the_rate():
    rates, _, _ = drive([1.0 - i / 100 for i in range(30)])
    assert set(rates) == {0.1}


def test_stops_once_the_rate_falls_below_min_lr():
    errors = [0.5, 0.6] * 30  # Rises every other epoch.
    rates, callback, model = drive(errors, lr=0.1, min_epochs=1, min_lr=0.01)
    assert rates[-1] < 0.01 and model.stop_training and callback.stopped
    assert rates[:4] == [0.1, 0.05, 0.05, 0.025]
    assert len(rates) == 8  # 0.1 -> 0.05 -> 0.025 -> 0.0125 -> 0.00625 on the 4th rise.


def test_paper_default_uses_each_rate_at_least_10_epochs():
    rate = tf.Variable(0.1, dtype=tf.float64)
    callback = HalveLROnValidationIncrease(rate, log=lambda *_: None)
    assert (callback.min_epochs_per_lr, callback.min_lr) == (10, 1e-6)
    for epoch in range(9):
        callback.on_epoch_end(epoch, {"val_error": 0.5 + epoch})  # Rising, but too early.
    assert float(rate.numpy()) == 0.1
    callback.on_epoch_end(9, {"val_error": 100.0})
    assert float(rate.numpy()) == 0.05


def test_state_round_trips_through_a_checkpoint(tmp_path):
    rates, callback, _ = drive([0.9, 0.8, 0.85, 0.86])
    path = tf.train.Checkpoint(**callback.state()).write(str(tmp_path / "schedule"))
    fresh = HalveLROnValidationIncrease(tf.Variable(0.1, dtype=tf.float64), min_epochs_per_lr=3, log=lambda *_: None)
    tf.train.Checkpoint(**fresh.state()).read(path).assert_consumed()
    assert float(fresh.learning_rate.numpy()) == 0.05
    assert float(fresh.previous_error.numpy()) == pytest.approx(0.86) and int(fresh.epochs_at_lr.numpy()) == 1


def test_missing_metric_is_named():
    callback = HalveLROnValidationIncrease(tf.Variable(0.1), log=lambda *_: None)
    with pytest.raises(ValueError, match="logs\\['val_error'\\]"):
        callback.on_epoch_end(0, {"loss": 1.0})


def test_it_rebuilds_from_its_config_and_numbers_epochs_from_one_as_the_trainer_does():
    said = []
    rate = tf.Variable(0.1, dtype=tf.float64)
    callback = HalveLROnValidationIncrease(rate, min_epochs_per_lr=1, min_lr=0.04, log=said.append)
    for epoch, error in enumerate([0.5, 0.6, 0.7]):
        callback.on_epoch_end(epoch, {"val_error": error})
    assert said == [
        "epoch 2: val_error rose to 0.6000; learning rate halved to 0.05",
        "epoch 3: val_error rose to 0.7000; learning rate halved to 0.025",
        "epoch 3: learning rate 0.025 < 0.04; stopping",
    ]
    config = keras.saving.serialize_keras_object(callback)
    rebuilt = keras.saving.deserialize_keras_object(config)
    assert isinstance(rebuilt, HalveLROnValidationIncrease) and rebuilt.learning_rate is not rate
    assert (float(rebuilt.learning_rate.numpy()), rebuilt.min_epochs_per_lr, rebuilt.min_lr) == (0.025, 1, 0.04)
    assert rebuilt.get_config() == callback.get_config()
