"""Widening a whole network while keeping the function it computes."""

import keras

from keras_gnap.data_parallel import replica_scope
from keras_gnap.growth.gate_reopening import check_reopen_pruned
from keras_gnap.growth.gate_reopening import reopen_gates
from keras_gnap.growth.growth_rule import plan_growth
from keras_gnap.growth.unit_split import SPLIT_NOISE
from keras_gnap.growth.unit_split import check_new_units
from keras_gnap.growth.unit_split import check_seed
from keras_gnap.growth.unit_split import check_split_noise
from keras_gnap.growth.unit_split import split_new_units
from keras_gnap.growth.weight_transfer import transfer_weights
from keras_gnap.models.gnap_model import GNAPModel
from keras_gnap.topology import gated_graph


def grow(
    model,
    growth_factor=0.5,
    widths=None,
    max_width=None,
    new_units="split",
    seed=None,
    split_noise=SPLIT_NOISE,
    reopen_pruned=False,
):
    """Returns a wider copy of `model` that computes the same function.

    Gated layers get more output units (how many follows
    `keras_gnap.growth.plan_growth`, or `widths`), and every layer that
    consumes them (gated layers, batch normalisation) gets matching inputs.
    Existing weights, gates and batch-norm statistics are copied exactly
    (except the outgoing weights of split units, below), and the outputs on
    any batch are unchanged at the moment of growth (unless `split_noise`
    is above 0). New units start one of two ways (`new_units`):

    - `"split"`: each new unit is a copy of a used unit of its layer, the
      most used first, and the copies share that unit's outgoing weights
      with it (see `keras_gnap.growth.unit_split`). With `split_noise`
      above 0, a copy's incoming weights also get a little noise, so that
      it starts as a feature of its own, and its source the opposite
      noise (the outputs then change slightly).
    - `"zero"`: fresh incoming weights and zero outgoing weights. Under a
      sparsity term these units rarely survive: a zero outgoing weight
      gives its gate no task gradient, so pruning closes it before the
      unit has learned anything.

    With `reopen_pruned`, every closed gate of the network opens again
    over a zero weight before the units are split (see
    `keras_gnap.growth.gate_reopening`), so the wider network's pruning
    decides afresh which connections it keeps; the outputs do not change.

    Layer names are kept, so weights can be addressed by name across
    growth. On several devices, the wider network's variables are placed
    as the old ones (see `keras_gnap.data_parallel.replica_scope`).

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model with
            gated layers.
        growth_factor: float. Relative growth of the most open layer, used
            when `widths` is not given. Defaults to 0.5.
        widths: dict. New width for each layer to grow, by layer name;
            overrides the rule. Defaults to `None`.
        max_width: int. Largest width a layer may reach under the rule.
            Defaults to `None`.
        new_units: str. How new units start: `"split"` or `"zero"`.
            Defaults to `"split"`.
        seed: int. Seed of the random shares and noise of `"split"`.
            Defaults to `None` (drawn from NumPy's global generator).
        split_noise: float. Standard deviation of the noise added to a
            split copy's incoming weights, relative to that of its
            source's kept incoming weights. Defaults to 0 (no noise).
        reopen_pruned: bool. Whether closed gates open again over zero
            weights. Defaults to `False`.

    Returns:
        A new model of the same kind (`GNAPModel` for a `GNAPModel`), or
        `model` itself when nothing grows.

    Raises:
        ValueError: if `widths` names a layer that cannot grow or shrinks
            one, `new_units` is not `"split"` or `"zero"`, `seed` is
            not an integer or `None`, or `split_noise` is not a finite
            number >= 0, or `reopen_pruned` is not a bool.

    Example:

    >>> model = keras_gnap.build_gnap((28, 28, 1), classes=10)
    >>> wider = keras_gnap.grow(model, widths={"block1_conv": 12})
    >>> wider.network.get_layer("block1_conv").filters
    12
    """
    check_new_units(new_units)
    check_seed(seed)
    check_split_noise(split_noise)
    check_reopen_pruned(reopen_pruned)
    network = model.network if isinstance(model, GNAPModel) else model
    nodes = gated_graph(network)
    if widths is None:
        widths = plan_growth(network, growth_factor, max_width=max_width)
    widths = _check_widths(widths, nodes)
    if not widths:
        return model

    grown = set()

    def clone_layer(layer):
        node = nodes.get(layer.name)
        if node is not None and (
            layer.name in widths or node.producer in widths
        ):
            grown.add(layer.name)
            return layer.grow(
                width=widths.get(layer.name),
                input_dim=widths.get(node.producer),
            )
        return layer.__class__.from_config(layer.get_config())

    # On several devices the new variables are placed as the old ones.
    with replica_scope(network):
        new_network = keras.models.clone_model(
            network, clone_function=clone_layer
        )
    for old_layer in network.layers:
        if old_layer.weights and old_layer.name not in grown:
            transfer_weights(old_layer, new_network.get_layer(old_layer.name))
    if reopen_pruned:
        reopen_gates(new_network)
    if new_units == "split":
        old_widths = {name: nodes[name].layer.width for name in widths}
        split_new_units(
            new_network, old_widths, seed=seed, split_noise=split_noise
        )
    if isinstance(model, GNAPModel):
        return GNAPModel(
            new_network, augmentation=model.augmentation, name=model.name
        )
    return new_network


def _check_widths(widths, nodes):
    if not isinstance(widths, dict):
        raise ValueError(
            "Argument `widths` must be a dict from layer name to width. "
            f"Received: widths={widths!r}"
        )
    checked = {}
    for name, width in widths.items():
        node = nodes.get(name)
        if node is None or not node.growable:
            growable = sorted(n for n, node in nodes.items() if node.growable)
            raise ValueError(
                f"Layer '{name}' cannot grow: only gated layers whose units "
                "feed other gated layers through channel-wise layers can. "
                f"Growable layers: {growable}. Received: widths={widths!r}"
            )
        current = node.layer.width
        if not isinstance(width, int) or isinstance(width, bool):
            raise ValueError(
                f"The width of layer '{name}' must be an integer. "
                f"Received: widths={widths!r}"
            )
        if width < current:
            raise ValueError(
                f"Layer '{name}' has width {current} and cannot shrink. "
                f"Received: widths={widths!r}"
            )
        if width > current:
            checked[name] = width
    return checked
