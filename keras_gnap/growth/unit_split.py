"""Starting new units as splits of the most used existing units.

A new unit with zero outgoing weights gives its outgoing gates no task
gradient (the gate's gradient is the weight times the upstream gradient), so
the sparsity term alone moves them and closes them, and the unit dies before
it has learned anything. Splitting an existing unit (Net2Net's "wider"
step: the copies get its incoming weights, and its outgoing weights are
shared among them) keeps the function too, but every part starts in use.
Each outgoing weight is shared in its own random proportions, but that
alone does not make the copies different features: they keep the same
incoming weights and receive nearly the same gradient, and in trained
networks many of them stay near duplicates, which spend parameters on
a feature their source already computes. So, as Net2Net suggests, a
copy's incoming weights can also get a little noise (`split_noise`, off
by default), which changes the function slightly at growth. The source
takes the opposite noise of its first copy, so the two move apart from
where the source was, and the pair's mean incoming weights stay the
source's.
"""

import keras
import numpy as np

from keras_gnap.topology import gated_graph

NEW_UNITS = ("split", "zero")

# Range of the share of an outgoing weight a copy takes when a unit is split
# in two: far enough from 0 and 1 that both keep a real part of the unit's
# output. A unit split into more parts shares its weights stick by stick,
# each copy taking this range scaled to an equal expected part.
SHARE_RANGE = (0.25, 0.75)

# Default spread of the Gaussian noise added to a copy's incoming weights,
# relative to the spread of its source's kept incoming weights: none, so
# growth keeps the function exactly (`docs/experiments.md` records what
# noise did on Fashion-MNIST).
SPLIT_NOISE = 0.0


def check_new_units(new_units):
    """Raises a ValueError unless `new_units` names a known start."""
    if new_units not in NEW_UNITS:
        raise ValueError(
            f"Argument `new_units` must be one of {NEW_UNITS}. "
            f"Received: new_units={new_units!r}"
        )


def check_seed(seed):
    """Raises a ValueError unless `seed` is an integer or `None`."""
    if seed is not None and (
        not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)
    ):
        raise ValueError(
            "Argument `seed` must be an integer or None. "
            f"Received: seed={seed!r}"
        )


def check_split_noise(split_noise):
    """Raises a ValueError unless `split_noise` is a finite number >= 0."""
    if (
        isinstance(split_noise, bool)
        or not isinstance(split_noise, (int, float, np.integer, np.floating))
        or not 0 <= split_noise < np.inf
    ):
        raise ValueError(
            "Argument `split_noise` must be a finite number >= 0. "
            f"Received: split_noise={split_noise!r}"
        )


def unit_usage(layer, consumers, width=None):
    """Returns how much each unit of a gated layer is used.

    A unit's usage is its number of kept incoming weights times its number
    of kept outgoing weights (in every consumer), so a unit pruned on
    either side counts 0.

    Args:
        layer: a built gated layer.
        consumers: the gated layers that take `layer`'s units as inputs.
        width: int. Count only the first `width` units. Defaults to all.

    Returns:
        A NumPy integer array with one entry per counted unit.
    """
    width = layer.width if width is None else width
    incoming = layer.kernel_mask()[..., :width].reshape(-1, width).sum(0)
    outgoing = np.zeros(width, dtype=np.int64)
    for consumer in consumers:
        # Inputs are the second-to-last kernel axis for Dense and Conv.
        mask = np.moveaxis(consumer.kernel_mask(), -2, 0)[:width]
        outgoing += mask.reshape(width, -1).sum(1)
    return incoming.astype(np.int64) * outgoing


