import keras
import numpy as np
import pytest
from backend_helpers import gradient
from backend_helpers import to_numpy
from data_helpers import ScriptedValLoss
from test_growth import _close_some_gates
from test_growth import _randomise_batch_norm

import keras_gnap
from keras_gnap.growth.unit_split import SHARE_RANGE
from keras_gnap.growth.unit_split import unit_usage


def _pruned_model(gating="weight"):
    model = keras_gnap.build_gnap(
        (16, 16, 1), 4, classifier_activation=None, gating=gating
    )
    _close_some_gates(model.network)
    _randomise_batch_norm(model.network)
    return model


@pytest.mark.parametrize("gating", ["weight", "channel"])
@pytest.mark.parametrize(
    "widths",
    [
        None,
        # Producer and consumer both grow, and block3 adds 24 units to its
        # 16, so some of its units are split twice.
        {"block2_conv": 13, "block3_conv": 40},
    ],
)
def test_split_growth_preserves_logits(widths, gating):
    model = _pruned_model(gating)
    x = np.random.rand(8, 16, 16, 1).astype("float32")
    before_training_mode = to_numpy(model(x, training=True))
    before = model.predict(x, verbose=0)  # after the moving stats update
    grown = keras_gnap.grow(
        model, widths=widths, new_units="split", seed=3, split_noise=0
    )
    np.testing.assert_allclose(grown.predict(x, verbose=0), before, atol=1e-5)
    np.testing.assert_allclose(
        to_numpy(grown(x, training=True)), before_training_mode, atol=1e-5
    )
    assert keras_gnap.count_params(grown) > keras_gnap.count_params(model)


def test_new_unit_copies_most_used_unit_and_shares_its_outputs():
    model = _pruned_model()
    network = model.network
    conv2 = network.get_layer("block2_conv")
    conv3 = network.get_layer("block3_conv")
    # Unit 5 of block2 is used far more than the others.
    gate = conv2.gate.numpy()
    gate[..., :] = -1.0
    gate[..., 5] = 1.0
    gate[0, 0, 0, :] = 1.0  # every unit keeps one incoming weight
    conv2.gate.assign(gate)
    usage = unit_usage(conv2, [conv3])
    assert int(np.argmax(usage)) == 5 and np.all(usage > 0)
    grown = keras_gnap.grow(
        model, widths={"block2_conv": 9}, new_units="split", seed=0
    )
    new2 = grown.network.get_layer("block2_conv")
    new3 = grown.network.get_layer("block3_conv")
    np.testing.assert_array_equal(
        new2.kernel.numpy()[..., 8], new2.kernel.numpy()[..., 5]
    )
    np.testing.assert_array_equal(
        new2.gate.numpy()[..., 8], new2.gate.numpy()[..., 5]
    )
    bn = grown.network.get_layer("block2_bn")
    for weight in bn.weights:
        assert weight.numpy()[8] == weight.numpy()[5]
    old_rows = conv3.kernel.numpy()[:, :, 5, :]
    source_rows = new3.kernel.numpy()[:, :, 5, :]
    new_rows = new3.kernel.numpy()[:, :, 8, :]
    np.testing.assert_allclose(source_rows + new_rows, old_rows, atol=1e-6)
    share = new_rows[old_rows != 0] / old_rows[old_rows != 0]
    assert np.all((share >= SHARE_RANGE[0]) & (share <= SHARE_RANGE[1]))
    assert np.std(share) > 0.05  # one share per weight, not one per unit
    np.testing.assert_array_equal(
        new3.gate.numpy()[:, :, 8, :], new3.gate.numpy()[:, :, 5, :]
    )


