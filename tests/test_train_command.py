"""`python -m keras_gnap train`, on small generated IDX data."""

import argparse
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from data_helpers import digit_arrays
from data_helpers import write_idx_dir

import keras_gnap
from keras_gnap import training
from keras_gnap.cli import train_command
from keras_gnap.cli.main import main


@pytest.fixture
def idx_dir(tmp_path):
    return write_idx_dir(
        tmp_path / "digits",
        train=digit_arrays(300),
        test=digit_arrays(50, seed=1),
    )


def test_train_writes_model_history_and_a_summary(
    idx_dir, tmp_path, capsys, monkeypatch
):
    # A short output path, as a user types it: the summary fits 80 columns.
    monkeypatch.chdir(tmp_path)
    output = Path("run")
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
            "--output",
            str(output),
            "--tensorboard",
            "logs",
            "--verbose",
            "0",
        ]
    )
    assert code == 0
    record = json.loads((output / "history.json").read_text())
    assert record["epochs"] == 2
    assert 0 <= record["validation_accuracy"] <= 1
    assert 0 <= record["test_accuracy"] <= 1
    # What the rules chose for one-channel images, with the overrides.
    settings = record["settings"]
    assert settings["preset"] == "mnist"
    assert (settings["epochs"], settings["batch_size"]) == (2, 64)
    assert settings["augmentation"]["flip"] is False
    assert settings["augmentation"]["rotation"] > 0
    model = keras.saving.load_model(output / "model.keras")
    assert record["dense_params"] == keras_gnap.reports.dense_params(model)
    assert record["effective_params"] == keras_gnap.count_params(model)
    assert len(record["history"]["effective_params"]) == 2
    printed = capsys.readouterr().out
    summary = printed[printed.index("GNAP run finished") :]
    for words in (
        "Validation accuracy",
        "Test accuracy",
        f"Effective params     {record['effective_params']:,}",
        f"Widest dense params  {record['widest_dense_params']:,}",
        "Growths",
        str(output / "model.keras"),
        str(output / "history.json"),
        "python -m keras_gnap export",
        f"Plots                {output / 'history.png'}, sparsity.png",
    ):
        assert words in summary, words
    assert all(len(line) <= 80 for line in printed.splitlines())
    # Files another user or a serving container can read.
    for name in train_command.OUTPUTS:
        assert (output / name).stat().st_mode & 0o777 == 0o666 & ~_umask()
    # The plain model refers to no keras_gnap class, so it loads anywhere.
    with zipfile.ZipFile(output / "plain_model.keras") as saved:
        assert "keras_gnap" not in saved.read("config.json").decode()
    plain = keras.saving.load_model(output / "plain_model.keras")
    images = np.random.default_rng(0).random((4, 28, 28, 1), "float32")
    np.testing.assert_allclose(
        plain.predict(images, verbose=0),
        model.predict(images, verbose=0),
        atol=1e-5,
    )
    # The two plots beside the model, and GNAP's TensorBoard run.
    for name in ("history.png", "sparsity.png"):
        assert (output / name).read_bytes()[:4] == b"\x89PNG"
    assert list((tmp_path / "logs" / "gnap").glob("events.out.tfevents.*"))
    images = np.zeros((2, 28, 28, 1), "float32")
    assert model.predict(images, verbose=0).shape == (2, 10)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_run_is_never_replaced_without_overwrite(idx_dir, tmp_path, capsys):
    output = tmp_path / "run"
    output.mkdir()
    (output / "model.keras").write_text("an earlier model")
    common = ["train", "--dataset", str(idx_dir), "--output", str(output)]
    with pytest.raises(SystemExit) as raised:
        main([*common, "--epochs", "1", "--verbose", "0"])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "already holds a run (model.keras)" in error
    assert "--overwrite" in error and "Traceback" not in error
    assert (output / "model.keras").read_text() == "an earlier model"
    # An --output that is a file is refused before training, too.
    with pytest.raises(SystemExit):
        main([*common[:-1], str(output / "model.keras"), "--epochs", "1"])
    assert "must be a folder" in capsys.readouterr().err
    code = main([*common, "--epochs", "1", "--verbose", "0", "--overwrite"])
    assert code == 0
    assert keras.saving.load_model(output / "model.keras").built


def test_train_has_few_options_and_no_growth_knobs():
    parser = train_command.add_parser(
        argparse.ArgumentParser().add_subparsers()
    )
    options = [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings and action.dest != "help"
    ]
    # Eleven knobs, --tensorboard, --resume and --overwrite for safety,
    # and --devices and --mixed-precision for the hardware.
    assert len(options) <= 16, options
    for knob in ("--patience", "--growth-factor", "--learning-rate"):
        assert knob not in options


def test_final_summary_names_why_a_run_never_grew():
    record = {
        "validation_accuracy": 0.5,
        "test_accuracy": None,
        "effective_params": 1234,
        "widest_dense_params": 6834,
        "growth_events": [],
        "stopped_growing": {"epoch": 3, "reason": "past 75% of the 4 epochs"},
        "epochs": 4,
        "train_seconds": 90.0,
    }
    text = train_command.final_summary(record, Path("runs") / "mnist")
    assert "Growths              none (past 75% of the 4 epochs)" in text
    assert "Test accuracy" not in text
    assert all(len(line) <= 80 for line in text.splitlines())


