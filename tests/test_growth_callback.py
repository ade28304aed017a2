import csv
import gc
import json
import weakref
from pathlib import Path

import keras
import numpy as np
import pytest
from data_helpers import ScriptedValLoss

import keras_gnap


def _tiny_data(n=64, shape=(16, 16, 1), classes=3):
    rng = np.random.default_rng(0)
    x = rng.random((n, *shape)).astype("float32")
    y = rng.integers(0, classes, n)
    return x, y


def _tiny_model(**kwargs):
    model = keras_gnap.build_gnap((16, 16, 1), 3, **kwargs)
    model.compile(
        "adam", "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    return model


def test_grows_on_saturation_and_stops_when_growth_stops_helping():
    model = _tiny_model()
    x, y = _tiny_data()
    # Epochs 1-2 improve, 3 saturates (grow at 0.9); 4 improves on that,
    # 5 saturates (grow at 0.8); 6 starts the third phase at 0.82 and 7
    # saturates it without beating 0.8 (stop growing).
    values = [1.0, 0.9, 0.95, 0.8, 0.85, 0.82, 0.9, 0.9, 0.9, 0.9]
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None)
    history = model.fit(
        x,
        y,
        epochs=len(values),
        batch_size=32,
        verbose=0,
        callbacks=[ScriptedValLoss(values), growth],
    )
    assert [e["epoch"] for e in growth.growth_events] == [3, 5]
    assert growth.stopped_growing["epoch"] == 7
    assert "did not improve" in growth.stopped_growing["reason"]
    first = growth.growth_events[0]
    assert (
        first["widths_after"]["block1_conv"]
        > first["widths_before"]["block1_conv"]
    )
    assert first["dense_params_after"] > first["dense_params_before"]
    assert len(history.history["effective_params"]) == len(values)
    # The model the user holds is the grown network.
    assert (
        model.network.get_layer("block1_conv").filters
        == (growth.growth_events[-1]["widths_after"]["block1_conv"])
    )


def test_max_growths_and_max_params_stop_growth():
    x, y = _tiny_data()
    values = [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    growth = keras_gnap.GrowthCallback(patience=1, max_growths=1)
    _tiny_model().fit(
        x, y, epochs=8, verbose=0, callbacks=[ScriptedValLoss(values), growth]
    )
    assert len(growth.growth_events) == 1
    assert "max_growths=1" in growth.stopped_growing["reason"]

    model = _tiny_model()
    cap = keras_gnap.reports.dense_params(model) + 10
    growth = keras_gnap.GrowthCallback(patience=1, max_params=cap)
    model.fit(
        x, y, epochs=3, verbose=0, callbacks=[ScriptedValLoss(values), growth]
    )
    assert growth.growth_events == []
    assert "max_params" in growth.stopped_growing["reason"]


def test_no_growth_in_the_last_quarter_of_the_epochs():
    x, y = _tiny_data()
    # Each phase improves once and then saturates: with patience 1 the
    # network would grow at epochs 2, 4, 6 and 8; 8 of 8 is past 75%.
    values = [1.0, 1.0, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7]
    growth = keras_gnap.GrowthCallback(
        patience=1, max_growths=10, max_params=None
    )
    _tiny_model().fit(
        x, y, epochs=8, verbose=0, callbacks=[ScriptedValLoss(values), growth]
    )
    assert [e["epoch"] for e in growth.growth_events] == [2, 4, 6]
    assert growth.stopped_growing["epoch"] == 8
    assert "past 75% of the 8 epochs" in growth.stopped_growing["reason"]


@pytest.mark.parametrize("epochs,patience", [(4, 1), (40, 2), (200, 10)])
def test_auto_patience_is_five_percent_of_the_epochs(epochs, patience):
    growth = keras_gnap.GrowthCallback()
    growth.set_model(_tiny_model())
    growth.set_params({"epochs": epochs, "verbose": 0, "steps": 1})
    growth.on_train_begin()
    assert growth.patience_ == patience
    cap = 6 * keras_gnap.reports.dense_params(growth.model)
    assert growth.max_params_ == cap


def test_says_why_a_run_never_grew(capsys):
    x, y = _tiny_data()
    # The loss improves every epoch: patience is never exhausted.
    values = [1.0, 0.9, 0.8, 0.7]
    growth = keras_gnap.GrowthCallback()
    _tiny_model().fit(
        x, y, epochs=4, verbose=0, callbacks=[ScriptedValLoss(values), growth]
    )
    assert growth.growth_events == []
    assert (
        "GNAP did not grow: val_loss never went 1 epoch without improving"
        in capsys.readouterr().out
    )


def test_one_instance_serves_several_fits():
    x, y = _tiny_data()
    model = _tiny_model()
    growth = keras_gnap.GrowthCallback(patience=1)
    model.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        callbacks=[ScriptedValLoss([1, 1, 1]), growth],
    )
    assert len(growth.growth_events) == 1
    model.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        callbacks=[ScriptedValLoss([2, 2, 2]), growth],
    )
    assert len(growth.growth_events) == 1
    assert growth.growth_events[0]["epoch"] == 2


