"""Removing dead units for good, and folding batch normalisation."""

import keras
import numpy as np

from keras_gnap.export.batch_norm_folding import batch_norm_affine
from keras_gnap.export.batch_norm_folding import can_fold
from keras_gnap.export.batch_norm_folding import fold_batch_norm
from keras_gnap.export.strip import strip
from keras_gnap.topology import layer_graph

# Layers that act on each value alone: a constant channel stays constant
# (with a new value) and channels can be removed around them.
ELEMENTWISE_LAYERS = (
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.Dropout,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.Identity,
)
# Layers that move values within a channel: a constant channel keeps its
# value (max/average pooling of a constant map is that constant).
SPATIAL_LAYERS = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Cropping2D,
    keras.layers.SpatialDropout2D,
)
# Activations that mix the values of a tensor: no channel may be removed
# from what they see, and no value is known to be constant.
MIXING_ACTIVATIONS = ("softmax", "log_softmax")


def compact(model):
    """Returns a smaller plain Keras model without the dead units.

    The model is first stripped (see `keras_gnap.strip`). Then:

    - Batch normalisation right after a convolution or dense layer with
      no activation is folded into that layer's kernel and bias (exact at
      inference, where batch normalisation is a fixed affine map).
    - A unit is removed, with its incoming weights, the matching input
      slice of the consuming layer and its batch-norm entries, when the
      outputs do not depend on it: it has no non-zero weight to a kept
      unit of the consuming layer (this covers closed channel gates and
      units that are not live, see `keras_gnap.reports.live_units`), or
      it outputs a constant that folds exactly into the consumer's bias.
      A unit with no incoming weight outputs a constant (its bias or
      batch-norm shift, through its activation); that constant folds into
      a dense consumer or a convolution without padding, but not into a
      `"same"`-padded convolution (the padding zeros make the border
      differ), where such a unit is kept unless its constant is 0.

    The result computes the same function as `model` in inference mode, up
    to float rounding. Units of the output layer and input channels are
    never removed. Unstructured zeros inside kept units stay (as zeros).

    Supported: one input, one output, and a chain of `Conv2D` (or
    `GatedConv2D`, channels last, `groups=1`), `Dense` (or `GatedDense`),
    `BatchNormalization` (last axis), element-wise layers (`Activation`,
    `ReLU`, `LeakyReLU`, `ELU`, dropout and noise layers, `Identity`,
    `Softmax`), 2D pooling, `ZeroPadding2D`, `Cropping2D` and `Flatten`.
    Activations other than softmax are assumed to act value by value.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.

    Returns:
        A new plain Functional model with the same name, input and output
        shapes, and layer names (folded batch normalisations are gone).

    Raises:
        TypeError: if `model` is not a Functional, Sequential or
            `GNAPModel`.
        ValueError: if a layer is not supported, naming it and its class,
            or the layers do not form a chain (e.g. `Add`, `Concatenate`).

    Example:

    >>> model = keras_gnap.build_gnap((28, 28, 1), classes=10)
    >>> small = keras_gnap.compact(model)
    >>> small.count_params() <= keras_gnap.reports.dense_params(model)
    True
    """
    stripped = strip(model)
    layers = _chain(stripped)
    ops = _ops(layers)
    segments = _segments(ops, stripped.inputs[0].shape[-1])
    _propagate_constants(segments)
    _choose_channels(segments)
    return _build(stripped, segments)


class _Op:
    """One layer of the chain with what compaction needs to know of it."""

    def __init__(self, layer, kind):
        self.layer = layer
        # "linear", "batch_norm", "elementwise", "spatial", "zero_padding",
        # "softmax" or "flatten".
        self.kind = kind
        # Linear ops: float64 kernel and bias, batch norm folded in.
        self.kernel = None
        self.bias = None
        self.use_bias = False
        self.activation = None
        self.exact_constants = False
        self.folded_batch_norm = None
        self.folded_constants = False
        # Batch norm ops: the inference affine map.
        self.scale = None
        self.shift = None


