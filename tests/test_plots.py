"""`plot_history` and `plot_sparsity`: PNGs with the expected contents."""

import json

import keras
import numpy as np
import pytest
from data_helpers import ScriptedValLoss
from matplotlib.colors import to_rgba
from PIL import Image

import keras_gnap
from keras_gnap.reports.plots import GROWTH_COLOR

EVENT = {
    "epoch": 2,
    "widths_before": {"block1_conv": 8, "head_dense": 3},
    "widths_after": {"block1_conv": 16, "head_dense": 3},
    "dense_params_before": 100,
    "dense_params_after": 300,
}
LOGS = {
    "accuracy": [0.5, 0.7, 0.8, 0.9],
    "val_accuracy": [0.4, 0.6, 0.75, 0.875],
    "loss": [1.5, 1.0, 0.7, 0.5],
    "val_loss": [1.6, 1.1, 0.8, 0.6],
    "effective_params": [100, 90, 250, 200],
}


def _png(path):
    """The image at `path`, after checking it is a real, non-blank PNG."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = np.asarray(Image.open(path).convert("L"))
    assert image.shape[0] > 300 and image.shape[1] > 300
    assert image.std() > 10  # not a blank canvas
    return image


def _growth_lines(axes):
    return [
        line
        for line in axes.lines
        if line.get_linestyle() == "--"
        and to_rgba(line.get_color()) == to_rgba(GROWTH_COLOR)
    ]


def test_plot_history_draws_metrics_params_and_growth(tmp_path):
    path = tmp_path / "history.png"
    record = {"history": LOGS, "growth_events": [EVENT]}
    figure = keras_gnap.plot_history(record, path=path)
    _png(path)
    accuracy, loss, params = figure.axes
    assert accuracy.get_ylabel() == "Accuracy"
    assert loss.get_ylabel() == "Loss"
    assert params.get_ylabel() == "Effective parameters"
    assert params.get_xlabel() == "Epoch"
    assert [t.get_text() for t in accuracy.get_legend().get_texts()] == [
        "training",
        "validation",
    ]
    # The curves are the logs, by epoch from 1.
    x, y = params.lines[0].get_data()
    assert list(x) == [1, 2, 3, 4] and list(y) == LOGS["effective_params"]
    # One growth marker per panel, just after the epoch that grew.
    for axes in figure.axes:
        (marker,) = _growth_lines(axes)
        assert marker.get_xdata()[0] == pytest.approx(2.5)
    assert [t.get_text() for t in params.texts] == ["1"]
    legend = [t.get_text() for t in params.get_legend().get_texts()]
    assert "growth 1 after epoch 2: 8-3 -> 16-3" in legend
    # Jupyter shows it without pyplot.
    assert figure._repr_png_()[:4] == b"\x89PNG"
    title = figure._suptitle.get_text()
    assert "87.50%" in title and "200 effective params" in title
    assert "1 growth" in title


def test_plot_history_reads_history_json(tmp_path):
    path = tmp_path / "history.json"
    path.write_text(json.dumps({"history": LOGS, "growth_events": []}))
    figure = keras_gnap.plot_history(str(path))
    assert not any(_growth_lines(axes) for axes in figure.axes)
    assert "0 growths" in figure._suptitle.get_text()


def test_plot_history_of_a_fit_shows_its_growth(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((64, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile(
        "adam", "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None)
    history = model.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        callbacks=[ScriptedValLoss([1.0, 1.0, 0.5, 0.4]), growth],
    )
    # fit's History carries the growth events.
    assert history.growth_events == growth.growth_events
    assert len(history.growth_events) == 1
    figure = keras_gnap.plot_history(history, tmp_path / "fit.png")
    _png(tmp_path / "fit.png")
    (marker,) = _growth_lines(figure.axes[2])
    assert marker.get_xdata()[0] == pytest.approx(2.5)


@pytest.mark.parametrize(
    "history,error",
    [
        (42, TypeError),
        ({}, ValueError),
        ({"loss": []}, ValueError),
        ("no/such/history.json", ValueError),
    ],
)
def test_plot_history_rejects_what_it_cannot_plot(history, error):
    with pytest.raises(error, match="history"):
        keras_gnap.plot_history(history)


def test_plot_history_rejects_a_path_in_no_folder(tmp_path):
    with pytest.raises(ValueError, match="path"):
        keras_gnap.plot_history(LOGS, tmp_path / "missing" / "h.png")


def _pruned_model():
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    conv = model.network.get_layer("block2_conv")
    gate = np.array(conv.gate.numpy())
    gate[...] = 1.0
    gate[..., 0, :] = -1.0  # input channel 0 pruned for every unit
    gate[..., 1] = -1.0  # unit 1 pruned entirely
    conv.gate.assign(gate)
    return model, conv


@pytest.mark.backends
def test_plot_sparsity_shows_kept_weights_live_units_and_a_mask(tmp_path):
    model, conv = _pruned_model()
    path = tmp_path / "sparsity.png"
    figure = keras_gnap.plot_sparsity(model, path=path, layer="block2_conv")
    _png(path)
    weights, units, mask = figure.axes[:3]
    assert weights.get_xlabel() == "Kernel weights"
    assert units.get_xlabel() == "Units"
    counts = {
        c.name: c
        for c in keras_gnap.reports.layer_counts(model)
        if c.kernel_shape is not None
    }
    names = [t.get_text() for t in weights.get_yticklabels()]
    assert names == list(counts)
    # Bars: totals, then what is kept, layer by layer.
    bars = [p.get_width() for p in weights.patches]
    assert bars[: len(names)] == [counts[n].weights for n in names]
    assert bars[len(names) :] == [counts[n].active_weights for n in names]
    live = [p.get_width() for p in units.patches][len(names) :]
    assert live == [counts[n].live_units for n in names]
    row = names.index("block2_conv")
    assert bars[len(names) + row] < bars[row]
    # The mask: kept taps of each input channel and unit.
    image = mask.images[0].get_array()
    taps = int(np.prod(conv.kernel.shape[:2]))
    assert image.shape == tuple(conv.kernel.shape[2:])
    assert (image[0] == 0).all() and (image[:, 1] == 0).all()
    assert image[1, 0] == taps
    assert mask.get_title() == "Kernel mask of block2_conv"


def test_plot_sparsity_without_a_mask_and_its_errors(tmp_path):
    model, _ = _pruned_model()
    figure = keras_gnap.plot_sparsity(model, layer=None)
    assert len(figure.axes) == 2
    by_index = keras_gnap.plot_sparsity(model, layer=-1)
    assert by_index.axes[2].get_title() == "Kernel mask of head_dense"
    with pytest.raises(ValueError, match="layer='nope'"):
        keras_gnap.plot_sparsity(model, layer="nope")
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="model"):
        keras_gnap.plot_sparsity(plain)


def test_plot_history_follows_initial_epoch_and_metric_names():
    class Resumed:  # what fit(initial_epoch=4, epochs=6) returns
        epoch = [4, 5]
        history = {"acc": [0.5, 0.6], "val_acc": [0.4, 0.5], "loss": [1, 0.9]}
        growth_events = [dict(EVENT, epoch=5)]

    figure = keras_gnap.plot_history(Resumed())
    accuracy, _, params = figure.axes
    x, y = accuracy.lines[0].get_data()
    assert list(x) == [5, 6] and list(y) == [0.5, 0.6]
    (marker,) = _growth_lines(params)
    assert marker.get_xdata()[0] == pytest.approx(5.5)
    assert params.get_xlim() == (4.5, 6.5)
    assert "validation accuracy 50.00%" in figure._suptitle.get_text()
    # A History from a fit without GrowthCallback: no growth count.
    plain = keras_gnap.plot_history({"loss": [1.0, 0.5]})
    assert "growth" not in plain._suptitle.get_text()
