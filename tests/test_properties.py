"""Property-based tests: growth, compaction and counting on random networks.

Hypothesis draws small networks, either `keras_gnap.build_gnap` with
random stages or a chain of `GatedConv2D` (kernel sizes 1 to 3, "same" or
"valid" padding, with or without bias, batch normalisation and pooling)
and `GatedDense` layers, with random weights, batch-norm statistics and
gates: a random fraction of gates closed, and whole units cut off from
their inputs or from their consumers. On each it checks that:

1. growth (`keras_gnap.grow`, with the starts of new units it documents as
   function-preserving) leaves the outputs unchanged;
2. compaction (`keras_gnap.compact`) leaves the logits unchanged;
3. `keras_gnap.count_params` equals a count made independently from the
   compacted model.

Every example sets its own weights from a drawn seed, so a falsifying
example that Hypothesis prints rebuilds the same network on its own.
"""

import keras
import numpy as np
import pytest
from hypothesis import Phase
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import keras_gnap

# An example builds two or three small models, about 0.1 s on TensorFlow
# (JAX compiles every new shape: only the cheapest property runs on every
# backend). Derandomised, so CI always tries the same networks, and
# no example database to keep.
PROPERTY_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    # No "explain" phase: tracing the failing example's coverage costs more
    # than the shrinking itself.
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
)
BATCH = 4
GATED = (keras_gnap.GatedConv2D, keras_gnap.GatedDense)


# === Random networks ===


