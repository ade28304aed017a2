"""How much each layer grows: the widths of the next growth step."""

import math

import numpy as np

from keras_gnap.topology import gated_graph

# A layer whose share of open gates is below this fraction of the most open
# layer's share is left alone: pruning shows it does not use what it has.
MIN_RELATIVE_OPENNESS = 0.5


def check_growth_arguments(growth_factor, max_width):
    """Raises a ValueError unless the growth rule's arguments are valid."""
    if (
        not isinstance(growth_factor, (int, float))
        or isinstance(growth_factor, bool)
        or growth_factor <= 0
    ):
        raise ValueError(
            "Argument `growth_factor` must be a positive number. "
            f"Received: growth_factor={growth_factor!r}"
        )
    if max_width is not None and (
        not isinstance(max_width, int)
        or isinstance(max_width, bool)
        or max_width <= 0
    ):
        raise ValueError(
            "Argument `max_width` must be a positive integer or None. "
            f"Received: max_width={max_width!r}"
        )


def plan_growth(network, growth_factor=0.5, max_width=None):
    """Returns the new width of every layer that should grow.

    The rule: let `f` be a layer's fraction of open gates (of weights
    whose unit its consumers still read, when they have unit gates:
    a closed unit gate downstream cuts the unit) and `f_max` the
    largest `f` among the layers that can grow (every gated layer except
    those whose units are model outputs or feed a layer that mixes
    channels). A layer with `f >= 0.5 * f_max` grows by
    `ceil(growth_factor * width * f / f_max)` units; the others keep their
    width. So the layers whose gates stay open, where pruning shows the
    capacity is used, grow most, and heavily pruned ones not at all.
    Widths are capped at `max_width`.

    Args:
        network: a built Functional or Sequential model with gated layers.
        growth_factor: float. Relative growth of the most open layer, e.g.
            0.5 for +50%. Defaults to 0.5.
        max_width: int. Largest width a layer may reach, or `None` for no
            cap. Defaults to `None`.

    Returns:
        A dict from layer name to new width, holding only the layers that
        grow; empty when nothing can grow.

    Raises:
        ValueError: if `growth_factor` is not positive or `max_width` is
            not a positive integer.
    """
    check_growth_arguments(growth_factor, max_width)
    nodes = gated_graph(network)
    growable = [node for node in nodes.values() if node.growable]
    openness = {node.layer.name: _openness(node, nodes) for node in growable}
    most_open = max(openness.values(), default=0.0)
    if most_open <= 0:
        return {}
    widths = {}
    for node in growable:
        layer = node.layer
        relative = openness[layer.name] / most_open
        if relative < MIN_RELATIVE_OPENNESS:
            continue
        new_width = layer.width + math.ceil(
            growth_factor * layer.width * relative
        )
        if max_width is not None:
            new_width = min(new_width, max_width)
        if new_width > layer.width:
            widths[layer.name] = new_width
    return widths


def _openness(node, nodes):
    """Returns the share of the layer's kernel behind open gates that count.

    A weight counts when its own gates are open and, when every consumer
    has unit gates, when some consumer still reads its unit.
    """
    consumers = [nodes[name].layer for name in node.consumers]
    if not consumers or any(c.unit_gate is None for c in consumers):
        return node.layer.open_fraction()
    read = np.zeros(node.layer.width, dtype=bool)
    for consumer in consumers:
        mask = consumer.kernel_mask()
        read |= mask.reshape(-1, *mask.shape[-2:]).any(axis=(0, 2))
    return float((node.layer.kernel_mask() & read).mean())