class _Segment:
    """The channels between two linear layers (or the input / output).

    `producer` is the linear op whose units are the channels (None for the
    model input), `ops` the channel-wise layers they go through, and
    `consumer` the linear op that takes them (None for the model output).
    """

    def __init__(self, producer, channels):
        self.producer = producer
        self.channels = channels
        self.ops = []
        self.consumer = None
        # Channels are the model's input or output, or seen by a softmax.
        self.fixed = producer is None
        # Values per channel where the consumer sees them.
        self.is_constant = None
        self.constant = None
        self.keep = None


def _chain(model):
    """Returns the layers of `model` after its input, as a checked chain."""
    graph = layer_graph(model)
    layers = {layer.name: layer for layer in model.layers}
    for layer in model.layers:
        _check_supported(layer)
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ValueError(
            "compact() supports models with exactly one input and one "
            f"output. Received: model={model.name!r} with inputs "
            f"{graph.inputs} and outputs {graph.outputs}"
        )
    successors = {name: [] for name in graph.sources}
    for name, sources in graph.sources.items():
        if graph.calls[name] > 1 or len(sources) > 1:
            layer = layers[name]
            raise ValueError(
                "compact() supports a chain of layers, each applied once to "
                f"one input. Received: layer {name!r} of class "
                f"{type(layer).__name__} with {len(sources)} inputs"
            )
        for source in sources:
            successors[source].append(name)
    chain = []
    name = graph.inputs[0]
    while successors[name]:
        if len(successors[name]) > 1:
            raise ValueError(
                "compact() supports a chain of layers, each output used "
                f"once. Received: layer {name!r} of class "
                f"{type(layers[name]).__name__} feeding "
                f"{successors[name]}"
            )
        name = successors[name][0]
        chain.append(layers[name])
    return chain


def _check_supported(layer):
    supported = isinstance(
        layer,
        (
            keras.layers.InputLayer,
            keras.layers.Conv2D,
            keras.layers.Dense,
            keras.layers.BatchNormalization,
            keras.layers.ZeroPadding2D,
            keras.layers.Flatten,
            keras.layers.Softmax,
            *ELEMENTWISE_LAYERS,
            *SPATIAL_LAYERS,
        ),
    ) and not isinstance(layer, keras.Model)
    # Subclasses of Conv2D such as Conv2DTranspose lay out their kernel
    # differently.
    if isinstance(layer, keras.layers.Conv2D):
        supported = type(layer) is keras.layers.Conv2D
    if not supported:
        raise ValueError(
            "compact() cannot handle this layer. Supported layers: Conv2D, "
            "Dense, BatchNormalization, element-wise activations, dropout "
            "and noise, 2D pooling, padding, cropping and Flatten, in a "
            f"chain. Received: layer {layer.name!r} of class "
            f"{type(layer).__name__}"
        )
    data_format = getattr(layer, "data_format", "channels_last")
    if data_format != "channels_last":
        raise ValueError(
            "compact() supports channels-last layers only. Received: layer "
            f"{layer.name!r} of class {type(layer).__name__} with "
            f"data_format={data_format!r}"
        )
    if isinstance(layer, keras.layers.Conv2D) and layer.groups != 1:
        raise ValueError(
            "compact() supports convolutions with groups=1 only. Received: "
            f"layer {layer.name!r} of class Conv2D with "
            f"groups={layer.groups}"
        )
    if isinstance(layer, keras.layers.BatchNormalization):
        rank = len(layer.input.shape)
        if layer.axis not in (-1, rank - 1):
            raise ValueError(
                "compact() supports batch normalisation over the last axis "
                f"only. Received: layer {layer.name!r} of class "
                f"BatchNormalization with axis={layer.axis}"
            )
    if isinstance(layer, keras.layers.Softmax) and layer.axis not in (
        -1,
        len(layer.input.shape) - 1,
    ):
        raise ValueError(
            "compact() supports softmax over the last axis only. Received: "
            f"layer {layer.name!r} of class Softmax with axis={layer.axis}"
        )


