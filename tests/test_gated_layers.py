import keras
import numpy as np
import pytest
from backend_helpers import gradient
from backend_helpers import to_numpy

import keras_gnap
from keras_gnap import GatedConv2D
from keras_gnap import GatedDense

# Core behaviour: CI runs this module on every Keras backend.
pytestmark = pytest.mark.backends

LAYERS = [
    (
        GatedConv2D,
        {"filters": 4, "kernel_size": 3, "padding": "same"},
        (2, 8, 8, 3),
    ),
    (
        GatedConv2D,
        {"filters": 5, "kernel_size": (3, 2), "strides": 2},
        (2, 9, 9, 3),
    ),
    (GatedDense, {"units": 6}, (2, 7)),
]


@pytest.mark.parametrize("cls,kwargs,shape", LAYERS)
@pytest.mark.parametrize("gating", ["weight", "channel"])
def test_output_shape_matches_plain_keras_layer(cls, kwargs, shape, gating):
    layer = cls(gating=gating, **kwargs)
    plain_cls = (
        keras.layers.Conv2D if cls is GatedConv2D else keras.layers.Dense
    )
    plain = plain_cls(**kwargs)
    x = np.random.rand(*shape).astype("float32")
    out = layer(x)
    assert tuple(out.shape) == tuple(plain(x).shape)
    assert tuple(layer.compute_output_shape(shape)) == tuple(out.shape)
    expected_gate = (
        tuple(layer.kernel.shape)
        if gating == "weight"
        else (layer.kernel.shape[-1],)
    )
    assert tuple(layer.gate.shape) == expected_gate


@pytest.mark.parametrize("cls,kwargs,shape", LAYERS)
def test_open_gates_compute_the_plain_layer(cls, kwargs, shape):
    layer = cls(**kwargs)
    x = np.random.rand(*shape).astype("float32")
    out = layer(x)
    plain_cls = (
        keras.layers.Conv2D if cls is GatedConv2D else keras.layers.Dense
    )
    plain = plain_cls(**kwargs)
    plain(x)
    plain.set_weights([layer.kernel.numpy(), layer.bias.numpy()])
    np.testing.assert_allclose(to_numpy(out), to_numpy(plain(x)), atol=1e-6)


@pytest.mark.parametrize("cls,kwargs,shape", LAYERS)
def test_config_round_trip(cls, kwargs, shape):
    layer = cls(
        gating="channel",
        sparsity=0.3,
        temperature=0.5,
        activation="relu",
        use_bias=False,
        name="gated",
        **kwargs,
    )
    config = layer.get_config()
    clone = cls.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(restored) is cls
    assert restored.get_config() == config


def test_closed_gates_give_exact_zeros():
    layer = GatedConv2D(3, 3, padding="same", use_bias=False)
    x = np.random.rand(2, 6, 6, 2).astype("float32")
    layer(x)
    gate = np.ones(layer.gate.shape, "float32")
    gate[..., 1] = -0.5  # close every weight of filter 1
    gate[0, 0, 0, 0] = -2.0  # and one weight of filter 0
    layer.gate.assign(gate)
    out = to_numpy(layer(x))
    assert np.all(out[..., 1] == 0.0)
    kernel = layer.effective_kernel()
    assert kernel[0, 0, 0, 0] == 0.0
    assert np.all(kernel[..., 1] == 0.0)
    assert np.count_nonzero(kernel[..., 0]) == kernel[..., 0].size - 1
    # The forward pass uses exactly the effective kernel.
    expected = to_numpy(keras.ops.conv(x, kernel, 1, "same"))
    np.testing.assert_array_equal(out, expected)


def test_closed_gates_still_get_gradient():
    layer = GatedDense(2, use_bias=False)
    x = np.random.rand(4, 3).astype("float32")
    layer(x)
    layer.gate.assign(-np.ones((3, 2), "float32"))
    grad = gradient(lambda: keras.ops.sum(layer(x)), layer.gate)
    assert np.all(to_numpy(layer(x)) == 0.0)
    assert np.count_nonzero(grad) > 0


