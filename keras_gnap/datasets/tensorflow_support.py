"""TensorFlow is optional: whether it is installed, and the error if needed.

Nothing here imports TensorFlow. The rest of the package asks
`tensorflow_available()` (tests patch it to exercise the TensorFlow-free
paths) and raises `missing_dependency_error(...)` where a feature cannot
work without TensorFlow or its companions.
"""

import importlib.util

# The extra that installs TensorFlow, TensorFlow Datasets and LiteRT.
INSTALL_COMMAND = 'pip install "keras-gnap[tensorflow]"'


def tensorflow_available():
    """Whether TensorFlow is installed, found without importing it.

    Returns:
        A bool.
    """
    return importlib.util.find_spec("tensorflow") is not None


def missing_dependency_error(feature, module="tensorflow"):
    """The `ImportError` for a feature whose dependency is not installed.

    Args:
        feature: str. What needs the dependency, as the start of a
            sentence, e.g. `"Exporting to TFLite"`.
        module: str. The module that is missing. Defaults to
            `"tensorflow"`.

    Returns:
        An `ImportError` (to raise) whose message says what to install.
    """
    return ImportError(
        f"{feature} needs `{module}`, which is not installed. Install it "
        f"with `{INSTALL_COMMAND}`."
    )


def require_tensorflow(feature):
    """Raises an actionable `ImportError` if TensorFlow is not installed.

    Args:
        feature: str. What needs TensorFlow, as the start of a sentence.

    Raises:
        ImportError: if TensorFlow is not installed.
    """
    if not tensorflow_available():
        raise missing_dependency_error(feature)
