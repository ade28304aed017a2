"""`python -m keras_gnap train`, on small generated IDX data."""

import json

import keras
import numpy as np
import pytest
from data_helpers import digit_arrays
from data_helpers import write_idx_dir

import keras_gnap
from keras_gnap.cli import train_command
from keras_gnap.cli.main import main


@pytest.fixture
def idx_dir(tmp_path):
    return write_idx_dir(
        tmp_path / "digits",
        train=digit_arrays(300),
        test=digit_arrays(50, seed=1),
    )


def test_train_writes_model_and_history(idx_dir, tmp_path, capsys, monkeypatch):
    growth_arguments = {}

    def growth_callback(**kwargs):
        growth_arguments.update(kwargs)
        return keras_gnap.GrowthCallback(**kwargs)

    monkeypatch.setattr(train_command, "GrowthCallback", growth_callback)
    output = tmp_path / "run"
    code = main(
        [
            "train",
            "--dataset",
            str(idx_dir),
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--validation-size",
            "100",
            "--patience",
            "0",
            "--growth-until",
            "0.5",
            "--freeze-gates-at",
            "0.5",
            "--new-units",
            "zero",
            "--split-noise",
            "0.25",
            "--reopen-pruned",
            "--reopen-until",
            "0.25",
            "--restart-schedule",
            "--rescale-weights",
            "--reset-optimizer",
            "--output",
            str(output),
            "--verbose",
            "0",
        ]
    )
    assert code == 0
    record = json.loads((output / "history.json").read_text())
    results = record["results"]
    assert results["epochs"] == 2
    assert 0 <= results["validation_accuracy"] <= 1
    assert 0 <= results["test_accuracy"] <= 1
    assert record["arguments"]["growth_until"] == 0.5
    assert record["arguments"]["new_units"] == "zero"
    assert growth_arguments["new_units"] == "zero"
    assert growth_arguments["split_noise"] == 0.25
    assert growth_arguments["reopen_pruned"] is True
    assert growth_arguments["reopen_until"] == 0.25
    assert growth_arguments["restart_schedule"] is True
    assert growth_arguments["warm_second_moment"] is False
    assert growth_arguments["rescale_weights"] is True
    assert growth_arguments["reset_optimizer"] is True
    # growth_until=0.5 of 2 epochs: no growth after the first epoch (the
    # rule itself is tested in test_growth_callback.py).
    assert all(event["epoch"] <= 1 for event in record["growth_events"])
    # --freeze-gates-at 0.5 of 2 epochs: the second epoch fine-tunes.
    assert record["gates_frozen_at_epoch"] == 2
    model = keras.saving.load_model(output / "model.keras")
    assert results["dense_params"] == keras_gnap.reports.dense_params(model)
    assert len(record["history"]["effective_params"]) == 2
    printed = capsys.readouterr().out
    assert "Validation accuracy:" in printed
    assert "Test accuracy:" in printed
    assert f"Effective parameters: {results['effective_params']:,}" in printed
    images = np.zeros((2, 28, 28, 1), "float32")
    assert model.predict(images, verbose=0).shape == (2, 10)


@pytest.mark.parametrize(
    "option,value",
    [
        ("--growth-until", "1.5"),
        ("--growth-until", "0"),
        ("--freeze-gates-at", "1"),
        ("--freeze-gates-at", "0"),
        ("--epochs", "0"),
        ("--patience", "-1"),
        ("--split-noise", "-0.5"),
        ("--split-noise", "nan"),
    ],
)
def test_train_rejects_bad_options(option, value, idx_dir, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["train", "--dataset", str(idx_dir), option, value])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert option in error
    assert f"Received: {value!r}" in error


class _Captured(Exception):
    pass


def test_train_passes_warm_second_moment_but_not_with_a_fresh_optimizer(
    idx_dir, tmp_path, capsys, monkeypatch
):
    growth_arguments = {}

    def growth_callback(**kwargs):
        growth_arguments.update(kwargs)
        raise _Captured  # No need to train.

    arguments = ["train", "--dataset", str(idx_dir), "--restart-schedule"]
    arguments += ["--output", str(tmp_path / "run"), "--warm-second-moment"]
    with monkeypatch.context() as patch:
        patch.setattr(train_command, "GrowthCallback", growth_callback)
        with pytest.raises(_Captured):
            main(arguments)
    assert growth_arguments["warm_second_moment"] is True
    assert growth_arguments["reset_optimizer"] is False
    with pytest.raises(SystemExit) as raised:
        main(arguments + ["--reset-optimizer"])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "reset_optimizer=True, warm_second_moment=True" in error


def test_train_rejects_unknown_new_units(idx_dir, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["train", "--dataset", str(idx_dir), "--new-units", "random"])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "--new-units" in error and "'random'" in error


def test_train_reports_a_failed_download_without_traceback(monkeypatch, capsys):
    def offline_load(source, *args, **kwargs):
        raise ConnectionError(f"could not download {source!r}")

    monkeypatch.setattr(train_command, "load", offline_load)
    with pytest.raises(SystemExit) as raised:
        main(["train", "--dataset", "fashion_mnist", "--epochs", "1"])
    assert raised.value.code == 2
    assert "could not download 'fashion_mnist'" in capsys.readouterr().err


def test_train_names_a_missing_dataset(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    with pytest.raises(SystemExit) as raised:
        main(["train", "--dataset", str(missing), "--epochs", "1"])
    assert raised.value.code == 2
    assert "nowhere" in capsys.readouterr().err
