"""Replacing gated layers by plain Keras layers, gates folded in."""

import keras
import numpy as np

from keras_gnap.layers.gated_conv2d import GatedConv2D
from keras_gnap.layers.gated_dense import GatedDense
from keras_gnap.layers.gated_layer import GatedLayer
from keras_gnap.models.gnap_model import GNAPModel


def strip(model, apply_gates=True):
    """Returns a plain Keras model computing what `model` computes.

    Every `GatedConv2D` becomes a `keras.layers.Conv2D` and every
    `GatedDense` a `keras.layers.Dense` of the same name and configuration,
    whose kernel is the gated layer's `effective_kernel()` (closed gates'
    weights are exact zeros); gate scores are dropped. Every other layer is
    copied with its weights. The result holds no keras_gnap class, so it
    loads with plain `keras.saving.load_model` wherever Keras is installed.
    Pruned weights are zeros but still stored: see `keras_gnap.compact` for
    a model that is physically smaller.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model, with or
            without gated layers.
        apply_gates: bool. Whether to fold the gates into the kernels.
            `False` keeps the raw kernels, every weight included, which
            gives the unpruned network of the same width (a baseline for
            what pruning saves). Defaults to `True`.

    Returns:
        A new Functional model with the same name, inputs, outputs and
        layer names.

    Raises:
        TypeError: if `model` is not a Functional, Sequential or
            `GNAPModel`, or holds a keras_gnap layer other than
            `GatedConv2D` and `GatedDense`.
        ValueError: if `apply_gates` is not a bool.

    Example:

    >>> model = keras_gnap.build_gnap((28, 28, 1), classes=10)
    >>> plain = keras_gnap.strip(model)
    >>> plain.get_layer("block1_conv").__class__.__name__
    'Conv2D'
    """
    if not isinstance(apply_gates, bool):
        raise ValueError(
            "Argument `apply_gates` must be a bool. "
            f"Received: apply_gates={apply_gates!r}"
        )
    network = network_of(model)
    name = model.name

    def clone_layer(layer):
        if isinstance(layer, GatedLayer):
            return _plain_layer(layer)
        _check_not_gnap(layer)
        return layer.__class__.from_config(layer.get_config())

    stripped = keras.models.clone_model(
        network,
        input_tensors=_named_inputs(network),
        clone_function=clone_layer,
        recursive=True,
    )
    _copy_weights(network, stripped, apply_gates)
    inputs, outputs = stripped.inputs, stripped.outputs
    # A single tensor rather than a list of one, so that the model is called
    # on a tensor without a structure warning.
    inputs = inputs[0] if len(inputs) == 1 else inputs
    outputs = outputs[0] if len(outputs) == 1 else outputs
    return keras.Model(inputs, outputs, name=name)


def float32_copy(model):
    """Returns `model` computing in float32, as it is exported.

    A network trained under a mixed-precision policy (`mixed_bfloat16`,
    `mixed_float16`) keeps float32 weights but computes in 16 bits;
    SavedModel and TFLite export want float32 throughout (TFLite
    quantizes by itself). The copy has the same layers, names and weights.

    Args:
        model: a plain Functional or Sequential Keras model (see `strip`).

    Returns:
        `model` itself when every layer already computes in float32, or a
        float32 copy of it.
    """
    if all(layer.compute_dtype == "float32" for layer in model.layers):
        return model

    def clone_layer(layer):
        return layer.__class__.from_config(
            {**layer.get_config(), "dtype": "float32"}
        )

    copy = keras.models.clone_model(model, clone_function=clone_layer)
    copy.set_weights(model.get_weights())
    return copy


def network_of(model):
    """Returns the Functional or Sequential network a model runs.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.

    Returns:
        The `GNAPModel`'s network, or `model` itself.

    Raises:
        TypeError: if `model` is neither.
    """
    network = model.network if isinstance(model, GNAPModel) else model
    is_graph = isinstance(network, keras.Sequential) or (
        isinstance(network, keras.Model)
        and type(network).__name__ == "Functional"
    )
    if not is_graph:
        raise TypeError(
            "Expected a GNAPModel, or a Functional or Sequential Keras "
            f"model. Received: model={model!r} of type "
            f"{type(model).__name__}"
        )
    if not network.built:
        raise TypeError(
            "The model must be built (called on an input) before export. "
            f"Received: model={model.name!r}, not built"
        )
    return network


def _named_inputs(network):
    # Without them, clone_model names an unnamed input after its tensor.
    if isinstance(network, keras.Sequential):
        return None
    entries = network.get_config()["input_layers"]
    if entries and isinstance(entries[0], str):
        entries = [entries]
    names = [entry[0] for entry in entries]
    if len(names) != len(network.inputs):
        return None
    tensors = [
        keras.Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=name)
        for tensor, name in zip(network.inputs, names, strict=True)
    ]
    return keras.tree.pack_sequence_as(network.input, tensors)


def _plain_layer(layer):
    if isinstance(layer, GatedConv2D):
        return keras.layers.Conv2D(
            filters=layer.filters,
            kernel_size=layer.kernel_size,
            strides=layer.strides,
            padding=layer.padding,
            dilation_rate=layer.dilation_rate,
            activation=layer.activation,
            use_bias=layer.use_bias,
            kernel_initializer=layer.kernel_initializer,
            bias_initializer=layer.bias_initializer,
            name=layer.name,
            dtype=layer.dtype_policy,
            trainable=layer.trainable,
        )
    if isinstance(layer, GatedDense):
        return keras.layers.Dense(
            units=layer.units,
            activation=layer.activation,
            use_bias=layer.use_bias,
            kernel_initializer=layer.kernel_initializer,
            bias_initializer=layer.bias_initializer,
            name=layer.name,
            dtype=layer.dtype_policy,
            trainable=layer.trainable,
        )
    raise TypeError(
        "strip() can only replace GatedConv2D and GatedDense layers. "
        f"Received: layer {layer.name!r} of class {type(layer).__name__}"
    )


def _check_not_gnap(layer):
    # A keras_gnap class left in the stripped model would make it unloadable
    # without keras_gnap, which is the point of stripping.
    module = type(layer).__module__ or ""
    if module.split(".")[0] == "keras_gnap" and not isinstance(
        layer, keras.Model
    ):
        raise TypeError(
            "strip() does not know how to replace this keras_gnap layer by "
            f"a plain Keras layer. Received: layer {layer.name!r} of class "
            f"{type(layer).__name__}"
        )


def _copy_weights(source, target, apply_gates):
    for old in source.layers:
        if not old.weights:
            continue
        new = target.get_layer(old.name)
        if isinstance(old, keras.Model):
            _copy_weights(old, new, apply_gates)
        elif isinstance(old, GatedLayer):
            if apply_gates:
                kernel = old.effective_kernel()
            else:
                kernel = old.kernel.numpy()
            new.kernel.assign(kernel)
            if old.use_bias:
                new.bias.assign(old.bias.numpy())
        else:
            new.set_weights([np.asarray(w) for w in old.get_weights()])
