"""Counting the parameters a pruned network really needs."""

import dataclasses

import keras
import numpy as np

from keras_gnap.layers.gated_conv2d import GatedConv2D
from keras_gnap.models.gnap_model import GNAPModel
from keras_gnap.topology import gated_graph

# Layers that map a constant map to the same constant, whatever its shape.
SPATIAL_CONSTANT_LAYERS = (
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.SpatialDropout2D,
)
# Layers among those that leave one value per channel.
GLOBAL_POOLING_LAYERS = (
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
)
# Layers that turn a constant map into a non-constant one.
BREAKS_CONSTANTS = (keras.layers.ZeroPadding2D, keras.layers.Cropping2D)


@dataclasses.dataclass(frozen=True)
class LayerCount:
    """Parameter figures of one layer.

    Attributes:
        name: layer name.
        class_name: layer class name.
        kernel_shape: shape of the kernel, or None for a layer without one.
        weights: number of kernel entries (0 for a layer without kernel).
        active_weights: kernel entries that are non-zero after gating.
        units: number of output units (filters or units).
        live_units: units that take part in the output (see
            `live_units`).
        dense_params: the layer's parameters as plain Keras counts them
            once the gates are removed (kernel, bias, batch-norm
            statistics).
        effective_params: what the exported inference model needs for
            this layer (see `count_params`).
    """

    name: str
    class_name: str
    kernel_shape: tuple
    weights: int
    active_weights: int
    units: int
    live_units: int
    dense_params: int
    effective_params: int


def live_units(network, nodes=None):
    """Returns which output units of each gated layer are live.

    A unit is live when it has at least one non-zero effective weight from
    a live input channel and, unless its layer feeds a model output or a
    layer that mixes channels, at least one non-zero effective weight to a
    live unit of a consuming gated layer. Units of output layers are always
    live. A unit with no live input outputs a constant (its bias or
    batch-norm shift through its activation): dead if that constant is 0,
    and dead too where it folds exactly into the biases of its consumers
    (dense layers, unpadded or 1x1 convolutions); before a zero-padded
    convolution it does not fold (padding replaces it at the borders), so
    there such a unit is live if it has a weight to a live unit.

    Args:
        network: a built Functional or Sequential model.
        nodes: the result of `keras_gnap.topology.gated_graph(network)`,
            when already computed. Defaults to `None`.

    Returns:
        A dict from gated layer name to a boolean NumPy array of its
        output units.
    """
    nodes = gated_graph(network) if nodes is None else nodes
    # connections[name][i, j]: a non-zero weight links input i to unit j.
    connections = {}
    for name, node in nodes.items():
        kernel = node.layer.effective_kernel()
        connections[name] = (
            (kernel != 0).reshape(-1, *kernel.shape[-2:]).any(axis=0)
        )
    live = {
        name: np.ones(connections[name].shape[1], dtype=bool) for name in nodes
    }
    constants = {name: _constant_outputs(node) for name, node in nodes.items()}
    changed = True
    while changed:
        changed = False
        for name, node in nodes.items():
            if node.feeds_output:
                continue
            inputs = _live_inputs(name, nodes, live, connections)
            has_input = connections[name][inputs, :].any(axis=0)
            has_output = np.ones_like(has_input)
            if node.consumers and not node.blocked:
                has_output = np.zeros_like(has_input)
                nonzero = constants[name] != 0
                for consumer in node.consumers:
                    used = connections[consumer][:, live[consumer]].any(axis=1)
                    has_output |= used
                    if not _folds_constants(nodes[consumer].layer):
                        has_input |= used & nonzero
            updated = live[name] & has_input & has_output
            if not np.array_equal(updated, live[name]):
                live[name] = updated
                changed = True
    return live


def layer_counts(model):
    """Returns a `LayerCount` for every layer that has parameters.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.

    Returns:
        A list of `LayerCount`, in the network's layer order.
    """
    network = _network(model)
    nodes = gated_graph(network)
    live = live_units(network, nodes)
    # Batch normalisation right after a gated layer: folded into it when
    # nothing non-linear comes between them, else kept for the live units.
    after = {
        id(node.batch_norm): node for node in nodes.values() if node.batch_norm
    }
    counts = []
    for layer in network.layers:
        dense = sum(
            int(np.prod(w.shape)) for w in layer.weights if not _is_gate(w)
        )
        if layer.name in nodes:
            counts.append(_gated_count(nodes[layer.name], nodes, live, dense))
        elif dense:
            if isinstance(layer, keras.layers.BatchNormalization):
                # Inference needs a scale and a shift per channel; folded
                # into the preceding gated layer, not even those.
                node = after.get(id(layer))
                if node is None:
                    effective = 2 * int(layer.weights[0].shape[0])
                elif _folds_batch_norm(node):
                    effective = 0
                else:
                    effective = 2 * int(live[node.layer.name].sum())
            else:
                effective = dense
            counts.append(
                LayerCount(
                    name=layer.name,
                    class_name=type(layer).__name__,
                    kernel_shape=None,
                    weights=0,
                    active_weights=0,
                    units=0,
                    live_units=0,
                    dense_params=dense,
                    effective_params=effective,
                )
            )
    return counts


