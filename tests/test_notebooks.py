"""The notebooks in notebooks/: committed clean, and run end to end.

Each notebook runs in a fresh IPython kernel (nbclient), papermill-style:
a cell inserted after the one tagged `parameters` points it at the shared
local data and cuts it to one epoch on a few hundred images. A cell that
raises fails the test (`nbclient.exceptions.CellExecutionError`).
"""

import os
from pathlib import Path

import nbformat
import pytest
from data_helpers import CIFAR10_TAR
from data_helpers import MNIST_DIR
from data_helpers import cifar10_subset_folder
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
# Per cell; a quick run's slowest cell (training or export) takes seconds.
CELL_TIMEOUT = 300

requires_mnist = pytest.mark.skipif(
    not MNIST_DIR.exists(), reason=f"shared MNIST data not found in {MNIST_DIR}"
)
requires_cifar10 = pytest.mark.skipif(
    not CIFAR10_TAR.exists(),
    reason=f"shared CIFAR-10 tarball not found at {CIFAR10_TAR}",
)


def read(name):
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def parameters_index(notebook):
    indices = [
        index
        for index, cell in enumerate(notebook.cells)
        if "parameters" in cell.metadata.get("tags", [])
    ]
    assert len(indices) == 1, "expected exactly one cell tagged `parameters`"
    return indices[0]


def execute(name, parameters, cwd):
    """Runs notebook `name` in `cwd` with `parameters` overridden.

    Returns:
        The executed notebook, with its outputs.
    """
    notebook = read(name)
    source = "\n".join(
        f"{key} = {value!r}" for key, value in parameters.items()
    )
    injected = nbformat.v4.new_code_cell(
        "# Parameters of the test run\n" + source
    )
    injected.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(parameters_index(notebook) + 1, injected)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return notebook


def outputs_of(notebook, text):
    """The outputs of the code cell whose source contains `text`."""
    cells = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and text in cell.source
    ]
    assert len(cells) == 1, f"expected one code cell with {text!r}"
    return cells[0].outputs


def shows_image(outputs):
    return any("image/png" in output.get("data", {}) for output in outputs)


@pytest.fixture
def quick_env(tmp_path, monkeypatch):
    # Inherited by the kernel: archives are extracted into the test folder.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    return tmp_path


def backend():
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def test_the_notebooks_are_the_documented_ones():
    assert NAMES == [
        "01_quickstart_mnist.ipynb",
        "02_cifar10_gpu.ipynb",
        "03_export_tflite.ipynb",
    ]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_clean(name):
    notebook = read(name)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {index} has outputs"
            assert cell.execution_count is None, (
                f"cell {index} has an execution count"
            )
    title = notebook.cells[0]
    assert title.cell_type == "markdown"
    assert title.source.startswith("# ")
    assert "Colab" in title.source
    # The install cell comes before the parameters, and installs only
    # where keras_gnap is missing, from a repository the user sets.
    index = parameters_index(notebook)
    assert notebook.cells[index].cell_type == "code"
    install = [
        cell.source
        for cell in notebook.cells[:index]
        if cell.cell_type == "code" and "pip" in cell.source
    ]
    assert len(install) == 1
    assert 'find_spec("keras_gnap") is None' in install[0]
    assert "REPOSITORY = " in install[0]


@requires_mnist
def test_quickstart_notebook_runs(quick_env):
    notebook = execute(
        "01_quickstart_mnist.ipynb",
        {
            "DATA": str(MNIST_DIR),
            "EPOCHS": 1,
            "LIMIT": 300,
            "BACKEND": backend(),
            "OUTPUT": "out",
        },
        quick_env,
    )
    assert shows_image(outputs_of(notebook, "plot_history("))
    assert shows_image(outputs_of(notebook, "plot_sparsity("))
    assert (quick_env / "out" / "model.keras").is_file()


@requires_cifar10
def test_cifar10_notebook_runs(quick_env):
    data = cifar10_subset_folder(quick_env / "cifar10", per_class=20)
    notebook = execute(
        "02_cifar10_gpu.ipynb",
        {
            "DATA": str(data),
            "EPOCHS": 1,
            "LIMIT": 200,
            "BACKEND": backend(),
            "OUTPUT": "out",
        },
        quick_env,
    )
    printed = "".join(
        output.get("text", "")
        for output in outputs_of(notebook, "list_devices()")
    )
    assert f"on {backend()}: [" in printed
    assert shows_image(outputs_of(notebook, "plot_history("))
    assert shows_image(outputs_of(notebook, "plot_sparsity("))
    assert (quick_env / "out" / "model.keras").is_file()
    assert (quick_env / "out" / "history.json").is_file()


@requires_mnist
def test_export_notebook_runs(quick_env):
    notebook = execute(
        "03_export_tflite.ipynb",
        {
            "DATA": str(MNIST_DIR),
            "EPOCHS": 1,
            "LIMIT": 300,
            "CHECK_IMAGES": 200,
            "OUTPUT": "out",
        },
        quick_env,
    )
    table = outputs_of(notebook, "Markdown(")[-1]["data"]["text/markdown"]
    for row in ("GNAP, float32", "GNAP, int8", "Dense, float32"):
        assert f"| {row} |" in table
    for name in ("gnap.tflite", "gnap_int8.tflite", "dense.tflite"):
        assert (quick_env / "out" / name).stat().st_size > 0