def split_new_units(network, old_widths, seed=None, split_noise=SPLIT_NOISE):
    """Makes the new units of a just-grown network splits of used units.

    `network` is the output of growth with zero outgoing weights: every
    layer in `old_widths` has its old units first, then its new ones. Each
    new unit becomes a copy of a used old unit of its layer (its incoming
    weights and gates, bias, and the batch-norm parameters and statistics
    of its channel), the most used units first; a layer that adds more
    units than it has used ones splits them again, in the same order.
    Gaussian noise of standard deviation `split_noise` times that of the
    source's kept incoming weights is then added to each of the copy's
    kept incoming weights, and subtracted from the source's for its first
    copy. Each outgoing weight of a split unit is shared
    among the unit and its copies in random proportions with equal
    expected parts. With `split_noise=0` the function the network
    computes is unchanged, in training mode too (a copy's batch
    statistics are its source's), except that random layers such as
    dropout draw independent noise for a copy. New units of a layer with
    no used unit keep their zero outgoing weights.

    Args:
        network: a built Functional or Sequential model with gated layers,
            changed in place.
        old_widths: dict from the name of each grown layer to its width
            before growth.
        seed: int. Seed of the random shares and noise. Defaults to
            `None`, which draws it from NumPy's global generator (seeded
            by `keras.utils.set_random_seed`).
        split_noise: float. Spread of the noise on a copy's incoming
            weights, relative to its source's. Defaults to `SPLIT_NOISE`.

    Raises:
        ValueError: if `seed` is not an integer or `None`, or
            `split_noise` is not a finite number >= 0.
    """
    check_seed(seed)
    check_split_noise(split_noise)
    if seed is None:
        seed = np.random.randint(2**31 - 1)
    rng = np.random.default_rng(seed)
    nodes = gated_graph(network)
    for name, node in nodes.items():
        old_width = old_widths.get(name)
        if old_width is None or old_width >= node.layer.width:
            continue
        consumers = [nodes[c].layer for c in node.consumers]
        usage = unit_usage(node.layer, consumers, old_width)
        live = [u for u in np.argsort(-usage, kind="stable") if usage[u] > 0]
        if not live:
            continue
        new_units = range(old_width, node.layer.width)
        sources = [int(live[i % len(live)]) for i in range(len(new_units))]
        copies = {source: sources.count(source) for source in sources}
        made = dict.fromkeys(copies, 0)
        for source, new in zip(sources, new_units, strict=True):
            made[source] += 1
            # Stick-breaking: the i-th of k copies takes, on average,
            # 1 / (k + 2 - i) of what is left, so all k + 1 parts are
            # equal in expectation; one copy takes SHARE_RANGE itself.
            scale = 2.0 / (copies[source] + 2 - made[source])
            _copy_unit(node, source, new)
            if split_noise:
                noise = _incoming_noise(node.layer, source, rng, split_noise)
                _add_incoming(node.layer, new, noise)
                if made[source] == 1:
                    _add_incoming(node.layer, source, -noise)
            for consumer in consumers:
                _share_outgoing(consumer, source, new, rng, scale)


def _copy_unit(node, source, new):
    layer = node.layer
    _assign_slice(layer.kernel, -1, source, new)
    if layer.gating == "channel":
        _assign_slice(layer.gate, 0, source, new)
    else:
        _assign_slice(layer.gate, -1, source, new)
    if layer.bias is not None:
        _assign_slice(layer.bias, 0, source, new)
    for channelwise in node.path:
        if isinstance(channelwise, keras.layers.BatchNormalization):
            for weight in channelwise.weights:
                _assign_slice(weight, 0, source, new)


def _incoming_noise(layer, unit, rng, split_noise):
    weights = np.moveaxis(layer.kernel.numpy(), -1, 0)[unit]
    mask = np.moveaxis(layer.kernel_mask(), -1, 0)[unit]
    kept = weights[mask]
    # A used unit keeps at least one incoming weight; with one, its size
    # stands for the spread. Closed weights get none: they stay as pruned.
    spread = kept.std() or np.abs(kept).mean()
    noise = rng.normal(0.0, split_noise * spread, size=weights.shape)
    return (noise * mask).astype(weights.dtype)


def _add_incoming(layer, unit, delta):
    kernel = layer.kernel.numpy()
    _set(kernel, -1, unit, np.moveaxis(kernel, -1, 0)[unit] + delta)
    layer.kernel.assign(kernel)


def _share_outgoing(consumer, source, new, rng, scale=1.0):
    kernel = consumer.kernel.numpy()
    original = np.take(kernel, source, axis=-2)
    share = rng.uniform(*SHARE_RANGE, size=original.shape) * scale
    share = share.astype(kernel.dtype)
    _set(kernel, -2, new, share * original)
    _set(kernel, -2, source, (1 - share) * original)
    consumer.kernel.assign(kernel)
    if consumer.gating != "channel":
        _assign_slice(consumer.gate, -2, source, new)
    if consumer.unit_gate is not None:
        _assign_slice(consumer.unit_gate, 0, source, new)


def _assign_slice(variable, axis, source, new):
    value = variable.numpy()
    _set(value, axis, new, np.take(value, source, axis=axis))
    variable.assign(value)


def _set(array, axis, index, value):
    moved = np.moveaxis(array, axis, 0)
    moved[index] = value