def count_params(model):
    """Returns the effective number of parameters of a pruned network.

    Effective parameters are what the exported inference model needs:
    the non-zero entries of each gated kernel (after gating) between live
    input channels and live units, plus one bias per live unit for layers
    that have a bias or a batch normalisation right after them (batch
    normalisation is folded into the preceding layer, so it adds nothing
    more). Gate scores are not counted: they only exist for training. A
    batch normalisation that cannot be folded counts a scale and a shift
    per channel, and any other layer counts all its Keras parameters. See
    `live_units` for which units are live.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.

    Returns:
        An int.

    Example:

    >>> model = keras_gnap.build_gnap((28, 28, 1), classes=10)
    >>> keras_gnap.count_params(model) <= dense_params(model)
    True
    """
    return sum(count.effective_params for count in layer_counts(model))


def dense_params(model):
    """Returns the parameter count of the network with its gates removed.

    This is what `model.count_params()` would give for the same network
    built from plain Keras layers: every kernel entry, bias and
    batch-normalisation statistic, pruned or not, and no gate scores.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.

    Returns:
        An int.
    """
    return sum(
        int(np.prod(w.shape))
        for w in _network(model).weights
        if not _is_gate(w)
    )


def _gated_count(node, nodes, live, dense):
    layer = node.layer
    kernel = layer.effective_kernel()
    live_out = live[layer.name]
    live_in = _live_inputs(layer.name, nodes, live, None, kernel.shape[-2])
    used = kernel[..., live_in, :][..., live_out]
    has_bias = layer.use_bias or _folds_batch_norm(node)
    effective = int(np.count_nonzero(used))
    if has_bias:
        effective += int(live_out.sum())
    return LayerCount(
        name=layer.name,
        class_name=type(layer).__name__,
        kernel_shape=tuple(kernel.shape),
        weights=int(kernel.size),
        active_weights=int(np.count_nonzero(kernel)),
        units=int(kernel.shape[-1]),
        live_units=int(live_out.sum()),
        dense_params=dense,
        effective_params=effective,
    )


def _live_inputs(name, nodes, live, connections, input_dim=None):
    producer = nodes[name].producer
    if producer is not None:
        return live[producer]
    if input_dim is None:
        input_dim = connections[name].shape[0]
    return np.ones(input_dim, dtype=bool)


def _constant_outputs(node):
    """Returns what each unit of `node` outputs when it gets no input.

    That is its bias (or 0) through its activation and the channel-wise
    layers before its consumers, in inference mode; NaN where a layer does
    not keep a constant map constant (padding, cropping).
    """
    layer = node.layer
    width = layer.width
    value = layer.bias.numpy() if layer.use_bias else np.zeros(width)
    value = keras.ops.convert_to_numpy(layer.activation(value[None]))
    # A 1x1 map is what channel-wise layers after a convolution expect,
    # and all a constant map needs; after a dense layer, one vector.
    shape = (1, 1, 1, width) if isinstance(layer, GatedConv2D) else (1, width)
    for step in node.path:
        if isinstance(step, GLOBAL_POOLING_LAYERS):
            shape = (1, width)
        if isinstance(step, SPATIAL_CONSTANT_LAYERS):
            continue  # a constant map pools to the same constant
        if isinstance(step, BREAKS_CONSTANTS):
            return np.full(width, np.nan)
        value = value.reshape(shape)
        value = keras.ops.convert_to_numpy(step(value, training=False))
    return value.reshape(width)


def _folds_batch_norm(node):
    """Whether `node`'s batch normalisation folds into it: it follows the
    layer directly, with nothing non-linear between (a linear
    activation), as `keras_gnap.compact` folds it."""
    activation = getattr(node.layer.activation, "__name__", "")
    return node.batch_norm is not None and activation == "linear"


def _folds_constants(layer):
    """Whether a constant input channel folds exactly into the bias."""
    if not isinstance(layer, GatedConv2D):
        return True
    windows = [
        (k - 1) * d + 1
        for k, d in zip(layer.kernel_size, layer.dilation_rate, strict=True)
    ]
    return layer.padding == "valid" or windows == [1, 1]


def _is_gate(variable):
    return variable.path.split("/")[-1] in ("gate", "unit_gate")


def _network(model):
    return model.network if isinstance(model, GNAPModel) else model