@pytest.mark.parametrize(
    "option,value",
    [
        ("--epochs", "0"),
        ("--batch-size", "-1"),
        ("--sparsity", "-0.5"),
        ("--sparsity", "nan"),
        ("--limit", "0"),
        ("--validation-size", "-1"),
        ("--devices", "0"),
    ],
)
def test_train_rejects_bad_options(option, value, idx_dir, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["train", "--dataset", str(idx_dir), option, value])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert option in error
    assert f"Received: {value!r}" in error


def test_train_rejects_an_unknown_preset(idx_dir, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["train", "--dataset", str(idx_dir), "--preset", "imagenet"])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "--preset" in error and "'imagenet'" in error


def test_train_reports_a_failed_download_without_traceback(monkeypatch, capsys):
    def offline_load(source, *args, **kwargs):
        raise ConnectionError(f"could not download {source!r}")

    monkeypatch.setattr(training, "load", offline_load)
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


def test_tensorboard_without_tensorboard_installed_is_one_clear_line(
    idx_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # not installed
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "train",
                "--dataset",
                str(idx_dir),
                "--output",
                str(tmp_path / "run"),
                "--tensorboard",
                str(tmp_path / "logs"),
            ]
        )
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--tensorboard needs TensorFlow and TensorBoard" in error
    assert "Traceback" not in error
    assert not (tmp_path / "run").exists()


def test_resume_needs_an_unfinished_run(idx_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        main(
            [
                "train",
                "--dataset",
                str(idx_dir),
                "--output",
                str(tmp_path / "run"),
                "--resume",
            ]
        )
    assert raised.value.code == 2
    assert "holds no unfinished run" in capsys.readouterr().err


def test_a_diverging_run_stops_with_one_clear_error():
    images, labels = digit_arrays(200)
    # Finite, but far outside [0, 1]: the first steps overflow to NaN.
    extreme = images.astype("float32") * 1e36
    with pytest.raises(ValueError, match="Training diverged: the loss"):
        training.train(
            (extreme, labels),
            epochs=3,
            batch_size=50,
            validation_size=50,
            verbose=0,
        )


BLOCKER = """
import subprocess
import sys


class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "jax", "torch"):
            raise ImportError(f"{name} is blocked in this test")


sys.meta_path.insert(0, _Blocked())
"""


def _cli_process(args, cwd, env=None):
    return subprocess.run(
        [sys.executable, "-m", "keras_gnap", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )


def test_help_and_bad_options_are_answered_without_keras(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCKER)
    root = str(Path(__file__).resolve().parents[1])
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path), root])}
    for args in (["--help"], ["train", "--help"], ["export", "--help"]):
        result = _cli_process(args, tmp_path, env)
        assert result.returncode == 0, result.stderr
        assert "usage: python -m keras_gnap" in result.stdout
    bad = _cli_process(
        ["train", "--dataset", "d", "--epochs", "0"], tmp_path, env
    )
    assert bad.returncode == 2
    assert "--epochs: must be a positive integer" in bad.stderr


def test_a_run_starts_quietly(idx_dir, tmp_path):
    result = _cli_process(
        [
            "train",
            "--dataset",
            str(idx_dir),
            "--epochs",
            "1",
            "--validation-size",
            "100",
            "--output",
            "run",
        ],
        tmp_path,
        {"TF_CPP_MIN_LOG_LEVEL": "0"},  # as a user's shell has it
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # None of TensorFlow's start-up lines (oneDNN, CUDA, absl).
    for noise in ("I0000", "E0000", "W0000", "absl", "cuInit", "oneDNN"):
        assert noise not in result.stderr, result.stderr[-3000:]
    assert "GNAP run finished" in result.stdout


def test_the_parsers_offer_what_the_library_has():
    from keras_gnap.cli import export_command
    from keras_gnap.export.export_model import FORMATS
    from keras_gnap.layers.gated_layer import DEFAULT_SPARSITY
    from keras_gnap.models.build_gnap import PRESETS

    assert train_command.PRESET_NAMES == tuple(sorted(PRESETS))
    assert train_command.DEFAULT_SPARSITY == DEFAULT_SPARSITY
    assert train_command.MIXED_PRECISION == training.MIXED_PRECISION
    assert export_command.FORMATS == FORMATS


@pytest.mark.backends
def test_train_on_two_devices_in_mixed_precision(idx_dir, tmp_path):
    # A fresh process: the devices are made when the backend starts.
    backend = keras.backend.backend()
    result = _cli_process(
        [
            "train",
            "--dataset",
            str(idx_dir),
            "--epochs",
            "2",
            "--validation-size",
            "100",
            "--devices",
            "2",
            "--mixed-precision",
            "bfloat16",
            "--output",
            "run",
        ],
        tmp_path,
        {"KERAS_BACKEND": backend},
    )
    if backend == "torch":
        assert result.returncode == 2
        assert "needs the JAX or TensorFlow backend" in result.stderr
        assert "devices=2" in result.stderr
        return
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Data parallel on 2 devices" in result.stdout
    assert "Mixed precision: computing in bfloat16" in result.stdout
    record = json.loads((tmp_path / "run" / "history.json").read_text())
    assert record["devices"] == 2
    assert record["mixed_precision"] == "bfloat16"
    assert record["arguments"]["devices"] == 2
    assert 0 <= record["validation_accuracy"] <= 1
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    conv = model.network.get_layer("block1_conv")
    assert conv.dtype_policy.name == "mixed_bfloat16"
    assert conv.gate.dtype == "float32"
    if backend == "tensorflow":
        # Export writes float32, as a TFLite model wants.
        report = keras_gnap.export(
            model,
            tmp_path / "model.tflite",
            format="tflite",
            latency_runs=0,
            verbose=False,
        )
        assert report.size_bytes > 0
