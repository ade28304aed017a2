"""Growth under Keras's mixed-precision policies, on every backend."""

import keras
import numpy as np
import pytest
from data_helpers import ScriptedValLoss

import keras_gnap
from keras_gnap import training
from keras_gnap.layers.gated_layer import GatedLayer

pytestmark = pytest.mark.backends


class LossScaleRecorder(keras.callbacks.Callback):
    """Records the optimizer and its loss scale at each epoch's end."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        self.seen.append(
            (
                optimizer,
                float(keras.ops.convert_to_numpy(optimizer.dynamic_scale)),
                int(keras.ops.convert_to_numpy(optimizer.step_counter)),
            )
        )


def _fit_with_growth(mixed_precision, optimizer="adam"):
    rng = np.random.default_rng(0)
    x = rng.random((64, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    with training.precision_policy(mixed_precision):
        model = keras_gnap.build_gnap(
            (12, 12, 1), 3, stages=((4,), (6,)), gating="weight_and_unit"
        )
        model.compile(optimizer, "sparse_categorical_crossentropy")
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None)
    before, after = LossScaleRecorder(), LossScaleRecorder()
    callbacks = [ScriptedValLoss([1.0, 0.9, 0.95, 0.8]), growth]
    if mixed_precision == "float16":
        callbacks = [before, *callbacks, after]
    history = model.fit(
        x, y, epochs=4, batch_size=16, verbose=0, callbacks=callbacks
    )
    return model, growth, history, before, after


@pytest.mark.parametrize("mixed_precision", ["bfloat16", "float16"])
def test_growth_under_mixed_precision_keeps_float32_gates_and_exact_zeros(
    mixed_precision,
):
    model, growth, history, _, _ = _fit_with_growth(mixed_precision)
    assert [e["epoch"] for e in growth.growth_events] == [3]
    assert np.all(np.isfinite(history.history["loss"]))
    # The policy is back to what it was; the grown layers keep theirs.
    assert keras.config.dtype_policy().name == "float32"
    layers = [
        layer for layer in model.network.layers if isinstance(layer, GatedLayer)
    ]
    assert layers[0].filters == 8  # grown from 4
    for layer in layers:
        assert layer.dtype_policy.name == f"mixed_{mixed_precision}"
        for gate in layer.gates:
            assert gate.dtype == "float32"
    conv = model.network.get_layer("block2_conv")
    scores = conv.gate.numpy()
    scores[..., 0] = -1.0
    conv.gate.assign(scores)
    units = conv.unit_gate.numpy()
    units[1] = -1.0
    conv.unit_gate.assign(units)
    kernel = keras.ops.convert_to_numpy(conv.gated_kernel())
    assert str(kernel.dtype) == mixed_precision
    assert np.all(kernel[..., 0] == 0)
    assert np.all(kernel[:, :, 1, :] == 0)


def test_float16_loss_scale_survives_a_growth():
    # A scale that doubles at every finite step, so that the scale at the
    # growth is far from where a new optimizer would start.
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.Adam(), dynamic_growth_steps=1
    )
    _, growth, history, before, after = _fit_with_growth("float16", optimizer)
    assert [e["epoch"] for e in growth.growth_events] == [3]
    grown_at = 2  # epoch index of the growth
    old, scale, steps = before.seen[grown_at]
    new, new_scale, new_steps = after.seen[grown_at]
    assert new is not old  # growth rebuilt the optimizer ...
    assert isinstance(new, keras.optimizers.LossScaleOptimizer)
    assert new.dynamic_growth_steps == 1
    assert scale != optimizer.initial_scale
    # ... and the scale and its step counter carried over.
    assert (new_scale, new_steps) == (scale, steps)
    assert np.all(np.isfinite(history.history["loss"]))
    # Training went on with the new optimizer, from that scale.
    last, last_scale, _ = after.seen[-1]
    assert last is new
    assert last_scale != optimizer.initial_scale


def test_unknown_mixed_precision_is_a_clear_error():
    with pytest.raises(ValueError, match="mixed_precision='float8'"):
        with training.precision_policy("float8"):
            pass