def test_sparsity_loss_only_while_training():
    layer = GatedDense(3, sparsity=2.0)
    x = np.random.rand(4, 5).astype("float32")
    layer(x, training=False)
    assert len(layer.losses) == 0
    layer(x, training=True)
    assert len(layer.losses) == 1
    # 15 gates at sigmoid(1) each, 2.0 per 10,000 parameters.
    expected = 2.0 * 15 * (1 / (1 + np.exp(-1.0))) / 1e4
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)


def test_channel_gate_costs_its_kernel_weights():
    layer = GatedConv2D(2, 3, gating="channel", sparsity=1.0)
    layer(np.zeros((1, 5, 5, 4), "float32"), training=True)
    expected = 1.0 * 36 * 2 * (1 / (1 + np.exp(-1.0))) / 1e4
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"filters": 0, "kernel_size": 3}, "filters"),
        ({"filters": 2.5, "kernel_size": 3}, "filters"),
        ({"filters": 2, "kernel_size": (3, 3, 3)}, "kernel_size"),
        ({"filters": 2, "kernel_size": 3, "padding": "full"}, "padding"),
        ({"filters": 2, "kernel_size": 3, "strides": 0}, "strides"),
        ({"filters": 2, "kernel_size": 3, "gating": "row"}, "gating"),
        ({"filters": 2, "kernel_size": 3, "sparsity": -1}, "sparsity"),
        ({"filters": 2, "kernel_size": 3, "temperature": 0}, "temperature"),
    ],
)
def test_conv_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"Received: {argument}="):
        GatedConv2D(**kwargs)


@pytest.mark.parametrize("units", [0, -3, 1.5, "8", True])
def test_dense_bad_units(units):
    with pytest.raises(ValueError, match="Received: units="):
        GatedDense(units)


def test_layer_grow_keeps_function_and_learns():
    layer = GatedConv2D(3, 3, padding="same", name="conv")
    x = np.random.rand(2, 6, 6, 2).astype("float32")
    before = to_numpy(layer(x))
    wider = layer.grow(width=5, input_dim=4)
    assert wider.name == "conv"
    assert tuple(wider.kernel.shape) == (3, 3, 4, 5)
    x_wide = np.concatenate(
        [x, np.random.rand(2, 6, 6, 2).astype("float32")], -1
    )
    after = to_numpy(wider(x_wide))
    np.testing.assert_allclose(after[..., :3], before, atol=1e-6)
    kernel = wider.kernel.numpy()
    assert np.all(kernel[:, :, 2:, :3] == 0.0)  # new inputs -> old units
    assert np.count_nonzero(kernel[:, :, :, 3:]) > 0  # fresh new units
    assert np.all(wider.gate.numpy()[..., 3:] > 0)
    with pytest.raises(ValueError, match="Received: width=2"):
        layer.grow(width=2)


@pytest.fixture
def restore_policy():
    policy = keras.mixed_precision.global_policy()
    yield
    keras.mixed_precision.set_global_policy(policy)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("gating", ["weight", "weight_and_unit"])
def test_mixed_precision_fit_keeps_float32_gates_and_exact_zeros(
    policy, gating, restore_policy
):
    # A plain fit under a mixed policy used to fail in the sparsity sum
    # (a float16 or bfloat16 loss where Keras sums float32 losses).
    keras.mixed_precision.set_global_policy(policy)
    model = keras_gnap.build_gnap(
        (12, 12, 1), 3, stages=((4,), (6,)), gating=gating
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = np.random.rand(16, 12, 12, 1).astype("float32")
    y = np.random.randint(0, 3, 16)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    conv = model.network.get_layer("block2_conv")
    for gate in conv.gates:
        assert gate.dtype == "float32"
    gate = conv.gate.numpy()
    gate[..., 0] = -1.0
    conv.gate.assign(gate)
    kernel = keras.ops.convert_to_numpy(conv.gated_kernel())
    assert str(kernel.dtype) == policy.removeprefix("mixed_")
    assert np.all(kernel[..., 0] == 0)
