"""Copying weights from a layer into a wider copy of it."""

import numpy as np


def embed(old_value, new_value):
    """Returns `new_value` with `old_value` copied into its leading corner.

    Growth only ever appends units at the end of an axis, so every old
    entry keeps its index and the new ones fill the rest.

    Args:
        old_value: array. The value before growth.
        new_value: array. A value of the grown shape whose entries outside
            the corner are kept (fresh initialisation, or zeros).

    Returns:
        A NumPy array of `new_value`'s shape.

    Raises:
        ValueError: if the ranks differ or an axis shrank.
    """
    old_value = np.asarray(old_value)
    new_value = np.array(new_value, copy=True)
    if old_value.ndim != new_value.ndim or any(
        o > n for o, n in zip(old_value.shape, new_value.shape, strict=True)
    ):
        raise ValueError(
            "A grown weight must have the same rank and no smaller axis. "
            f"Received: old shape {old_value.shape}, new shape "
            f"{new_value.shape}"
        )
    new_value[tuple(slice(0, size) for size in old_value.shape)] = old_value
    return new_value


def transfer_weights(old_layer, new_layer):
    """Copies every weight of `old_layer` into the wider `new_layer`.

    Weights are matched by name. A kernel whose input axis grew gets zeros
    from the new inputs to the existing units, so the existing units compute
    what they computed before; everything else outside the old corner keeps
    `new_layer`'s fresh initial value (fresh incoming weights for new units,
    open gates, batch-norm defaults), so every new weight can learn.

    Args:
        old_layer: a built Keras layer.
        new_layer: a built Keras layer of the same class, as wide or wider.

    Raises:
        ValueError: if the two layers' weights do not match by name.
    """
    old_weights = {_short_name(w): w for w in old_layer.weights}
    new_weights = {_short_name(w): w for w in new_layer.weights}
    if set(old_weights) != set(new_weights):
        raise ValueError(
            f"Cannot transfer weights of layer '{old_layer.name}': weight "
            f"names differ. Received: {sorted(old_weights)} and "
            f"{sorted(new_weights)}"
        )
    for name, new_weight in new_weights.items():
        new_weight.assign(embed_weight(new_weight, old_weights[name].numpy()))


def embed_weight(variable, old_value):
    """Returns `old_value` placed into the (possibly wider) `variable`.

    Entries outside the old corner keep `variable`'s current value, except
    in a kernel, where the weights from new inputs to the existing units
    are zero so that the existing units compute what they did.

    Args:
        variable: a Keras variable, of the old shape or a wider one.
        old_value: array of the old shape.

    Returns:
        A NumPy array of `variable`'s shape.

    Raises:
        ValueError: if `old_value` does not fit into `variable`.
    """
    old_value = np.asarray(old_value)
    value = embed(old_value, variable.numpy())
    if _short_name(variable) == "kernel" and value.ndim >= 2:
        old_in, old_out = old_value.shape[-2:]
        value[..., old_in:, :old_out] = 0.0
    return value


def _short_name(variable):
    return variable.path.split("/")[-1]