def _ops(layers):
    ops = []
    for layer in layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            op = _Op(layer, "linear")
            op.kernel = layer.kernel.numpy().astype(np.float64)
            if layer.use_bias:
                op.bias = layer.bias.numpy().astype(np.float64)
            else:
                op.bias = np.zeros(op.kernel.shape[-1])
            op.use_bias = layer.use_bias
            op.activation = layer.activation
            op.exact_constants = _folds_constants(layer)
            ops.append(op)
        elif isinstance(layer, keras.layers.BatchNormalization):
            if ops and ops[-1].kind == "linear" and can_fold(ops[-1]):
                fold_batch_norm(ops[-1], layer)
                continue
            op = _Op(layer, "batch_norm")
            op.scale, op.shift = batch_norm_affine(layer)
            ops.append(op)
        elif isinstance(layer, keras.layers.Softmax) or (
            isinstance(layer, keras.layers.Activation)
            and _name(layer.activation) in MIXING_ACTIVATIONS
        ):
            ops.append(_Op(layer, "softmax"))
        elif isinstance(layer, ELEMENTWISE_LAYERS):
            ops.append(_Op(layer, "elementwise"))
        elif isinstance(layer, SPATIAL_LAYERS):
            ops.append(_Op(layer, "spatial"))
        elif isinstance(layer, keras.layers.ZeroPadding2D):
            ops.append(_Op(layer, "zero_padding"))
        elif isinstance(layer, keras.layers.Flatten):
            ops.append(_Op(layer, "flatten"))
    return ops


def _folds_constants(layer):
    """Whether a constant input channel folds exactly into the bias."""
    if isinstance(layer, keras.layers.Dense):
        return True
    window = [
        (k - 1) * d + 1
        for k, d in zip(layer.kernel_size, layer.dilation_rate, strict=True)
    ]
    # Padding zeros would replace the constant at the borders.
    return layer.padding == "valid" or window == [1, 1]


def _segments(ops, input_channels):
    segments = [_Segment(None, input_channels)]
    for op in ops:
        segment = segments[-1]
        if op.kind == "linear":
            segment.consumer = op
            segments.append(_Segment(op, op.kernel.shape[-1]))
            if _name(op.activation) in MIXING_ACTIVATIONS:
                segments[-1].fixed = True
            continue
        if op.kind == "softmax":
            segment.fixed = True
        if op.kind == "batch_norm" and any(
            o.kind == "flatten" for o in segment.ops
        ):
            raise ValueError(
                "compact() cannot handle batch normalisation after Flatten "
                "(it would mix positions and channels). Received: layer "
                f"{op.layer.name!r} of class BatchNormalization"
            )
        segment.ops.append(op)
    segments[-1].fixed = True
    return segments


def _propagate_constants(segments):
    """Finds, channel by channel, which values are the same for any input.

    A unit is constant when every non-zero weight comes from a constant
    channel and each of those constants folds exactly (no padding, or a
    constant of 0); its value is then known and goes through the
    element-wise layers after it.
    """
    is_constant = np.zeros(segments[0].channels, dtype=bool)
    constant = np.zeros(segments[0].channels)
    for segment in segments:
        if segment.producer is not None:
            is_constant, constant = _linear_constants(
                segment.producer, is_constant, constant
            )
        for op in segment.ops:
            if op.kind == "elementwise":
                constant = _apply(op.layer, constant)
            elif op.kind == "batch_norm":
                constant = constant * op.scale + op.shift
            elif op.kind == "zero_padding":
                is_constant = is_constant & (constant == 0)
            elif op.kind == "softmax":
                is_constant = np.zeros_like(is_constant)
        constant = np.where(is_constant, constant, 0.0)
        segment.is_constant = is_constant
        segment.constant = constant


