"""Pictures of a GNAP run: its history, and what pruning left."""

import io
import json
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from keras_gnap.layers.gated_layer import GatedLayer
from keras_gnap.models.gnap_model import GNAPModel
from keras_gnap.reports.parameter_count import layer_counts

KEPT_COLOR = "tab:blue"
TOTAL_COLOR = "#d9d9d9"
GROWTH_COLOR = "tab:red"


class PlotFigure(Figure):
    """A matplotlib `Figure` that Jupyter shows as a PNG by itself.

    Made without `pyplot`, so it is never shown twice, kept open, or tied
    to an interactive backend; `_repr_png_` lets IPython display it
    without `%matplotlib inline`.
    """

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def plot_history(history, path=None):
    """Plots a run: accuracy, loss, and effective parameters, by epoch.

    Three panels share the epoch axis: training and validation accuracy,
    training and validation loss, and effective parameters (see
    `keras_gnap.count_params`) on their own axis. Each growth is a dashed
    line after the epoch it ended, labelled with the widths before and
    after. The title gives the final figures.

    Args:
        history: what `fit` returned (a `keras.callbacks.History`; its
            `growth_events` come from `GrowthCallback`), the record that
            `keras_gnap.training.train` returns, the path of the
            `history.json` that `python -m keras_gnap train` writes, or a
            dict of per-epoch lists such as `History.history`.
        path: str, path or None. Where to save the figure as PNG (its
            parent folder must exist). Defaults to `None`: not saved.

    Returns:
        A `PlotFigure`: a matplotlib `Figure` that Jupyter displays.

    Raises:
        TypeError: if `history` is none of the above.
        ValueError: if `history` holds no epoch, or `path` is not in an
            existing folder.
    """
    logs, events, first_epoch = _history_and_events(history)
    epochs = max(len(v) for v in logs.values())
    # Epochs counted from 1; a fit with `initial_epoch` starts later.
    x = np.arange(first_epoch, first_epoch + epochs)
    # Dots as well as lines where there are few epochs: one epoch is a dot.
    marker = "o" if epochs <= 20 else None
    figure = PlotFigure(figsize=(8, 9), layout="constrained")
    accuracy, loss, params = figure.subplots(3, 1, sharex=True)
    for axes, name, label in (
        (accuracy, _accuracy_key(logs), "Accuracy"),
        (loss, "loss", "Loss"),
    ):
        for key, title in ((name, "training"), (f"val_{name}", "validation")):
            if key in logs:
                values = logs[key]
                axes.plot(x[: len(values)], values, marker=marker, label=title)
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(loc="best")
    if "effective_params" in logs:
        values = logs["effective_params"]
        # Counted at the end of each epoch; a growth jumps between two.
        params.plot(
            x[: len(values)],
            values,
            color="tab:green",
            marker=marker,
            drawstyle="steps-mid",
            label="effective parameters",
        )
    params.set_ylabel("Effective parameters")
    params.set_xlabel("Epoch")
    params.xaxis.set_major_locator(MaxNLocator(integer=True))
    params.set_xlim(x[0] - 0.5, x[-1] + 0.5)
    params.grid(alpha=0.3)
    params.yaxis.set_major_formatter("{x:,.0f}")
    for number, event in enumerate(events or [], start=1):
        for axes in (accuracy, loss, params):
            axes.axvline(
                event["epoch"] + 0.5,
                color=GROWTH_COLOR,
                linestyle="--",
                linewidth=1,
                label=(
                    f"growth {number} after epoch {event['epoch']}: "
                    f"{_widths_text(event)}"
                    if axes is params
                    else None
                ),
            )
        params.annotate(
            str(number),
            xy=(event["epoch"] + 0.5, 1),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            va="top",
            color=GROWTH_COLOR,
        )
    if params.lines:
        params.legend(loc="best", fontsize=8)
    figure.suptitle(_title(logs, events))
    _save(figure, path)
    return figure


