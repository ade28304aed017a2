"""How the gated layers of a network feed each other.

Growth, counting and export need to know, for every gated layer, which
gated layer produces its input channels, which gated layers consume its
output units, and whether a batch normalisation follows it. This module
reads that from the network's functional config (a public, stable format),
looking through layers that treat channels independently.
"""

import dataclasses

import keras

from keras_gnap.layers.gated_layer import GatedLayer

# Layers that map channel c of their input to channel c of their output
# alone: a unit added or removed upstream just adds or removes a channel.
CHANNELWISE_LAYERS = (
    keras.layers.BatchNormalization,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.MaxPooling2D,
    keras.layers.AveragePooling2D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.Dropout,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.ZeroPadding2D,
    keras.layers.Cropping2D,
    keras.layers.Identity,
)


@dataclasses.dataclass
class GatedNode:
    """Where one gated layer sits among the others.

    Attributes:
        layer: the gated layer.
        producer: name of the gated layer whose units are this layer's input
            channels, or None when the input comes from the model's input
            (or from a layer that is not channel-wise).
        consumers: names of the gated layers that take this layer's units
            as their input channels.
        batch_norm: the BatchNormalization layer applied directly to this
            layer's output, or None.
        path: the channel-wise layers between this layer and its
            consumers (or the model output), in graph order.
        feeds_output: True when this layer's units reach a model output.
        blocked: True when a layer that mixes or reshapes channels (Flatten,
            Add, Concatenate, a plain Dense, ...) consumes this layer's
            units, so they cannot be added or removed one by one.
    """

    layer: GatedLayer
    producer: str = None
    consumers: list = dataclasses.field(default_factory=list)
    batch_norm: keras.layers.BatchNormalization = None
    path: list = dataclasses.field(default_factory=list)
    feeds_output: bool = False
    blocked: bool = False

    @property
    def growable(self):
        """True when units can be appended without changing the outputs."""
        return not (self.feeds_output or self.blocked)


def gated_widths(network):
    """Returns the width of each gated layer of `network`.

    Args:
        network: a built Functional or Sequential Keras model.

    Returns:
        A dict from gated layer name to its number of units, in the
        network's layer order.
    """
    return {
        layer.name: layer.width
        for layer in network.layers
        if isinstance(layer, GatedLayer)
    }


def gated_graph(network):
    """Returns the gated layers of `network` and how they connect.

    Args:
        network: a built Functional or Sequential Keras model.

    Returns:
        A dict from layer name to `GatedNode`, in the network's layer
        order.

    Raises:
        TypeError: if `network` is not a Functional or Sequential model.
    """
    predecessors, outputs = _layer_graph(network)
    layers = {layer.name: layer for layer in network.layers}
    successors = {name: [] for name in layers}
    for name, preds in predecessors.items():
        for pred in preds:
            successors[pred].append(name)

    nodes = {
        name: GatedNode(layer=layer)
        for name, layer in layers.items()
        if isinstance(layer, GatedLayer)
    }
    for name, node in nodes.items():
        pending = list(successors[name])
        if name in outputs:
            node.feeds_output = True
        first = successors[name]
        if len(first) == 1 and isinstance(
            layers[first[0]], keras.layers.BatchNormalization
        ):
            node.batch_norm = layers[first[0]]
        seen = set()
        while pending:
            succ = pending.pop(0)
            if succ in seen:
                continue
            seen.add(succ)
            layer = layers[succ]
            if isinstance(layer, GatedLayer):
                if len(predecessors[succ]) == 1:
                    node.consumers.append(succ)
                    nodes[succ].producer = name
                else:
                    node.blocked = True
            elif (
                isinstance(layer, CHANNELWISE_LAYERS)
                and len(predecessors[succ]) == 1
            ):
                if succ in outputs:
                    node.feeds_output = True
                node.path.append(layer)
                pending.extend(successors[succ])
            else:
                node.blocked = True
    return nodes


@dataclasses.dataclass(frozen=True)
class LayerGraph:
    """Which layer feeds which, read from a network's functional config.

    Attributes:
        sources: dict from layer name to the names of the layers whose
            outputs it takes, in call order, repeats included.
        calls: dict from layer name to how many times it is called.
        inputs: names of the input layers.
        outputs: names of the layers that produce the model outputs.
    """

    sources: dict
    calls: dict
    inputs: list
    outputs: list


def layer_graph(network):
    """Returns the `LayerGraph` of a Functional or Sequential model.

    Args:
        network: a built Functional or Sequential Keras model.

    Returns:
        A `LayerGraph`.

    Raises:
        TypeError: if `network` is not a Functional or Sequential model.
    """
    if isinstance(network, keras.Sequential):
        names = [layer.name for layer in network.layers]
        return LayerGraph(
            sources={
                name: ([names[i - 1]] if i else [])
                for i, name in enumerate(names)
            },
            calls={name: 1 for name in names},
            inputs=[],
            outputs=names[-1:],
        )
    if not isinstance(network, keras.Model) or not hasattr(
        network, "operations"
    ):
        raise TypeError(
            "Expected a Functional or Sequential Keras model. "
            f"Received: network={network!r}"
        )
    config = network.get_config()
    if "layers" not in config or "output_layers" not in config:
        raise TypeError(
            "Expected a Functional or Sequential Keras model, not a "
            f"subclassed one. Received: network={network.name!r} of type "
            f"{type(network).__name__}"
        )
    sources, calls = {}, {}
    for layer_config in config["layers"]:
        nodes = layer_config.get("inbound_nodes", [])
        found = []
        _collect_history(nodes, found)
        sources[layer_config["name"]] = found
        calls[layer_config["name"]] = len(nodes)
    return LayerGraph(
        sources=sources,
        calls=calls,
        inputs=[entry[0] for entry in _entries(config["input_layers"])],
        outputs=[entry[0] for entry in _entries(config["output_layers"])],
    )


def _layer_graph(network):
    """Returns ({layer name: predecessor names}, set of output layer names)."""
    graph = layer_graph(network)
    predecessors = {
        name: list(dict.fromkeys(found))
        for name, found in graph.sources.items()
    }
    return predecessors, set(graph.outputs)


def _collect_history(obj, found):
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            found.append(obj["config"]["keras_history"][0])
            return
        for value in obj.values():
            _collect_history(value, found)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _collect_history(value, found)


def _entries(tensors):
    # One tensor is stored as [name, node, tensor], several as a list of
    # those (or a dict of them, for named inputs and outputs).
    if isinstance(tensors, dict):
        tensors = list(tensors.values())
    if tensors and isinstance(tensors[0], str):
        return [tensors]
    entries = []
    for entry in tensors:
        entries.extend(_entries(entry))
    return entries
