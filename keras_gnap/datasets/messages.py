"""Messages to the user: error text and progress notes."""

import os

import keras
import numpy as np


def announce(message):
    """Prints a progress note unless Keras's interactive logging is off."""
    if keras.config.is_interactive_logging_enabled():
        print(message, flush=True)


def describe_source(source):
    """`source=...` for the end of an error message.

    Arrays are summarised by shape and dtype instead of printed.
    """
    if isinstance(source, (tuple, list)):
        parts = ", ".join(_describe_value(v) for v in source)
        return f"source=({parts})"
    return f"source={_describe_value(source)}"


def _describe_value(value):
    if isinstance(value, os.PathLike):
        return repr(os.fspath(value))
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return (
            f"array(shape={tuple(value.shape)}, dtype={np.dtype(value.dtype)})"
        )
    return repr(value)
