"""Bad input, one table: every public entry point names the argument (or,
on the command line, the option) and the value it got."""

import numpy as np
import pytest

import keras_gnap
from keras_gnap.cli.main import main


def _model():
    return keras_gnap.build_gnap((8, 8, 1), 3, stages=((2,), (3,)))


def _load(**kwargs):
    images = np.zeros((8, 8, 8, 1), "uint8")
    return keras_gnap.datasets.load((images, np.arange(8) % 2), **kwargs)


# (call, argument, value as the message shows it)
API_CASES = [
    (lambda: keras_gnap.build_gnap((28, 28), 10), "input_shape", "(28, 28)"),
    (lambda: keras_gnap.build_gnap((28, 28, 1), 1), "classes", "1"),
    (lambda: keras_gnap.build_gnap((28, 28, 1), 10, preset="x"), "preset", "x"),
    (
        lambda: keras_gnap.build_gnap((28, 28, 1), 10, sparsity=-1),
        "sparsity",
        "-1",
    ),
    (lambda: keras_gnap.GatedDense(0), "units", "0"),
    (lambda: keras_gnap.GatedConv2D(4, 3, gating="x"), "gating", "x"),
    (lambda: keras_gnap.GatedDense(4, sparsity=-0.1), "sparsity", "-0.1"),
    (lambda: keras_gnap.GrowthCallback(patience=-1), "patience", "-1"),
    (lambda: keras_gnap.GrowthCallback(mode="up"), "mode", "up"),
    (lambda: keras_gnap.GrowthCallback(max_growths=1.5), "max_growths", "1.5"),
    (lambda: keras_gnap.GrowthCallback(max_params=0), "max_params", "0"),
    (lambda: keras_gnap.GrowthCallback(growth_factor=0), "growth_factor", "0"),
    (
        lambda: keras_gnap.grow(_model(), growth_factor=-1),
        "growth_factor",
        "-1",
    ),
    (lambda: keras_gnap.grow(_model(), new_units="x"), "new_units", "x"),
    (lambda: keras_gnap.compact("model"), "model", "model"),
    (
        lambda: keras_gnap.export(_model(), "m.x", format="onnx"),
        "format",
        "onnx",
    ),
    (
        lambda: keras_gnap.export(_model(), "m.tflite", quantize="int4"),
        "quantize",
        "int4",
    ),
    (lambda: _load(split="dev"), "split", "dev"),
    (lambda: _load(batch_size=0), "batch_size", "0"),
    (lambda: _load(validation_size=-1), "validation_size", "-1"),
    (lambda: keras_gnap.plot_sparsity(_model(), layer="x"), "layer", "x"),
]


@pytest.mark.parametrize("call,argument,value", API_CASES)
def test_the_api_names_the_argument_and_the_value(call, argument, value):
    with pytest.raises((ValueError, TypeError)) as raised:
        call()
    message = str(raised.value)
    assert argument in message, message
    assert value in message, message


CLI_CASES = [
    (["train", "--dataset", "d", "--epochs", "0"], "--epochs", "0"),
    (["train", "--dataset", "d", "--batch-size", "x"], "--batch-size", "x"),
    (["train", "--dataset", "d", "--preset", "big"], "--preset", "big"),
    (["train", "--dataset", "d", "--verbose", "5"], "--verbose", "5"),
    (
        ["export", "m.keras", "--output", "o", "--format", "onnx"],
        "--format",
        "onnx",
    ),
    (
        ["export", "m.keras", "--output", "o", "--quantize", "x"],
        "--quantize",
        "x",
    ),
    (
        ["export", "m.keras", "--output", "o", "--latency-runs", "x"],
        "--latency-runs",
        "x",
    ),
]


@pytest.mark.parametrize("argv,option,value", CLI_CASES)
def test_the_commands_name_the_option_and_exit_2(argv, option, value, capsys):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    error = capsys.readouterr().err
    (line,) = error.strip().splitlines()  # one line, no usage, no traceback
    assert line.startswith(f"python -m keras_gnap {argv[0]}: error: ")
    assert option in line and value in line, line
