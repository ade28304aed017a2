"""Unit gates (`gating="weight_and_unit"`): pruning that removes units.

Core behaviour: CI runs this module on every Keras backend.
"""

import keras
import numpy as np
import pytest
from backend_helpers import gradient
from backend_helpers import to_numpy
from test_growth import _randomise_batch_norm

import keras_gnap
from keras_gnap import GatedConv2D
from keras_gnap import GatedDense
from keras_gnap.callbacks.freeze_gates import set_gates_trainable
from keras_gnap.growth.gate_reopening import reopen_gates
from keras_gnap.growth.growth_rule import plan_growth
from keras_gnap.layers.gated_layer import MULTIPLY_ADDS_PER_PARAM
from keras_gnap.reports import count_multiply_adds
from keras_gnap.reports import live_units

pytestmark = pytest.mark.backends

IMAGE_SHAPE = (12, 12, 1)
CLASSES = 3


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _images(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *IMAGE_SHAPE), dtype=np.float32)


def _model():
    """A default GNAP model with trained-looking batch norms, logits out."""
    model = keras_gnap.build_gnap(
        IMAGE_SHAPE,
        CLASSES,
        stages=((4, 5), (6,)),
        classifier_activation=None,
        gating="weight_and_unit",
    )
    _randomise_batch_norm(model.network, seed=1)
    return model


def _close_inputs(layer, channels):
    scores = layer.unit_gate.numpy().copy()
    scores[channels] = -1.0
    layer.unit_gate.assign(scores)


def _widths(model):
    return {
        layer.name: int(layer.kernel.shape[-1])
        for layer in model.layers
        if hasattr(layer, "kernel")
    }


# === The layer ===


@pytest.mark.parametrize(
    "cls,kwargs,shape",
    [
        (GatedConv2D, {"filters": 4, "kernel_size": 3}, (2, 6, 6, 3)),
        (GatedDense, {"units": 4}, (2, 3)),
    ],
)
def test_one_unit_gate_per_input_channel(cls, kwargs, shape):
    layer = cls(gating="weight_and_unit", **kwargs)
    layer(np.zeros(shape, "float32"))
    assert tuple(layer.gate.shape) == tuple(layer.kernel.shape)
    assert tuple(layer.unit_gate.shape) == (3,)
    assert layer.gates == [layer.gate, layer.unit_gate]
    plain = cls(**kwargs)
    plain(np.zeros(shape, "float32"))
    assert plain.unit_gate is None and plain.gates == [plain.gate]


def test_closed_unit_gate_zeroes_its_input_channel_exactly():
    layer = GatedConv2D(3, 3, padding="same", gating="weight_and_unit")
    x = np.random.rand(2, 6, 6, 4).astype("float32")
    layer(x)
    _close_inputs(layer, [1, 3])
    kernel = layer.effective_kernel()
    assert np.all(kernel[:, :, [1, 3], :] == 0.0)
    assert np.all(kernel[:, :, [0, 2], :] != 0.0)
    # The output ignores the closed channels, bit for bit.
    changed = x.copy()
    changed[..., [1, 3]] = 100.0
    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(layer(changed)))
    assert layer.open_fraction() == pytest.approx(0.5)


def test_the_highest_unit_gate_stays_open():
    # A layer without inputs would cut the network for good.
    layer = GatedDense(2, gating="weight_and_unit")
    x = np.random.rand(5, 3).astype("float32")
    layer(x)
    layer.unit_gate.assign(np.array([-3.0, -0.5, -2.0], "float32"))
    mask = layer.kernel_mask()
    assert mask[1].all() and not mask[[0, 2]].any()
    expected = x[:, 1:2] @ layer.kernel.numpy()[1:2] + layer.bias.numpy()
    np.testing.assert_allclose(to_numpy(layer(x)), expected, rtol=1e-5)


def test_closed_unit_gates_still_get_gradient():
    layer = GatedDense(2, use_bias=False, gating="weight_and_unit")
    x = np.random.rand(4, 3).astype("float32")
    layer(x)
    layer.unit_gate.assign(np.array([-1.0, -1.0, 1.0], "float32"))
    grad = gradient(lambda: keras.ops.sum(layer(x) ** 2), layer.unit_gate)
    assert np.all(np.asarray(grad)[:2] != 0.0)


def test_unit_gate_costs_its_weights_and_multiply_adds():
    layer = GatedConv2D(2, 3, gating="weight_and_unit", sparsity=1.0)
    x = np.zeros((1, 6, 6, 4), "float32")
    layer(x, training=False)
    gate = np.ones(layer.gate.shape, "float32")
    gate[:, :, 0, 0] = -1.0  # channel 0 keeps 9 of its 18 weights
    layer.gate.assign(gate)
    layer.unit_gate.assign(np.array([1.0, 2.0, -1.0, 0.5], "float32"))
    layer(x, training=True)
    positions = 4 * 4  # "valid" 3x3 over 6x6
    weights = np.array([9, 18, 18, 18])
    price = weights * (1 + positions / MULTIPLY_ADDS_PER_PARAM)
    units = np.sum(_sigmoid(layer.unit_gate.numpy()) * price)
    kernel = np.sum(_sigmoid(gate))
    expected = 1.0 * (kernel + units) / 1e4
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)
    layer(x, training=False)
    assert len(layer.losses) == 0


def test_unit_gates_survive_config_and_saving(tmp_path):
    model = _model()
    conv = model.network.get_layer("block2_conv")
    _close_inputs(conv, [0, 2])
    assert conv.get_config()["gating"] == "weight_and_unit"
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        loaded.network.get_layer("block2_conv").unit_gate.numpy(),
        conv.unit_gate.numpy(),
    )
    images = _images(4)
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0),
        model.predict(images, verbose=0),
        atol=1e-6,
    )