def test_missing_metric_warns():
    x, y = _tiny_data()
    growth = keras_gnap.GrowthCallback(monitor="val_nothing")
    with pytest.warns(UserWarning, match="val_nothing"):
        _tiny_model().fit(x, y, epochs=1, verbose=0, callbacks=[growth])


def test_needs_gnap_model():
    network = keras_gnap.build_gnap((16, 16, 1), 3).network
    network.compile("adam", "sparse_categorical_crossentropy")
    x, y = _tiny_data()
    with pytest.raises(TypeError, match="GNAPModel"):
        network.fit(
            x, y, epochs=1, verbose=0, callbacks=[keras_gnap.GrowthCallback()]
        )


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"mode": "up"}, "mode"),
        ({"patience": -1}, "patience"),
        ({"max_growths": 1.5}, "max_growths"),
        ({"growth_factor": 0}, "growth_factor"),
        ({"max_params": 0}, "max_params"),
        ({"max_params": "many"}, "max_params"),
        ({"patience": "long"}, "patience"),
        ({"min_delta": "small"}, "min_delta"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"Received: {argument}="):
        keras_gnap.GrowthCallback(**kwargs)


def test_mode_auto_reads_accuracy_as_max():
    growth = keras_gnap.GrowthCallback(monitor="val_accuracy")
    assert growth.monitor_op is np.greater
    assert keras_gnap.GrowthCallback().monitor_op is np.less


@pytest.mark.backends
def test_other_callbacks_and_schedules_keep_working(tmp_path):
    x, y = _tiny_data()
    schedule = keras.optimizers.schedules.CosineDecay(0.01, 40)
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile(
        keras.optimizers.Adam(schedule),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    growth = keras_gnap.GrowthCallback(patience=1)
    tensorboard = _tensorboard(tmp_path / "logs")
    log = tmp_path / "log.csv"
    checkpoint = tmp_path / "model.keras"
    history = model.fit(
        x,
        y,
        validation_data=(x, y),
        epochs=5,
        batch_size=16,
        verbose=0,
        callbacks=[
            ScriptedValLoss([1, 1, 1, 1, 1]),
            growth,
            keras.callbacks.CSVLogger(str(log)),
            keras.callbacks.ModelCheckpoint(str(checkpoint)),
            keras.callbacks.EarlyStopping(patience=10),
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
            *tensorboard,
        ],
    )
    assert len(growth.growth_events) >= 1
    # Each growth starts a fresh optimizer: it counts the steps since.
    last = growth.growth_events[-1]["epoch"]
    assert int(model.optimizer.iterations.numpy()) == (5 - last) * 4
    with log.open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 5 and "effective_params" in rows[0]
    assert len(history.history["loss"]) == 5
    restored = keras.saving.load_model(checkpoint)
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )
    # A finished run leaves no backup to resume from.
    assert not (tmp_path / "backup").exists()
    if tensorboard:
        assert any((tmp_path / "logs").rglob("events.out.tfevents*"))


def _tensorboard(log_dir):
    """A TensorBoard callback, where its writer can be had (it writes
    through TensorFlow's summaries, on every backend), else none."""
    try:
        import tensorboard  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        return []
    return [keras.callbacks.TensorBoard(str(log_dir))]


@pytest.mark.backends
def test_early_stopping_restores_best_weights_from_before_growth():
    x, y = _tiny_data()
    model = _tiny_model()
    growth = keras_gnap.GrowthCallback(patience=1)
    keep_best = keras.callbacks.EarlyStopping(
        patience=10, restore_best_weights=True
    )
    # The best epoch is the first, before the growth at epoch 2.
    model.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        callbacks=[ScriptedValLoss([0.5, 1, 1, 1]), growth, keep_best],
    )
    assert len(growth.growth_events) == 1
    narrow = keras_gnap.build_gnap((16, 16, 1), 3)
    narrow.set_weights(keep_best.best_weights)
    np.testing.assert_allclose(
        model.predict(x, verbose=0), narrow.predict(x, verbose=0), atol=1e-5
    )
    with pytest.raises(ValueError, match="Received: 1 arrays"):
        model.set_weights(keep_best.best_weights[:1])


