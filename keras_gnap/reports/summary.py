"""A per-layer table of what pruning left, like `model.summary()`."""

from keras_gnap.reports.parameter_count import layer_counts

# Titles and alignment. The figures' columns are as wide as their widest
# entry; the layer names get what is left of WIDTH, and are cut to fit.
COLUMNS = (
    ("Layer (type)", "<"),
    ("Kernel", ">"),
    ("Weights", ">"),
    ("Active", ">"),
    ("Sparse", ">"),
    ("Live", ">"),
    ("Effective", ">"),
)
WIDTH = 80
MIN_NAME_WIDTH = 12


def summary(model, print_fn=None):
    """Prints what pruning left of each layer, and the totals.

    One row per layer with parameters: kernel shape, kernel weights,
    active (non-zero after gating) weights, sparsity (share of kernel
    weights pruned), live units out of all units, and effective parameters
    as `keras_gnap.count_params` counts them. Batch normalisation layers
    folded into the layer before them need no parameter and get no row.
    The totals give the dense count (the network with its gates removed,
    as plain Keras counts it) and the effective count. Lines are at most
    80 characters wide, longer layer names cut to fit, unless the figures
    alone need more: figures are never cut.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.
        print_fn: callable taking one string, called for each line.
            Defaults to `print`.
    """
    print_fn = print if print_fn is None else print_fn
    counts = layer_counts(model)
    rows = [_row(count) for count in counts if _has_row(count)]
    titles = [title for title, _ in COLUMNS]
    widths = [
        max(len(text) for text in column)
        for column in zip(titles, *rows, strict=True)
    ]
    widths[0] = min(
        widths[0],
        max(MIN_NAME_WIDTH, WIDTH - sum(widths[1:]) - len(widths) + 1),
    )

    def line(cells):
        return " ".join(
            _cell(text, width, align)
            for text, width, (_, align) in zip(
                cells, widths, COLUMNS, strict=True
            )
        )

    header = line(titles)
    rule = "-" * len(header)
    print_fn(f'GNAP summary of "{model.name}"')
    print_fn(rule)
    print_fn(header)
    print_fn(rule)
    for row in rows:
        print_fn(line(row))
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


def _has_row(count):
    # Batch normalisation folded into the layer before it has no row.
    return count.kernel_shape is not None or count.effective_params > 0


def _row(count):
    name = f"{count.name} ({count.class_name})"
    if count.kernel_shape is None:
        return [name, "", "", "", "", "", f"{count.effective_params:,}"]
    sparsity = 1 - count.active_weights / max(count.weights, 1)
    return [
        name,
        "x".join(str(d) for d in count.kernel_shape),
        f"{count.weights:,}",
        f"{count.active_weights:,}",
        f"{sparsity:.1%}",
        f"{count.live_units}/{count.units}",
        f"{count.effective_params:,}",
    ]


def _cell(text, width, align):
    if len(text) > width:  # only names are ever cut
        text = text[: width - 1] + "~"
    return f"{text:{align}{width}}"