# === The network ===


def test_build_gnap_gates_units_wherever_they_can_go():
    network = keras_gnap.build_gnap(
        IMAGE_SHAPE, CLASSES, gating="weight_and_unit"
    ).network
    gated = [layer for layer in network.layers if hasattr(layer, "unit_gate")]
    # The image's channels are not units: the first convolution gates
    # weights only; every later layer gates the units it reads.
    assert gated[0].name == "block1_conv" and gated[0].unit_gate is None
    assert all(layer.unit_gate is not None for layer in gated[1:])
    assert gated[-1].name == "head_dense"
    # The default gates weights only.
    weight_only = keras_gnap.build_gnap(IMAGE_SHAPE, CLASSES).network
    assert all(
        getattr(layer, "unit_gate", None) is None
        for layer in weight_only.layers
    )


def test_compact_cuts_the_units_unit_gates_close_exactly():
    model = _model()
    network = model.network
    _close_inputs(network.get_layer("block2_conv"), [1, 3])
    _close_inputs(network.get_layer("block3_conv"), [0, 2, 4])
    _close_inputs(network.get_layer("head_dense"), [5])
    small = keras_gnap.compact(model)
    assert _widths(small) == {
        "block1_conv": 2,
        "block2_conv": 2,
        "block3_conv": 5,
        "head_dense": CLASSES,
    }
    live = live_units(network)
    assert live["block1_conv"].tolist() == [True, False, True, False]
    images = _images(32, seed=3)
    np.testing.assert_allclose(
        to_numpy(small(images)), to_numpy(model(images)), atol=1e-5
    )
    # Nothing else was pruned: every kept weight is stored, none is zero.
    assert keras_gnap.count_params(model) == small.count_params()
    assert count_multiply_adds(small) < count_multiply_adds(model)


def test_split_growth_copies_unit_gates_and_keeps_logits():
    model = _model()
    network = model.network
    _close_inputs(network.get_layer("block3_conv"), [1])
    images = _images(8)
    before = model.predict(images, verbose=0)
    grown = keras_gnap.grow(
        model,
        widths={"block2_conv": 8},
        new_units="split",
        seed=0,
        split_noise=0,
    )
    np.testing.assert_allclose(
        grown.predict(images, verbose=0), before, atol=1e-5
    )
    unit_gate = grown.network.get_layer("block3_conv").unit_gate.numpy()
    assert unit_gate.shape == (8,)
    # Block2's unit 1 is cut; a copy of it would be cut too.
    assert unit_gate[1] < 0
    live = live_units(grown.network)["block2_conv"]
    assert not live[1]


def test_reopening_opens_unit_gates_without_changing_outputs():
    model = _model()
    conv = model.network.get_layer("block2_conv")
    _close_inputs(conv, [0, 3])
    images = _images(8)
    before = model.predict(images, verbose=0)
    reopened = reopen_gates(model.network)
    assert reopened >= 2
    assert np.all(conv.unit_gate.numpy() > 0)
    np.testing.assert_allclose(
        model.predict(images, verbose=0), before, atol=1e-6
    )


def test_freezing_freezes_unit_gates_too():
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    set_gates_trainable(model, False)
    conv = model.network.get_layer("block2_conv")
    assert not conv.gate.trainable and not conv.unit_gate.trainable
    set_gates_trainable(model, True)
    assert conv.gate.trainable and conv.unit_gate.trainable


def test_growth_rule_sees_units_cut_downstream():
    network = _model().network
    before = plan_growth(network)
    assert "block1_conv" in before
    # Block2 reads one of block1's four units: block1's weights are
    # mostly unused, so block1 does not grow.
    _close_inputs(network.get_layer("block2_conv"), [0, 1, 2])
    assert "block1_conv" not in plan_growth(network)


def test_training_closes_unit_gates_under_pressure():
    # Far more pressure than the default: the cheapest units go first.
    model = keras_gnap.build_gnap(
        IMAGE_SHAPE,
        CLASSES,
        stages=((4,), (6,)),
        sparsity=50.0,
        gating="weight_and_unit",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="sparse_categorical_crossentropy",
    )
    images = _images(64)
    labels = np.random.default_rng(0).integers(0, CLASSES, 64)
    model.fit(images, labels, epochs=8, batch_size=16, verbose=0)
    small = keras_gnap.compact(model)
    assert sum(_widths(small).values()) < sum(
        layer.width for layer in model.network.layers if hasattr(layer, "width")
    )
    np.testing.assert_allclose(
        small.predict(images, verbose=0),
        model.predict(images, verbose=0),
        atol=1e-5,
    )


# === Multiply-adds ===


def test_count_multiply_adds_by_hand():
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(3, 3, padding="same")(inputs)
    x = keras.layers.Conv2D(4, 3, strides=2)(x)  # valid: 4x4 out
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(5)(x)
    model = keras.Model(inputs, outputs)
    expected = 3 * 3 * 2 * 3 * 100 + 3 * 3 * 3 * 4 * 16 + 64 * 5
    assert count_multiply_adds(model) == expected
    gnap = keras_gnap.build_gnap(IMAGE_SHAPE, CLASSES, stages=((4,), (6,)))
    assert count_multiply_adds(gnap) == count_multiply_adds(
        keras_gnap.strip(gnap)
    )


def test_count_multiply_adds_bad_model():
    with pytest.raises(TypeError, match="model"):
        count_multiply_adds("model.keras")