def plot_sparsity(model, path=None, layer=None):
    """Plots what pruning left of each layer, and optionally one mask.

    Bars per gated layer: kept and total kernel weights, and live and
    total units (see `keras_gnap.reports.live_units`). With `layer`, a
    third panel shows that layer's kernel mask: for each input channel
    (rows) and unit (columns), how many of its kernel weights are kept
    (0 to the kernel's spatial size).

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model of gated
            layers.
        path: str, path or None. Where to save the figure as PNG (its
            parent folder must exist). Defaults to `None`: not saved.
        layer: str, int or None. Name, or index among the gated layers, of
            the layer whose mask to show. Defaults to `None`: no mask.

    Returns:
        A `PlotFigure`: a matplotlib `Figure` that Jupyter displays.

    Raises:
        ValueError: if `model` has no gated layer, `layer` names none of
            them, or `path` is not in an existing folder.
    """
    counts = [c for c in layer_counts(model) if c.kernel_shape is not None]
    gated = _gated_layers(model)
    if not gated:
        raise ValueError(
            "Argument `model` has no gated layer to plot. Received: "
            f"model={getattr(model, 'name', model)!r}"
        )
    counts = [c for c in counts if c.name in {g.name for g in gated}]
    shown = None if layer is None else _find_layer(gated, layer)
    panels = 3 if shown is not None else 2
    figure = PlotFigure(figsize=(8, 3 + 1.6 * panels), layout="constrained")
    axes = figure.subplots(panels, 1, squeeze=False)[:, 0]
    names = [c.name for c in counts]
    y = np.arange(len(counts))
    for ax, kept, total, what in (
        (
            axes[0],
            [c.active_weights for c in counts],
            [c.weights for c in counts],
            "Kernel weights",
        ),
        (
            axes[1],
            [c.live_units for c in counts],
            [c.units for c in counts],
            "Units",
        ),
    ):
        ax.barh(y, total, color=TOTAL_COLOR, label="total")
        ax.barh(
            y,
            kept,
            color=KEPT_COLOR,
            label="kept" if what != "Units" else "live",
        )
        for row, (k, t) in enumerate(zip(kept, total, strict=True)):
            ax.text(
                t,
                row,
                f" {k:,}/{t:,} ({k / max(t, 1):.0%})",
                va="center",
                fontsize=8,
            )
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        ax.set_xlabel(what)
        ax.set_xlim(0, max(total) * 1.35)
        ax.xaxis.set_major_locator(
            MaxNLocator(integer=True, steps=[1, 2, 5, 10])
        )
        ax.xaxis.set_major_formatter("{x:,.0f}")
        ax.legend(
            loc="lower right",
            bbox_to_anchor=(1, 1),
            ncols=2,
            frameon=False,
            fontsize=8,
        )
    if shown is not None:
        mask = _connection_mask(shown)
        taps = int(np.prod(shown.kernel.shape[:-2]))
        image = axes[2].imshow(
            mask,
            aspect="auto",
            cmap="Blues",
            interpolation="nearest",
            vmin=0,
            vmax=taps,
        )
        axes[2].set_title(f"Kernel mask of {shown.name}")
        axes[2].set_xlabel("Unit")
        axes[2].set_ylabel("Input channel" if taps > 1 else "Input")
        bar = figure.colorbar(image, ax=axes[2], label="kept weights")
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    kept = sum(c.active_weights for c in counts)
    total = sum(c.weights for c in counts)
    figure.suptitle(
        f"{kept:,} of {total:,} kernel weights kept "
        f"({1 - kept / max(total, 1):.1%} pruned)"
    )
    _save(figure, path)
    return figure


def _history_and_events(history):
    # Returns (per-epoch logs as float lists, growth events or None when
    # unknown, the first epoch counted from 1).
    source = history
    if isinstance(history, (str, os.PathLike)):
        history = _read_json(Path(history))
    events, first_epoch = None, 1
    if hasattr(history, "history") and not isinstance(history, dict):
        events = getattr(history, "growth_events", None)
        epochs = getattr(history, "epoch", None)
        if epochs:
            first_epoch = int(epochs[0]) + 1
        history = history.history
    elif isinstance(history, dict) and isinstance(history.get("history"), dict):
        events = history.get("growth_events") or []
        history = history["history"]
    if not isinstance(history, dict):
        raise TypeError(
            "Argument `history` must be a keras.callbacks.History, a "
            "training record, a path to history.json or a dict of "
            f"per-epoch lists. Received: history={source!r}"
        )
    logs = {
        str(key): [float(v) for v in values]
        for key, values in history.items()
        if isinstance(values, (list, tuple)) and values
    }
    if not logs:
        raise ValueError(
            "Argument `history` holds no epoch to plot. Received: "
            f"history={source!r}"
        )
    return logs, events, first_epoch


def _accuracy_key(logs):
    # `metrics=["accuracy"]` logs "accuracy"; other names end the same way.
    for key in logs:
        if not key.startswith("val_") and key.endswith(("accuracy", "acc")):
            return key
    return "accuracy"


def _read_json(path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(
            f"Argument `history` names no file. Received: history='{path}'"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(
            f"Argument `history` is not a readable history.json ({error}). "
            f"Received: history='{path}'"
        ) from None


def _widths_text(event):
    before = "-".join(str(w) for w in event["widths_before"].values())
    after = "-".join(str(w) for w in event["widths_after"].values())
    return f"{before} -> {after}"


def _title(logs, events):
    parts = []
    name = _accuracy_key(logs)
    for key, what in (
        (f"val_{name}", "validation accuracy"),
        (name, "training accuracy"),
    ):
        if key in logs:
            parts.append(f"{what} {logs[key][-1]:.2%}")
            break
    if "effective_params" in logs:
        parts.append(f"{logs['effective_params'][-1]:,.0f} effective params")
    if events is not None:
        growths = len(events)
        parts.append(f"{growths} growth" + ("" if growths == 1 else "s"))
    return "Final: " + ", ".join(parts) if parts else "Training history"


def _gated_layers(model):
    network = model.network if isinstance(model, GNAPModel) else model
    return [
        layer
        for layer in getattr(network, "layers", [])
        if isinstance(layer, GatedLayer)
    ]


def _find_layer(gated, layer):
    if isinstance(layer, int) and not isinstance(layer, bool):
        if -len(gated) <= layer < len(gated):
            return gated[layer]
    else:
        for candidate in gated:
            if candidate.name == layer:
                return candidate
    names = ", ".join(g.name for g in gated)
    raise ValueError(
        "Argument `layer` must be the name or index of a gated layer "
        f"({names}). Received: layer={layer!r}"
    )


def _connection_mask(layer):
    # (input channels, units): kept weights of each connection.
    mask = layer.kernel_mask()
    return mask.reshape(-1, mask.shape[-2], mask.shape[-1]).sum(axis=0)


def _save(figure, path):
    if path is None:
        return
    path = Path(path)
    if not path.parent.is_dir():
        raise ValueError(
            "Argument `path` must be in an existing folder. Received: "
            f"path='{path}'"
        )
    figure.savefig(path, format="png", dpi=100)
