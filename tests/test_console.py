"""What a person reads during `fit`, and what TensorBoard gets, on every
backend."""

import re
import sys

import keras
import numpy as np
import pytest
from data_helpers import ScriptedValLoss

import keras_gnap
from keras_gnap.callbacks.fit_callbacks import with_gnap_callbacks
from keras_gnap.callbacks.progress_logger import format_duration
from keras_gnap.callbacks.progress_logger import run_progress
from keras_gnap.callbacks.tensorboard_logger import RUN_NAME
from keras_gnap.callbacks.tensorboard_logger import TensorBoardLogger


def _fit_with_growth(callbacks, verbose, epochs=4):
    rng = np.random.default_rng(0)
    x = rng.random((64, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile(
        "adam", "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None)
    scripted = ScriptedValLoss([1.0, 1.0, 0.5, 0.4, 0.3][:epochs])
    history = model.fit(
        x,
        y,
        validation_data=(x[:16], y[:16]),
        epochs=epochs,
        batch_size=32,
        verbose=verbose,
        callbacks=[scripted, growth, *callbacks],
    )
    return model, growth, history


def _tags(log_dir):
    import tensorflow as tf

    tags = {}
    for path in log_dir.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                tags.setdefault(value.tag, set()).add((event.step, plugin))
    return tags


@pytest.mark.backends
def test_growth_shows_in_the_console_and_in_tensorboard(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    pytest.importorskip("tensorflow")
    board = keras.callbacks.TensorBoard(tmp_path / "logs")
    model, growth, _ = _fit_with_growth([board], verbose=2)
    out = capsys.readouterr().out
    lines = out.splitlines()

    # The growth notice is one short line of its own, right after the bar
    # (verbose=2: one line) of the epoch that grew.
    (notice,) = [line for line in lines if "GNAP growth" in line]
    assert notice.startswith("Epoch 2: GNAP growth 1: widths ")
    assert len(notice) <= 100
    before = lines[lines.index(notice) - 1]
    assert "val_loss" in before and "GNAP" not in before
    # effective_params as an integer, and the run's progress.
    counts = re.findall(r"effective_params: (\S+)", out)
    assert len(counts) == 4
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", c) for c in counts), counts
    assert re.search(r"^Epoch 3/4 - \S+ so far, about \S+ left$", out, re.M)

    # TensorBoard: Keras's own runs, and GNAP's beside them.
    tags = _tags(tmp_path / "logs" / RUN_NAME)
    layers = [
        layer.name
        for layer in model.network.layers
        if isinstance(layer, keras_gnap.layers.GatedLayer)
    ]
    for layer in layers:
        for kind in ("sparsity", "live_units", "units"):
            steps = {step for step, _ in tags[f"{kind}/{layer}"]}
            assert steps == {0, 1, 2, 3}, (kind, layer)
    assert {s for s, _ in tags["effective_params"]} == {0, 1, 2, 3}
    assert tags["growth_events"] == {(1, "text")}
    assert "epoch_loss" in _tags(tmp_path / "logs" / "train")


def test_growth_notices_follow_the_progress_bar(capsys):
    _fit_with_growth([], verbose=1)
    out = capsys.readouterr().out
    notice = out.index("Epoch 2: GNAP growth 1")
    # The bar of epoch 2 ended (newline) before the notice, and epoch 3
    # starts after it.
    assert out[notice - 1] == "\n"
    assert "effective_params" in out[:notice].splitlines()[-1]
    assert out.index("Epoch 3/4", notice) > notice
    # No float formatting of the count anywhere.
    assert not re.search(r"effective_params: [\d.]+\d\.\d{4}", out)


def test_verbose_zero_prints_only_the_growth_callbacks_lines(capsys):
    _fit_with_growth([], verbose=0)
    out = capsys.readouterr().out
    assert "effective_params" not in out and "/4" not in out
    assert "Epoch 2: GNAP growth 1" in out


def test_a_given_progress_bar_is_used_instead(capsys):
    logger = keras.callbacks.ProgbarLogger()
    _fit_with_growth([logger], verbose=1)
    out = capsys.readouterr().out
    assert re.search(r"^Epoch 3/4$", out, re.M)
    assert "so far" not in out


def test_run_progress_lines():
    assert run_progress(0, 40, 0.0, None) == "Epoch 1/40"
    assert (
        run_progress(4, 40, 190.4, 1320)
        == "Epoch 5/40 - 3m 10s so far, about 22m 00s left"
    )
    assert format_duration(59.4) == "59s"
    assert format_duration(3 * 3600 + 5 * 60 + 7) == "3h 05m"


def test_tensorboard_logging_says_when_it_cannot_write(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # not installed
    logger = TensorBoardLogger(tmp_path)
    with pytest.warns(UserWarning, match="needs TensorFlow's summary writer"):
        logger.on_train_begin()
    logger.on_epoch_end(0, {})  # logs nothing, raises nothing
    assert not any(tmp_path.iterdir())


def test_fit_takes_positional_arguments_and_leaves_a_callback_list(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((32, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, 32)
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile("adam", "sparse_categorical_crossentropy")
    growth = keras_gnap.GrowthCallback(monitor="loss")
    # x, y, batch_size, epochs, verbose, callbacks: as keras.Model.fit.
    history = model.fit(x, y, 16, 2, 0, [growth])
    assert history.epoch == [0, 1]
    assert history.growth_events == growth.growth_events
    # A CallbackList is the user's: nothing is added to it.
    board = keras.callbacks.TensorBoard(tmp_path / "logs")
    given = keras.callbacks.CallbackList([board], model=model)
    model.fit(x, y, epochs=1, verbose=0, callbacks=given)
    assert not (tmp_path / "logs" / RUN_NAME).exists()


def test_one_gnap_logger_per_log_directory(tmp_path):
    board = keras.callbacks.TensorBoard(tmp_path / "logs")
    same = keras.callbacks.TensorBoard(tmp_path / "logs")
    mine = TensorBoardLogger(tmp_path / "other")
    other = keras.callbacks.TensorBoard(tmp_path / "other")
    added = with_gnap_callbacks([board, same, mine, other], verbose=0)
    loggers = [c for c in added if isinstance(c, TensorBoardLogger)]
    assert [c.log_dir for c in loggers] == [
        str(tmp_path / "other"),
        str(tmp_path / "logs"),
    ]


def test_says_when_the_monitor_was_never_logged(capsys):
    rng = np.random.default_rng(0)
    x = rng.random((32, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, 32)
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.warns(UserWarning, match="val_loss"):
        model.fit(
            x, y, epochs=1, verbose=0, callbacks=[keras_gnap.GrowthCallback()]
        )
    assert (
        "GNAP did not grow: val_loss was not logged (for val_loss, give fit "
        "validation data)" in capsys.readouterr().out
    )