def _units(draw, width, protect_path):
    """Draws up to half the unit indices of a layer of `width` units.

    At most half: a network with every unit cut computes a constant, which
    tells little about what growth or compaction keep.
    """
    first = 1 if protect_path else 0
    if width // 2 < 1 or width <= first:
        return ()
    units = st.integers(first, width - 1)
    return tuple(sorted(draw(st.sets(units, max_size=width // 2))))


@st.composite
def networks(draw, flatten=True, protect_path=False, batch_norm="any"):
    """Draws the description of a small gated network and its gates.

    Args:
        flatten: whether chains may end their convolutions with `Flatten`
            (otherwise global average pooling).
        protect_path: whether unit 0 of every gated layer keeps all its
            gates from input channel 0 open and is never cut, so that at
            least one path from the input to the output stays live.
        batch_norm: where batch normalisation may be. `"any"`: after any
            gated layer, with or without an activation of its own.
            `"conv_folding"`: only after convolutions without activation,
            where it folds. `"after_activation"`: as `"conv_folding"`, in
            a chain whose first convolution has a ReLU activation and
            then batch normalisation. `"after_dense"`: as
            `"conv_folding"`, in a chain with a hidden dense layer
            without activation followed by batch normalisation.
    """
    chain_only = batch_norm in ("after_activation", "after_dense")
    if not chain_only and draw(st.booleans()):
        stages = draw(
            st.lists(
                st.lists(st.integers(1, 3), min_size=1, max_size=2).map(tuple),
                min_size=1,
                max_size=2,
            ).map(tuple)
        )
        spec = {
            "kind": "gnap",
            "input_shape": (8, 8, draw(st.integers(1, 2))),
            "stages": stages,
            "gating": draw(st.sampled_from(["weight", "channel"])),
            "classes": draw(st.integers(2, 3)),
        }
        widths = [w for stage in stages for w in stage] + [spec["classes"]]
    else:
        height, width = draw(st.integers(4, 7)), draw(st.integers(4, 7))
        channels = draw(st.integers(1, 2))
        size = min(height, width)
        convs = []
        for index in range(draw(st.integers(1, 2))):
            kernel = draw(st.integers(1, 3))
            padding = draw(st.sampled_from(["same", "valid"]))
            if padding == "valid" and size < kernel:
                padding = "same"
            size -= (kernel - 1) * (padding == "valid")
            conv = {
                "filters": draw(st.integers(1, 4)),
                "kernel_size": kernel,
                "padding": padding,
                "use_bias": draw(st.booleans()),
                "activation": draw(st.sampled_from([None, "relu"])),
                "batch_norm": draw(st.booleans()),
                "relu": draw(st.booleans()),
                "pool": size >= 2 and draw(st.booleans()),
                "gating": draw(st.sampled_from(["weight", "channel"])),
            }
            if batch_norm != "any" and conv["batch_norm"]:
                conv["activation"] = None
            if batch_norm == "after_activation" and index == 0:
                conv.update(activation="relu", batch_norm=True)
            size //= 2 if conv["pool"] else 1
            convs.append(conv)
        head = draw(st.sampled_from(["gap", "flatten"] if flatten else ["gap"]))
        hidden = []
        for _ in range(draw(st.integers(batch_norm == "after_dense", 1))):
            dense = {
                "units": draw(st.integers(1, 4)),
                "use_bias": draw(st.booleans()),
                "activation": draw(st.sampled_from([None, "relu"])),
                "batch_norm": draw(st.booleans()),
                "relu": draw(st.booleans()),
                "gating": draw(st.sampled_from(["weight", "channel"])),
            }
            if batch_norm == "after_dense":
                dense.update(activation=None, batch_norm=True)
            elif batch_norm != "any":
                dense["batch_norm"] = False
            hidden.append(dense)
        spec = {
            "kind": "chain",
            "input_shape": (height, width, channels),
            "convs": convs,
            "head": head,
            "hidden": hidden,
            "classes": draw(st.integers(2, 3)),
            "gating": draw(st.sampled_from(["weight", "channel"])),
        }
        widths = [c["filters"] for c in convs]
        widths += [d["units"] for d in hidden] + [spec["classes"]]
    inputs = [spec["input_shape"][-1], *widths[:-1]]
    spec["gates"] = [
        {
            "closed": draw(st.sampled_from([0.0, 0.3, 0.6])),
            # Units whose every incoming gate is closed: they output a
            # constant (their bias or batch-norm shift).
            "cut_units": _units(draw, width, protect_path),
            # Input channels whose every weight into this layer is pruned:
            # the producer's units lose their outgoing weights.
            "cut_inputs": _units(draw, channels, protect_path),
        }
        for width, channels in zip(widths, inputs, strict=True)
    ]
    spec["protect_path"] = protect_path
    spec["seed"] = draw(st.integers(0, 2**16))
    return spec


def _build(spec):
    """Returns `(model, network)` for a spec, weights and gates set."""
    if spec["kind"] == "gnap":
        model = keras_gnap.build_gnap(
            spec["input_shape"],
            spec["classes"],
            stages=spec["stages"],
            gating=spec["gating"],
            classifier_activation=None,
        )
        network = model.network
    else:
        model = network = _build_chain(spec)
    _set_weights(network, spec)
    return model, network


def _growable(spec):
    """Returns the names of the layers of a spec that can grow."""
    if spec["kind"] == "gnap":
        count = sum(len(stage) for stage in spec["stages"])
        return [f"block{i}_conv" for i in range(1, count + 1)]
    convs = [f"conv{i}" for i in range(len(spec["convs"]))]
    if spec["head"] == "flatten":
        # Units feeding Flatten cannot be added one by one.
        convs = convs[:-1]
    # The logits are the classes: they never grow.
    return convs + [f"dense{i}" for i in range(len(spec["hidden"]))]


def _build_chain(spec):
    inputs = keras.Input(spec["input_shape"], name="image")
    x = inputs
    for i, conv in enumerate(spec["convs"]):
        x = keras_gnap.GatedConv2D(
            conv["filters"],
            conv["kernel_size"],
            padding=conv["padding"],
            use_bias=conv["use_bias"],
            activation=conv["activation"],
            gating=conv["gating"],
            name=f"conv{i}",
        )(x)
        if conv["batch_norm"]:
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        if conv["relu"]:
            x = keras.layers.ReLU(name=f"relu{i}")(x)
        if conv["pool"]:
            x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    if spec["head"] == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    for i, dense in enumerate(spec["hidden"]):
        x = keras_gnap.GatedDense(
            dense["units"],
            use_bias=dense["use_bias"],
            activation=dense["activation"],
            gating=dense["gating"],
            name=f"dense{i}",
        )(x)
        if dense["batch_norm"]:
            x = keras.layers.BatchNormalization(name=f"dense_bn{i}")(x)
        if dense["relu"]:
            x = keras.layers.ReLU(name=f"dense_relu{i}")(x)
    outputs = keras_gnap.GatedDense(
        spec["classes"], gating=spec["gating"], name="logits"
    )(x)
    return keras.Model(inputs, outputs, name="chain")


def _set_weights(network, spec):
    """Sets random weights, batch-norm statistics and gates from the spec."""
    rng = np.random.default_rng(spec["seed"])
    gated = [layer for layer in network.layers if isinstance(layer, GATED)]
    channels = spec["input_shape"][-1]
    for layer, gates in zip(gated, spec["gates"], strict=True):
        kernel_shape = tuple(layer.kernel.shape)
        fan_in = int(np.prod(kernel_shape[:-1]))
        kernel = rng.normal(0, np.sqrt(2 / fan_in), kernel_shape)
        # Input channel c of a dense layer after Flatten is every row
        # r with r % channels == c.
        rows = np.arange(kernel_shape[-2]) % channels
        cut_rows = np.isin(rows, gates["cut_inputs"])
        gate = np.ones(layer.gate.shape)
        gate[rng.random(gate.shape) < gates["closed"]] = -1.0
        if layer.gating == "weight":
            gate[..., list(gates["cut_units"])] = -1.0
            gate[..., cut_rows, :] = -1.0
        else:
            gate[list(gates["cut_units"])] = -1.0
            # One gate per unit: prune the input channels' weights instead.
            kernel[..., cut_rows, :] = 0.0
        if spec["protect_path"]:
            if layer.gating == "weight":
                gate[..., rows == 0, 0] = 1.0
            else:
                gate[0] = 1.0
        layer.kernel.assign(kernel.astype("float32"))
        layer.gate.assign(gate.astype("float32"))
        if layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.5, layer.width).astype("float32"))
        channels = layer.width
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = int(layer.gamma.shape[0])
            values = {
                "gamma": rng.uniform(0.5, 1.5, n) * rng.choice([-1, 1], n),
                "beta": rng.normal(0, 0.5, n),
                "moving_mean": rng.normal(0, 0.5, n),
                "moving_variance": rng.uniform(0.5, 1.5, n),
            }
            for name, value in values.items():
                getattr(layer, name).assign(value.astype("float32"))


def _images(spec):
    rng = np.random.default_rng(spec["seed"] + 1)
    return rng.normal(size=(BATCH, *spec["input_shape"])).astype("float32")


def _predict(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def _assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)


# === 1. Growth keeps the function ===


@st.composite
def growths(draw):
    """Draws a network with a growable layer, and how to grow it."""
    spec = draw(networks().filter(_growable))
    growable = _growable(spec)
    extra = draw(
        st.lists(
            st.integers(0, 3), min_size=len(growable), max_size=len(growable)
        )
    )
    if not any(extra):
        extra[0] = 1
    grow_args = {
        "extra": dict(zip(growable, extra, strict=True)),
        # The two starts documented to keep the function: zero outgoing
        # weights, or splits without noise (split_noise defaults to 0).
        "new_units": draw(st.sampled_from(["split", "zero"])),
        "reopen_pruned": draw(st.booleans()),
        "seed": draw(st.integers(0, 2**16)),
    }
    return spec, grow_args


@PROPERTY_SETTINGS
@given(growths())
def test_growth_keeps_the_outputs(case):
    spec, grow_args = case
    event(f"{spec['kind']}, new_units={grow_args['new_units']}")
    model, network = _build(spec)
    widths = {
        name: network.get_layer(name).width + extra
        for name, extra in grow_args["extra"].items()
    }
    x = _images(spec)
    before = _predict(model, x)
    keras.utils.set_random_seed(grow_args["seed"])  # fresh new-unit weights
    grown = keras_gnap.grow(
        model,
        widths=widths,
        new_units=grow_args["new_units"],
        seed=grow_args["seed"],
        reopen_pruned=grow_args["reopen_pruned"],
    )
    grown_network = grown.network if spec["kind"] == "gnap" else grown
    for name, width in widths.items():
        assert grown_network.get_layer(name).width == width
    _assert_close(_predict(grown, x), before)


# === 2. Compaction keeps the logits ===


@PROPERTY_SETTINGS
@given(networks())
def test_compact_keeps_the_logits(spec):
    event(spec["kind"])
    model, _ = _build(spec)
    x = _images(spec)
    compacted = keras_gnap.compact(model)
    _assert_close(_predict(compacted, x), _predict(model, x))


# === 3. count_params agrees with a count of the compacted model ===


def _count_compacted(compacted, network):
    """Counts the compacted model by the rule of `docs/method.md`.

    The compacted model holds only the live units, with batch
    normalisation folded where it can be. The rule counts its kernel
    entries that are not zero, one bias per unit of a layer that has a
    bias or a batch normalisation folded into it (as in `network`), and,
    as `count_params` documents, a scale and a shift per channel for a
    batch normalisation that cannot be folded (one after an activation).

    Not counted, by the rule, although the compacted model stores them:
    the bias `compact` gives a layer with neither bias nor batch
    normalisation when it folds the constant output of a removed unit
    into it (all zeros when the constant is 0); Keras's mean and variance
    of an unfolded batch normalisation (inference needs a scale and a
    shift).
    """
    layers = network.layers
    compacted_names = {layer.name for layer in compacted.layers}
    biased = {
        layer.name for layer in layers if getattr(layer, "use_bias", False)
    }
    biased |= {
        layer.name
        for layer, after in zip(layers[:-1], layers[1:], strict=True)
        if isinstance(after, keras.layers.BatchNormalization)
        and after.name not in compacted_names  # folded into `layer`
    }
    total = 0
    for layer in compacted.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            total += int(np.count_nonzero(layer.kernel.numpy()))
            if layer.name in biased:
                total += int(layer.kernel.shape[-1])
        elif isinstance(layer, keras.layers.BatchNormalization):
            total += 2 * int(layer.gamma.shape[0])
    return total


def _check_count(spec):
    event(spec["kind"])
    model, network = _build(spec)
    compacted = keras_gnap.compact(model)
    assert keras_gnap.count_params(model) == _count_compacted(
        compacted, network
    )


# Where the rule and compaction legitimately differ, the networks drawn
# for the counting properties stay out:
# - protect_path: when every unit of a layer is dead, the rule counts none,
#   but compact keeps one (Keras has no layer of width 0), so one path from
#   the input to the logits always stays live;
# - flatten=False: the rule takes a unit feeding Flatten as used downstream
#   whatever its outgoing weights (see `keras_gnap.reports.live_units`),
#   where compact removes it (global average pooling has no such case).
#
# The count is the same NumPy code on every backend, which only reads the
# weights differently: a third of the examples off TensorFlow, since JAX
# compiles every new shape.
@pytest.mark.backends
@settings(
    PROPERTY_SETTINGS,
    max_examples=30 if keras.backend.backend() == "tensorflow" else 10,
)
@given(networks(flatten=False, protect_path=True, batch_norm="conv_folding"))
def test_count_params_counts_the_compacted_model(spec):
    _check_count(spec)


@PROPERTY_SETTINGS
@given(
    networks(flatten=False, protect_path=True, batch_norm="after_activation")
)
def test_count_params_counts_batch_norm_that_does_not_fold(spec):
    # A batch normalisation after a ReLU activation stays in the compacted
    # model: by the rule, a scale and a shift per live channel.
    _check_count(spec)


@PROPERTY_SETTINGS
@given(networks(flatten=False, protect_path=True, batch_norm="after_dense"))
def test_count_params_counts_batch_norm_after_dense(spec):
    # Folded into the hidden dense layer before it, as after a convolution.
    _check_count(spec)
