import keras
import numpy as np
import pytest

import keras_gnap
from keras_gnap.reports import dense_params
from keras_gnap.reports import layer_counts
from keras_gnap.reports import live_units

# Core behaviour: CI runs this module on every Keras backend.
pytestmark = pytest.mark.backends


def _model():
    return keras_gnap.build_gnap(
        (12, 12, 1), 3, stages=((2,), (3,)), classifier_activation=None
    )


def test_dense_model_counts_everything_but_gates_and_folded_bn():
    model = _model()
    # conv1 3x3x1x2 + 2 folded biases, conv2 3x3x2x3 + 3, dense 3x3 + 3.
    assert keras_gnap.count_params(model) == 18 + 2 + 54 + 3 + 9 + 3
    # Plain Keras count of the same network without gates: kernels, the
    # dense bias, and 4 statistics per batch-norm channel.
    assert dense_params(model) == 18 + 54 + 9 + 3 + 4 * (2 + 3)
    gates = sum(
        int(np.prod(w.shape)) for w in model.weights if "gate" in w.path
    )
    assert dense_params(model) == model.count_params() - gates


def test_pruned_weights_and_dead_units_are_not_counted():
    model = _model()
    network = model.network
    conv1 = network.get_layer("block1_conv")
    conv2 = network.get_layer("block2_conv")
    gate1 = np.ones(conv1.gate.shape, "float32")
    gate1[0, 0, 0, 0] = -1.0  # one weight of unit 0
    conv1.gate.assign(gate1)
    gate2 = np.ones(conv2.gate.shape, "float32")
    gate2[:, :, 1, :] = -1.0  # unit 1 of conv1 has no outgoing weight left
    gate2[..., 2] = -1.0  # unit 2 of conv2 has no incoming weight left
    conv2.gate.assign(gate2)
    live = live_units(network)
    assert live["block1_conv"].tolist() == [True, False]
    assert live["block2_conv"].tolist() == [True, True, False]
    counts = {c.name: c for c in layer_counts(model)}
    assert counts["block1_conv"].effective_params == 8 + 1
    assert counts["block1_conv"].active_weights == 17
    # conv2: only input 0 to units 0 and 1 survive.
    assert counts["block2_conv"].effective_params == 9 * 2 + 2
    # dense: inputs from the dead unit 2 no longer count.
    assert counts["head_dense"].effective_params == 2 * 3 + 3
    assert keras_gnap.count_params(model) == 9 + 20 + 9


def test_summary_prints_every_gated_layer_and_totals():
    model = _model()
    lines = []
    keras_gnap.summary(model, print_fn=lines.append)
    text = "\n".join(lines)
    for name in ("block1_conv", "block2_conv", "head_dense"):
        assert name in text
    assert f"{keras_gnap.count_params(model):,}" in lines[-2]
    assert "3x3x1x2" in text


def test_count_on_plain_functional_network():
    inputs = keras.Input((4,))
    x = keras_gnap.GatedDense(3, name="hidden")(inputs)
    x = keras.layers.Dense(2, name="plain")(x)
    network = keras.Model(inputs, x)
    # Hidden units feed a plain Dense (channels mixed): all stay live.
    assert keras_gnap.count_params(network) == 12 + 3 + 8


def test_constant_unit_before_padded_conv_stays_live():
    model = _model()
    network = model.network
    conv1 = network.get_layer("block1_conv")
    gate1 = np.ones(conv1.gate.shape, "float32")
    gate1[..., 1] = -1.0  # unit 1: no incoming weight, a constant output
    conv1.gate.assign(gate1)
    # relu(batch_norm(0)) = relu(beta) = 0 with the default beta: dead.
    assert live_units(network)["block1_conv"].tolist() == [True, False]
    bn = network.get_layer("block1_bn")
    bn.beta.assign(np.array([0.0, 0.5], "float32"))
    # A constant of 0.5 would be lost at the borders of block2_conv ("same"
    # padding), so the unit is live and its outgoing weights count.
    assert live_units(network)["block1_conv"].tolist() == [True, True]
    counts = {c.name: c for c in layer_counts(model)}
    assert counts["block1_conv"].effective_params == 9 + 2
    assert counts["block2_conv"].effective_params == 54 + 3


def test_summary_fits_80_columns_and_never_cuts_a_figure():
    model = keras_gnap.build_gnap((32, 32, 3), 10, stages=((512, 512), (1024,)))
    lines = []
    keras_gnap.summary(model, print_fn=lines.append)
    assert all(len(line) <= 80 for line in lines), lines
    text = "\n".join(lines)
    for figure in ("2,359,296", "4,718,592", "1024/1024", "3x3x512x1024"):
        assert figure in text