def _task_gradient_of_new_outgoing_gates(new_units):
    model = keras_gnap.build_gnap((16, 16, 1), 3, sparsity=0.0)
    grown = keras_gnap.grow(
        model, widths={"block2_conv": 12}, new_units=new_units, seed=0
    )
    conv3 = grown.network.get_layer("block3_conv")
    x = np.random.rand(16, 16, 16, 1).astype("float32")
    y = np.random.randint(0, 3, 16)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    gate_gradient = gradient(
        lambda: loss_fn(y, grown(x, training=True)), conv3.gate
    )
    return np.abs(gate_gradient[:, :, 8:, :]).sum()


@pytest.mark.backends
def test_sequential_dense_network_with_biases_splits_exactly():
    network = keras.Sequential(
        [
            keras.Input((12,)),
            keras_gnap.GatedDense(6, activation="relu", name="hidden1"),
            keras.layers.BatchNormalization(),
            keras_gnap.GatedDense(5, activation="relu", name="hidden2"),
            keras_gnap.GatedDense(3, name="out"),
        ]
    )
    _randomise_batch_norm(network)
    for layer in network.layers:
        if isinstance(layer, keras_gnap.GatedDense):
            layer.bias.assign(np.random.rand(*layer.bias.shape))
    x = np.random.rand(8, 12).astype("float32")
    before = network.predict(x, verbose=0)
    grown = keras_gnap.grow(
        network,
        widths={"hidden1": 9, "hidden2": 7},
        new_units="split",
        split_noise=0,
    )
    np.testing.assert_allclose(grown.predict(x, verbose=0), before, atol=1e-5)
    hidden1 = grown.get_layer("hidden1")
    bias = hidden1.bias.numpy()
    assert all(bias[new] in bias[:6] for new in range(6, 9))


def test_unit_split_into_many_parts_shares_evenly():
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    conv2 = model.network.get_layer("block2_conv")
    gate = conv2.gate.numpy()
    gate[..., 1:] = -1.0  # unit 0 is the only used unit
    conv2.gate.assign(gate)
    original = model.network.get_layer("block3_conv").kernel.numpy()[..., 0, :]
    grown = keras_gnap.grow(
        model, widths={"block2_conv": 12}, new_units="split", seed=0
    )
    kernel = grown.network.get_layer("block3_conv").kernel.numpy()
    parts = kernel[:, :, [0, 8, 9, 10, 11], :] / original[:, :, None, :]
    np.testing.assert_allclose(parts.sum(axis=2), 1.0, atol=1e-5)
    # Five parts, one of each weight each: none near 0, each near 1/5 on
    # average (sequential splits in SHARE_RANGE would leave the source
    # about 0.5**4 of its weights).
    assert parts.min() > 0.05
    np.testing.assert_allclose(parts.mean(axis=(0, 1, 3)), 0.2, atol=0.03)


def test_split_noise_changes_the_function_by_its_size():
    model = _pruned_model()
    x = np.random.rand(8, 16, 16, 1).astype("float32")
    before = model.predict(x, verbose=0)

    def change(split_noise):
        grown = keras_gnap.grow(
            model,
            widths={"block2_conv": 12},
            new_units="split",
            seed=0,
            split_noise=split_noise,
        )
        return np.abs(grown.predict(x, verbose=0) - before).mean()

    assert change(0) < 1e-5
    assert 1e-5 < change(0.1) < change(0.5)


def test_split_noise_spread_is_relative_to_the_source():
    model = _pruned_model()
    conv2 = model.network.get_layer("block2_conv")
    grown = keras_gnap.grow(
        model, widths={"block2_conv": 9}, seed=0, split_noise=0.5
    )
    new2 = grown.network.get_layer("block2_conv")
    usage = unit_usage(conv2, [model.network.get_layer("block3_conv")])
    source = int(np.argmax(usage))
    noise = new2.kernel.numpy()[..., 8] - conv2.kernel.numpy()[..., source]
    kept = conv2.kernel.numpy()[..., source][conv2.kernel_mask()[..., source]]
    mask = conv2.kernel_mask()[..., source]
    assert np.std(noise[mask]) == pytest.approx(0.5 * np.std(kept), rel=0.25)
    # Closed weights stay as pruned; the source takes the opposite noise.
    assert np.all(noise[~mask] == 0) and (~mask).any()
    np.testing.assert_allclose(
        new2.kernel.numpy()[..., source],
        conv2.kernel.numpy()[..., source] - noise,
        atol=1e-6,
    )


