"""Reopening the gates a network closed, without changing its function.

A network pruned while small closed the connections it could do without at
that width. After a growth, the wider network may need some of them again,
but a closed gate only reopens if its straight-through gradient outweighs
the sparsity term, which rarely happens once its weight has drifted. So at
growth every closed gate can start open again over a zero weight: the
function is unchanged, and pruning decides afresh what the wider network
keeps.
"""

import numpy as np

from keras_gnap.layers.gated_layer import GatedLayer

# The score a reopened gate starts from: that of a new gate under the
# layers' default `gate_initializer`.
REOPENED_GATE = 1.0


def check_reopen_pruned(reopen_pruned):
    """Raises a ValueError unless `reopen_pruned` is a bool."""
    if not isinstance(reopen_pruned, bool):
        raise ValueError(
            "Argument `reopen_pruned` must be True or False. "
            f"Received: reopen_pruned={reopen_pruned!r}"
        )


def reopen_gates(network):
    """Opens every closed gate of `network` over a zero weight.

    A closed gate's kernel weights are set to 0 and its score to
    `REOPENED_GATE`, so the outputs are unchanged while the gate is open
    again.

    Args:
        network: a built Keras model with gated layers, changed in place.

    Returns:
        int. The number of gates reopened.
    """
    reopened = 0
    for layer in network.layers:
        if not isinstance(layer, GatedLayer):
            continue
        values = [gate.numpy() for gate in layer.gates]
        if not any((value <= 0).any() for value in values):
            continue
        layer.kernel.assign(layer.effective_kernel())
        for gate, value in zip(layer.gates, values, strict=True):
            closed = value <= 0
            gate.assign(
                np.where(closed, REOPENED_GATE, value).astype(value.dtype)
            )
            reopened += int(closed.sum())
    return reopened
