import keras
import numpy as np
import pytest
from backend_helpers import to_numpy

import keras_gnap
from keras_gnap.growth import rebuild_optimizer
from keras_gnap.topology import gated_graph


def _close_some_gates(network, fraction=0.4, seed=0):
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if isinstance(layer, keras_gnap.GatedConv2D | keras_gnap.GatedDense):
            gate = layer.gate.numpy()
            gate[rng.random(gate.shape) < fraction] = -1.0
            layer.gate.assign(gate)


def _randomise_batch_norm(network, seed=0):
    rng = np.random.default_rng(seed)
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for weight in layer.weights:
                shape = weight.shape
                weight.assign(rng.uniform(0.5, 1.5, shape).astype("float32"))


@pytest.mark.parametrize(
    "widths",
    [
        None,
        {"block1_conv": 11},
        {"block2_conv": 9, "block5_conv": 20},
    ],
)
def test_zero_start_growth_preserves_logits_and_weights(widths):
    model = keras_gnap.build_gnap((28, 28, 1), 10, classifier_activation=None)
    _close_some_gates(model.network)
    _randomise_batch_norm(model.network)
    x = np.random.rand(16, 28, 28, 1).astype("float32")
    before = model.predict(x, verbose=0)
    grown = keras_gnap.grow(model, widths=widths, new_units="zero")
    after = grown.predict(x, verbose=0)
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert keras_gnap.count_params(grown) == keras_gnap.count_params(model)
    old = {layer.name: layer for layer in model.network.layers}
    changed = 0
    for layer in grown.network.layers:
        for new_w, old_w in zip(
            layer.weights, old[layer.name].weights, strict=True
        ):
            new_v, old_v = new_w.numpy(), old_w.numpy()
            corner = tuple(slice(0, s) for s in old_v.shape)
            # Existing weights, gates and statistics are copied exactly.
            np.testing.assert_array_equal(new_v[corner], old_v)
            changed += new_v.shape != old_v.shape
    assert changed > 0


@pytest.mark.backends
def test_growth_with_training_mode_batch_norm_preserves_logits():
    model = keras_gnap.build_gnap((16, 16, 3), 4, classifier_activation=None)
    x = np.random.rand(8, 16, 16, 3).astype("float32")
    before = to_numpy(model(x, training=True))
    grown = keras_gnap.grow(model, growth_factor=1.0)
    after = to_numpy(grown(x, training=True))
    np.testing.assert_allclose(after, before, atol=1e-5)


def test_new_weights_of_zero_start_can_learn():
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    grown = keras_gnap.grow(model, widths={"block2_conv": 12}, new_units="zero")
    grown.compile("sgd", "sparse_categorical_crossentropy")
    before = {w.path: w.numpy() for w in grown.trainable_weights}
    x = np.random.rand(32, 16, 16, 1).astype("float32")
    y = np.random.randint(0, 3, 32)
    grown.fit(x, y, epochs=2, batch_size=16, verbose=0)
    conv2 = grown.network.get_layer("block2_conv")
    conv3 = grown.network.get_layer("block3_conv")
    start2 = before["block2_conv/kernel"]
    start3 = before["block3_conv/kernel"]
    # Fresh incoming weights of the new filters, and their zero outgoing
    # weights, both move.
    assert not np.allclose(conv2.kernel.numpy()[..., 8:], start2[..., 8:])
    assert np.all(start3[:, :, 8:, :] == 0.0)
    assert np.count_nonzero(conv3.kernel.numpy()[:, :, 8:, :]) > 0


def test_growth_rule_grows_open_layers_and_spares_pruned_ones():
    model = keras_gnap.build_gnap((28, 28, 1), 10)
    network = model.network
    conv3 = network.get_layer("block3_conv")
    conv3.gate.assign(-np.ones(conv3.gate.shape, "float32"))  # all closed
    conv4 = network.get_layer("block4_conv")
    gate = np.ones(conv4.gate.shape, "float32")
    gate.reshape(-1)[: gate.size * 3 // 10] = -1.0  # 70% open
    conv4.gate.assign(gate)
    widths = keras_gnap.plan_growth(network, growth_factor=0.5)
    assert "block3_conv" not in widths
    assert "head_dense" not in widths  # its units are the classes
    assert widths["block1_conv"] == 8 + 4
    # 70% open relative to 100%: ceil(0.5 * 16 * 0.7) = 6 more units.
    assert widths["block4_conv"] == 16 + 6
    capped = keras_gnap.plan_growth(network, growth_factor=0.5, max_width=10)
    assert max(capped.values()) <= 10


def test_grow_rejects_bad_widths():
    model = keras_gnap.build_gnap((28, 28, 1), 10)
    with pytest.raises(ValueError, match="head_dense"):
        keras_gnap.grow(model, widths={"head_dense": 12})
    with pytest.raises(ValueError, match="cannot shrink"):
        keras_gnap.grow(model, widths={"block1_conv": 4})
    with pytest.raises(ValueError, match="Received: growth_factor=0"):
        keras_gnap.grow(model, growth_factor=0)
    assert keras_gnap.grow(model, widths={}) is model


def test_flatten_blocks_growth():
    inputs = keras.Input((8, 8, 1))
    x = keras_gnap.GatedConv2D(4, 3, name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras_gnap.GatedDense(2, name="dense")(x)
    network = keras.Model(inputs, outputs)
    nodes = gated_graph(network)
    assert nodes["conv"].blocked and not nodes["conv"].growable
    assert nodes["dense"].feeds_output
    assert keras_gnap.plan_growth(network) == {}
    with pytest.raises(ValueError, match="cannot grow"):
        keras_gnap.grow(network, widths={"conv": 6})


def test_plain_functional_network_grows():
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    network = model.network
    x = np.random.rand(4, 16, 16, 1).astype("float32")
    grown = keras_gnap.grow(network, widths={"block1_conv": 10})
    assert isinstance(grown, keras.Model)
    assert not isinstance(grown, keras_gnap.GNAPModel)
    np.testing.assert_allclose(
        grown.predict(x, verbose=0), network.predict(x, verbose=0), atol=1e-6
    )


@pytest.mark.backends
def test_rebuild_optimizer_carries_state():
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile(
        keras.optimizers.Adam(
            keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.5)
        ),
        "sparse_categorical_crossentropy",
    )
    x = np.random.rand(32, 16, 16, 1).astype("float32")
    y = np.random.randint(0, 3, 32)
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    old = model.optimizer
    grown = keras_gnap.grow(model, widths={"block1_conv": 12})
    new = rebuild_optimizer(old, grown.trainable_variables)
    assert int(new.iterations.numpy()) == int(old.iterations.numpy()) == 4
    old_vars = {v.name: v.numpy() for v in old.variables}
    moments = [
        v for v in new.variables if v.name.startswith("block1_conv_kernel")
    ]
    assert moments
    for variable in moments:
        value, before = variable.numpy(), old_vars[variable.name]
        np.testing.assert_array_equal(value[..., :8], before)
        assert np.all(value[..., 8:] == 0.0)
