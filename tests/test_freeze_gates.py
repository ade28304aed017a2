import keras
import numpy as np
import pytest
from data_helpers import ScriptedValLoss

import keras_gnap
from keras_gnap.layers.gated_layer import GatedLayer


def _tiny_data(n=64, shape=(16, 16, 1), classes=3):
    rng = np.random.default_rng(0)
    x = rng.random((n, *shape)).astype("float32")
    y = rng.integers(0, classes, n)
    return x, y


def _tiny_model():
    model = keras_gnap.build_gnap((16, 16, 1), 3, sparsity=50.0)
    # A large learning rate and strong pressure: the gates move every step.
    model.compile(
        keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy"
    )
    return model


def _gated(model):
    return [
        layer for layer in model.network.layers if isinstance(layer, GatedLayer)
    ]


class _Snapshots(keras.callbacks.Callback):
    """Records every gate and kernel at the end of each epoch."""

    def __init__(self):
        super().__init__()
        self.gates, self.kernels = [], []

    def on_epoch_end(self, epoch, logs=None):
        layers = _gated(self.model)
        self.gates.append([layer.gate.numpy().copy() for layer in layers])
        self.kernels.append([layer.kernel.numpy().copy() for layer in layers])


def _changed(before, after):
    return any(
        a.shape != b.shape or not np.array_equal(a, b)
        for a, b in zip(before, after, strict=False)
    )


def test_gates_stop_moving_from_the_freeze_epoch_and_kernels_still_train():
    model = _tiny_model()
    x, y = _tiny_data()
    freeze = keras_gnap.FreezeGates(at=0.5)
    snapshots = _Snapshots()
    model.fit(
        x, y, epochs=4, batch_size=32, verbose=0, callbacks=[freeze, snapshots]
    )
    assert freeze.frozen_at_epoch == 3
    gates, kernels = snapshots.gates, snapshots.kernels
    assert _changed(gates[0], gates[1])  # Epoch 2 still prunes.
    assert not _changed(gates[1], gates[2])
    assert not _changed(gates[2], gates[3])
    assert _changed(kernels[2], kernels[3])  # The weights fine-tune.
    # The schedule carried on: one optimizer step per batch, 2 per epoch.
    assert int(model.optimizer.iterations.numpy()) == 8
    # After fit, the gates train again, and the optimizer covers them.
    assert all(layer.gate.trainable for layer in _gated(model))
    gate_paths = {layer.gate.path for layer in _gated(model)}
    optimizer_vars = " ".join(v.path for v in model.optimizer.variables)
    assert all(path.replace("/", "_") in optimizer_vars for path in gate_paths)


@pytest.mark.backends
def test_gates_of_a_growth_after_the_freeze_are_frozen_next_epoch():
    model = _tiny_model()
    x, y = _tiny_data()
    freeze = keras_gnap.FreezeGates(at=0.25)
    growth = keras_gnap.GrowthCallback(patience=0, max_growths=1)
    snapshots = _Snapshots()
    model.fit(
        x,
        y,
        epochs=4,
        batch_size=32,
        verbose=0,
        callbacks=[freeze, ScriptedValLoss([1.0] * 4), growth, snapshots],
    )
    # Frozen from epoch 2; epoch 2 does not improve on epoch 1: it grows.
    assert freeze.frozen_at_epoch == 2
    assert [event["epoch"] for event in growth.growth_events] == [2]
    gates = snapshots.gates
    assert _changed(gates[0], gates[1])  # The growth changed the shapes.
    assert not _changed(gates[1], gates[2])
    assert not _changed(gates[2], gates[3])


@pytest.mark.parametrize("at", [0, 1, 1.5, -0.2, True, "0.8", None])
def test_bad_fraction_names_the_argument_and_value(at):
    with pytest.raises(ValueError, match=rf"`at`.*Received: at={at!r}"):
        keras_gnap.FreezeGates(at=at)