def test_seed_fixes_the_shares():
    model = _pruned_model()

    def kernel(seed):
        grown = keras_gnap.grow(
            model, widths={"block2_conv": 10}, new_units="split", seed=seed
        )
        return grown.network.get_layer("block3_conv").kernel.numpy()

    np.testing.assert_array_equal(kernel(7), kernel(7))
    assert not np.array_equal(kernel(7), kernel(8))


def test_split_gives_new_outgoing_gates_a_task_gradient():
    # The reason for splitting: a zero outgoing weight gives its gate no
    # task gradient, so only the sparsity term moves it (it closes).
    assert _task_gradient_of_new_outgoing_gates("zero") == 0.0
    assert _task_gradient_of_new_outgoing_gates("split") > 0.0


def test_split_halves_diverge_when_trained():
    # Without noise, the random shares of the outgoing weights alone make
    # the copies' gradients differ.
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    grown = keras_gnap.grow(
        model,
        widths={"block2_conv": 9},
        new_units="split",
        seed=0,
        split_noise=0,
    )
    conv2 = grown.network.get_layer("block2_conv")
    kernel = conv2.kernel.numpy()
    source = [
        u for u in range(8) if np.array_equal(kernel[..., u], kernel[..., 8])
    ]
    assert len(source) == 1
    grown.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.rand(32, 16, 16, 1).astype("float32")
    y = np.random.randint(0, 3, 32)
    grown.fit(x, y, epochs=2, batch_size=16, verbose=0)
    kernel = conv2.kernel.numpy()
    assert not np.allclose(kernel[..., 8], kernel[..., source[0]])


@pytest.mark.parametrize("pruned", ["block2_conv", "block3_conv"])
def test_layer_without_used_units_keeps_zero_outgoing_weights(pruned):
    # block2's units are unused when their incoming gates are all closed
    # (block2 pruned) or their outgoing ones are (block3 pruned).
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    layer = model.network.get_layer(pruned)
    layer.gate.assign(-np.ones(layer.gate.shape, "float32"))
    grown = keras_gnap.grow(
        model, widths={"block2_conv": 10}, new_units="split", seed=0
    )
    conv3 = grown.network.get_layer("block3_conv")
    assert np.all(conv3.kernel.numpy()[:, :, 8:, :] == 0.0)


def test_growth_callback_splits_used_units():
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.rand(32, 16, 16, 1).astype("float32")
    y = np.random.randint(0, 3, 32)
    growth = keras_gnap.GrowthCallback(patience=1, max_growths=1)
    model.fit(
        x,
        y,
        epochs=4,
        batch_size=16,
        verbose=0,
        callbacks=[ScriptedValLoss([1.0] * 4), growth],
    )
    event = growth.growth_events[0]
    # Copies of used units count at once (zero-start units would be dead).
    assert event["effective_params_after"] > event["effective_params_before"]


@pytest.mark.parametrize(
    "argument,value",
    [
        ("new_units", "random"),
        ("new_units", None),
        ("new_units", 1),
        ("split_noise", -0.1),
        ("split_noise", float("nan")),
        ("split_noise", float("inf")),
        ("split_noise", True),
    ],
)
def test_bad_growth_arguments(argument, value):
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    message = f"Received: {argument}={value!r}"
    with pytest.raises(ValueError, match=message):
        keras_gnap.grow(model, **{argument: value})


def test_bad_seed():
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    with pytest.raises(ValueError, match="Received: seed='1'"):
        keras_gnap.grow(model, seed="1")
