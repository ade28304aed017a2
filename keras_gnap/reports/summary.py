"""A per-layer table of what pruning left, like `model.summary()`."""

from keras_gnap.reports.parameter_count import layer_counts

# 80 columns in all, with the spaces between them.
COLUMNS = (
    ("Layer (type)", 25, "<"),
    ("Kernel", 11, ">"),
    ("Weights", 8, ">"),
    ("Active", 8, ">"),
    ("Sparse", 6, ">"),
    ("Live", 7, ">"),
    ("Effective", 9, ">"),
)


def summary(model, print_fn=None):
    """Prints what pruning left of each layer, and the totals.

    One row per layer with parameters: kernel shape, kernel weights,
    active (non-zero after gating) weights, sparsity (share of kernel
    weights pruned), live units out of all units, and effective parameters
    as `keras_gnap.count_params` counts them. Batch normalisation layers
    folded into the layer before them need no parameter and get no row.
    The totals give the dense count (the network with its gates removed,
    as plain Keras counts it) and the effective count. Lines are at most
    80 characters wide; longer layer names are cut.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.
        print_fn: callable taking one string, called for each line.
            Defaults to `print`.
    """
    print_fn = print if print_fn is None else print_fn
    counts = layer_counts(model)
    header = " ".join(
        _cell(title, width, align) for title, width, align in COLUMNS
    )
    rule = "-" * len(header)
    print_fn(f'GNAP summary of "{model.name}"')
    print_fn(rule)
    print_fn(header)
    print_fn(rule)
    for count in counts:
        if count.kernel_shape is None and not count.effective_params:
            continue  # folded batch normalisation
        if count.kernel_shape is None:
            cells = ("", "", "", "", "", count.effective_params)
        else:
            sparsity = 1 - count.active_weights / max(count.weights, 1)
            cells = (
                "x".join(str(d) for d in count.kernel_shape),
                count.weights,
                count.active_weights,
                f"{sparsity:.1%}",
                f"{count.live_units}/{count.units}",
                count.effective_params,
            )
        row = [f"{count.name} ({count.class_name})", *cells]
        print_fn(
            " ".join(
                _cell(value, width, align)
                for value, (_, width, align) in zip(row, COLUMNS, strict=True)
            )
        )
    print_fn(rule)
    weights = sum(c.weights for c in counts)
    active = sum(c.active_weights for c in counts)
    dense = sum(c.dense_params for c in counts)
    effective = sum(c.effective_params for c in counts)
    print_fn(
        f" Kernel weights: {weights:,} ({active:,} active, "
        f"{1 - active / max(weights, 1):.1%} sparse)"
    )
    print_fn(f" Dense params (gates removed, nothing pruned): {dense:,}")
    print_fn(
        f" Effective params (what inference needs): {effective:,} "
        f"({effective / max(dense, 1):.1%} of dense)"
    )
    print_fn(rule)


def _cell(value, width, align):
    text = f"{value:,}" if isinstance(value, int) else str(value)
    if len(text) > width:
        text = text[: width - 1] + "~"
    return f"{text:{align}{width}}"
