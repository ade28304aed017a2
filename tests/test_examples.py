"""The scripts in examples/, run as a user runs them, on small local data.

Each runs in its own Python process for one epoch on a few hundred images
(`--epochs 1 --limit 300`), in a temporary folder, and must write its
model and plots there.
"""

import ast
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from data_helpers import CIFAR10_TAR
from data_helpers import MNIST_DIR
from data_helpers import cifar10_subset_folder
from data_helpers import write_image_folder

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(path.name for path in EXAMPLES.glob("*.py"))
QUICK = ("--epochs", "1", "--limit", "300")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

requires_mnist = pytest.mark.skipif(
    not MNIST_DIR.exists(), reason=f"shared MNIST data not found in {MNIST_DIR}"
)
requires_cifar10 = pytest.mark.skipif(
    not CIFAR10_TAR.exists(),
    reason=f"shared CIFAR-10 tarball not found at {CIFAR10_TAR}",
)


def run_example(script, *args, cwd):
    """Runs `python examples/<script> args` in `cwd`; returns its stdout."""
    env = dict(os.environ, KERAS_HOME=str(cwd / "keras_home"))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, (
        f"examples/{script} failed with exit code {result.returncode}\n"
        f"--- stdout ---\n{result.stdout[-4000:]}\n"
        f"--- stderr ---\n{result.stderr[-4000:]}"
    )
    return result.stdout


def assert_written(folder, *names):
    for name in names:
        path = folder / name
        assert path.is_file(), f"{path} was not written"
        assert path.stat().st_size > 0, f"{path} is empty"
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path}: not PNG"


@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    """The output folder and stdout of one quick `examples/mnist.py` run."""
    if not MNIST_DIR.exists():
        pytest.skip(f"shared MNIST data not found in {MNIST_DIR}")
    cwd = tmp_path_factory.mktemp("mnist_example")
    stdout = run_example(
        "mnist.py", "--data", MNIST_DIR, *QUICK, "--output", "out", cwd=cwd
    )
    return cwd / "out", stdout


def test_the_examples_are_the_documented_ones():
    assert SCRIPTS == [
        "cifar10.py",
        "export_tflite.py",
        "mnist.py",
        "own_images.py",
    ]


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_says_what_it_does_and_how_to_run_it(script):
    source = (EXAMPLES / script).read_text()
    docstring = ast.get_docstring(ast.parse(source))
    assert docstring, f"examples/{script} has no module docstring"
    assert f"python examples/{script}" in docstring
    # Short enough to read in one go and copy from.
    assert len(source.splitlines()) <= 120


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_help(script, monkeypatch, capsys):
    # In this process: --help exits before anything is loaded or trained.
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert printed.startswith("usage:")
    assert "--output" in printed


@requires_mnist
def test_mnist_example(mnist_run):
    output, stdout = mnist_run
    assert_written(output, "model.keras", "history.png", "sparsity.png")
    assert "Validation accuracy" in stdout
    assert "Effective parameters" in stdout


@requires_mnist
def test_export_tflite_example_float_on_random_images(mnist_run, tmp_path):
    output, _ = mnist_run
    stdout = run_example(
        "export_tflite.py",
        output / "model.keras",
        "--output",
        "float.tflite",
        "--check-images",
        100,
        cwd=tmp_path,
    )
    assert_written(tmp_path, "float.tflite")
    agreement = re.search(
        r"agrees with Keras on ([\d.]+)% of 100 images", stdout
    )
    assert agreement, stdout
    assert float(agreement.group(1)) >= 99


@requires_mnist
def test_export_tflite_example_int8_with_data(mnist_run, tmp_path):
    output, _ = mnist_run
    stdout = run_example(
        "export_tflite.py",
        output / "model.keras",
        "--output",
        "int8.tflite",
        "--quantize",
        "int8",
        "--data",
        MNIST_DIR,
        "--check-images",
        200,
        cwd=tmp_path,
    )
    assert_written(tmp_path, "int8.tflite")
    assert "of 200 images" in stdout
    assert "Accuracy: Keras" in stdout


@requires_cifar10
def test_cifar10_example(tmp_path):
    data = cifar10_subset_folder(tmp_path / "cifar10", per_class=30)
    stdout = run_example(
        "cifar10.py", "--data", data, *QUICK, "--output", "out", cwd=tmp_path
    )
    assert_written(
        tmp_path / "out",
        "model.keras",
        "history.json",
        "history.png",
        "sparsity.png",
    )
    assert "Validation accuracy" in stdout


def test_own_images_example(tmp_path):
    # Colour images of one size: the recipe treats them as it does CIFAR-10.
    folder = write_image_folder(
        tmp_path / "shapes",
        {"circle": 20, "square": 20, "triangle": 20},
        size=(32, 32),
        channels=3,
    )
    stdout = run_example(
        "own_images.py", folder, *QUICK, "--output", "out", cwd=tmp_path
    )
    assert "3 classes: circle, square, triangle" in stdout
    output = tmp_path / "out"
    assert_written(
        output, "model.keras", "classes.json", "history.png", "sparsity.png"
    )
    assert (output / "classes.json").read_text() == (
        '["circle", "square", "triangle"]'
    )