class _WeightsAtEpoch(keras.callbacks.Callback):
    """Keeps the model's weights as they are at the end of one epoch."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch
        self.weights = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.weights = self.model.get_weights()


@pytest.mark.backends
def test_training_after_a_growth_in_fit_equals_a_fresh_fit_of_the_grown():
    # Plain SGD keeps no state but the step count, so after the growth the
    # epoch that follows must move the weights exactly as a new `fit` of
    # the grown network does. A backend that kept stale variables, stale
    # gradients (PyTorch's parameter registry) or a stale compiled step
    # would differ.
    x, y = _tiny_data(n=64)
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    growth = keras_gnap.GrowthCallback(patience=1)
    at_growth = _WeightsAtEpoch(epoch=1)
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=16,
        shuffle=False,
        verbose=0,
        callbacks=[ScriptedValLoss([1.0, 1.0, 1.0]), growth, at_growth],
    )
    assert [e["epoch"] for e in growth.growth_events] == [2]
    grown = keras.models.clone_model(model.network)
    grown.set_weights(at_growth.weights)
    fresh = keras_gnap.GNAPModel(grown)
    fresh.compile(keras.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    fresh.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    for after_growth, fresh_fit in zip(
        model.get_weights(), fresh.get_weights(), strict=True
    ):
        np.testing.assert_allclose(after_growth, fresh_fit, atol=1e-5)
    # The growth did change the weights the steps after it trained.
    assert any(
        a.shape != b.shape
        for a, b in zip(
            at_growth.weights,
            keras_gnap.build_gnap((16, 16, 1), 3).get_weights(),
            strict=True,
        )
    )


def test_state_carries_the_policy_over_to_the_next_fit():
    x, y = _tiny_data()
    values = [1.0, 1.0, 0.5, 0.6]
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None)
    model = _tiny_model()
    model.fit(
        x, y, epochs=3, verbose=0, callbacks=[ScriptedValLoss(values), growth]
    )
    state = json.loads(json.dumps(growth.get_state()))  # JSON data
    assert state["growth_events"] == growth.growth_events
    resumed = keras_gnap.GrowthCallback(patience=1, max_params=None)
    resumed.set_state(state)
    # Epoch 4 (0.6) does not improve on 0.5: with the state, that is a
    # wait of 1, the patience, so it stops growing (it is past 75%).
    model.fit(
        x,
        y,
        epochs=4,
        initial_epoch=3,
        verbose=0,
        callbacks=[ScriptedValLoss(values), resumed],
    )
    assert resumed.growth_events == growth.growth_events
    assert resumed.best == 0.5
    assert resumed.stopped_growing["epoch"] == 4
    # Without it, a fresh policy has seen nothing.
    fresh = keras_gnap.GrowthCallback(patience=1, max_params=None)
    model.fit(
        x,
        y,
        epochs=4,
        initial_epoch=3,
        verbose=0,
        callbacks=[ScriptedValLoss(values), fresh],
    )
    assert fresh.growth_events == [] and fresh.stopped_growing is None


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after_epoch:
            raise KeyboardInterrupt


class _Widths(keras.callbacks.Callback):
    """Records the width of a layer and the optimizer's step at each
    epoch's start."""

    def on_train_begin(self, logs=None):
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        width = self.model.network.get_layer("block1_conv").filters
        steps = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        self.seen.append((epoch + 1, width, steps))


@pytest.mark.backends
def test_backup_and_restore_goes_on_with_the_grown_network(tmp_path):
    x, y = _tiny_data()
    values = [1.0, 1.0, 0.5, 0.4, 0.3]
    backup = str(tmp_path / "backup")
    model = _tiny_model()
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None)
    with pytest.raises(KeyboardInterrupt):
        model.fit(
            x,
            y,
            epochs=5,
            batch_size=32,
            verbose=0,
            callbacks=[
                ScriptedValLoss(values),
                growth,
                keras.callbacks.BackupAndRestore(backup),
                _Interrupt(after_epoch=3),
            ],
        )
    assert [e["epoch"] for e in growth.growth_events] == [2]
    grown = model.network.get_layer("block1_conv").filters
    expected = model.predict(x, verbose=0)

    # A new process would build the model as it started: narrow.
    restored = _tiny_model()
    assert restored.network.get_layer("block1_conv").filters < grown
    restored.load_weights(Path(backup) / "latest.weights.h5")
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), expected, atol=1e-6
    )
    widths = _Widths()
    fresh = _tiny_model()
    fresh.fit(
        x,
        y,
        epochs=5,
        batch_size=32,
        verbose=0,
        callbacks=[
            ScriptedValLoss(values),
            keras_gnap.GrowthCallback(patience=1, max_params=None),
            keras.callbacks.BackupAndRestore(backup),
            widths,
        ],
    )
    # It goes on at epoch 4, grown, with the optimizer's 2 steps since the
    # growth (64 images in batches of 32, one epoch).
    assert widths.seen[0] == (4, grown, 2)
    assert [epoch for epoch, _, _ in widths.seen] == [4, 5]


def test_replaced_networks_and_optimizers_are_freed():
    # Growth after growth, the old networks and optimizers are not kept
    # (by retraced step functions, callbacks, the History): memory stays
    # bounded. benchmarks/growth_memory.py prints the RSS.
    x, y = _tiny_data()
    seen = []

    class Track(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(weakref.ref(self.model.network))
            seen.append(weakref.ref(self.model.optimizer))

    values = [1.0 - 0.01 * (epoch // 2) for epoch in range(12)]
    growth = keras_gnap.GrowthCallback(
        patience=1, max_params=None, max_growths=4, growth_factor=0.25
    )
    model = _tiny_model()
    model.fit(
        x,
        y,
        epochs=12,
        verbose=0,
        callbacks=[ScriptedValLoss(values), growth, Track()],
    )
    assert len(growth.growth_events) == 4
    gc.collect()
    alive = {id(ref()) for ref in seen if ref() is not None}
    assert {id(model.network), id(model.optimizer)} <= alive
    # At most the last ones replaced linger (a closure of Keras's), never
    # one per growth.
    assert len(alive) <= 4, len(alive)