def _linear_constants(op, is_constant, constant):
    kernel = _per_channel(op.kernel, len(is_constant))
    nonzero = (kernel != 0).any(axis=0)
    blocking = ~is_constant
    if not op.exact_constants:
        blocking = blocking | (constant != 0)
    out_constant = ~(nonzero & blocking[:, None]).any(axis=0)
    value = op.bias + np.where(is_constant, constant, 0.0) @ kernel.sum(0)
    if _name(op.activation) in MIXING_ACTIVATIONS:
        return np.zeros_like(out_constant), np.zeros_like(value)
    return out_constant, _apply(op.activation, value)


def _choose_channels(segments):
    """Decides which channels to keep, from the output back to the input.

    A channel is dropped when the consumer's kept units do not use it, or
    when it is constant and folds exactly into the consumer's bias.
    """
    segments[-1].keep = np.ones(segments[-1].channels, dtype=bool)
    for index in range(len(segments) - 2, -1, -1):
        segment = segments[index]
        consumer = segment.consumer
        kept_out = segments[index + 1].keep
        kernel = _per_channel(consumer.kernel, segment.channels)
        used = (kernel[:, :, kept_out] != 0).any(axis=(0, 2))
        if segment.fixed:
            segment.keep = np.ones(segment.channels, dtype=bool)
            continue
        foldable = segment.is_constant & (
            consumer.exact_constants | (segment.constant == 0)
        )
        keep = used & ~foldable
        if not keep.any():
            # Keras has no zero-width layer: keep one channel, unchanged.
            keep[int(np.argmax(used))] = True
        fold = used & ~keep
        consumer.bias = (
            consumer.bias + segment.constant[fold] @ kernel.sum(0)[fold]
        )
        consumer.folded_constants = bool(fold.any())
        segment.keep = keep


def _build(stripped, segments):
    input_tensor = stripped.inputs[0]
    inputs = keras.Input(
        shape=input_tensor.shape[1:],
        dtype=input_tensor.dtype,
        name=layer_graph(stripped).inputs[0],
    )
    x = inputs
    for index, segment in enumerate(segments):
        if segment.producer is not None:
            keep_in = segments[index - 1].keep
            x = _build_linear(segment.producer, keep_in, segment.keep, x)
        for op in segment.ops:
            if op.kind == "batch_norm":
                layer = op.layer.__class__.from_config(op.layer.get_config())
                x = layer(x)
                layer.set_weights(
                    [w[segment.keep] for w in op.layer.get_weights()]
                )
            else:
                layer = op.layer.__class__.from_config(op.layer.get_config())
                x = layer(x)
    return keras.Model(inputs, x, name=stripped.name)


def _build_linear(op, keep_in, keep_out, x):
    layer = op.layer
    kernel = _per_channel(op.kernel, len(keep_in))[:, keep_in][..., keep_out]
    if isinstance(layer, keras.layers.Conv2D):
        kernel = kernel.reshape(
            *layer.kernel_size, int(keep_in.sum()), int(keep_out.sum())
        )
    else:
        kernel = kernel.reshape(-1, int(keep_out.sum()))
    bias = op.bias[keep_out]
    use_bias = bool(
        op.use_bias or op.folded_batch_norm is not None or op.folded_constants
    )
    config = layer.get_config()
    config["filters" if "filters" in config else "units"] = int(keep_out.sum())
    config["use_bias"] = use_bias
    new_layer = layer.__class__.from_config(config)
    x = new_layer(x)
    dtype = layer.kernel.numpy().dtype
    new_layer.kernel.assign(kernel.astype(dtype))
    if use_bias:
        new_layer.bias.assign(bias.astype(dtype))
    return x


def _per_channel(kernel, channels):
    """Returns `kernel` as (positions, input channels, units).

    A dense layer after `Flatten` sees each channel at several positions;
    `Flatten` puts the channel last, so its rows group by position.
    """
    return kernel.reshape(-1, channels, kernel.shape[-1])


def _apply(activation, values):
    if activation is None:
        return values
    result = activation(values[None].astype(np.float32))
    return keras.ops.convert_to_numpy(result)[0].astype(np.float64)


def _name(activation):
    return getattr(activation, "__name__", "")
