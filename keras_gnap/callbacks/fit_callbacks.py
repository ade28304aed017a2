"""The callbacks `GNAPModel.fit` adds to the ones it is given."""

import keras

from keras_gnap.callbacks.progress_logger import ProgressLogger
from keras_gnap.callbacks.tensorboard_logger import TensorBoardLogger


def with_gnap_callbacks(callbacks, verbose):
    """Returns `callbacks` with GNAP's progress bar and TensorBoard logging.

    - A `ProgressLogger` in place of Keras's default progress bar, unless
      `verbose` is 0 or a `keras.callbacks.ProgbarLogger` is given.
    - A `TensorBoardLogger` for each `keras.callbacks.TensorBoard`, into
      the same log directory, with the growth events of the first callback
      that records them (a `GrowthCallback`).

    They go last, so that they see what the other callbacks logged.

    Args:
        callbacks: list of Keras callbacks, a `keras.callbacks.CallbackList`
            (returned as it is) or `None`.
        verbose: `fit`'s `verbose`.

    Returns:
        A list of callbacks, or the given `CallbackList`.
    """
    if isinstance(callbacks, keras.callbacks.CallbackList):
        return callbacks
    callbacks = list(callbacks or [])
    growth = next((c for c in callbacks if hasattr(c, "growth_events")), None)
    added = [
        TensorBoardLogger(c.log_dir, growth=growth)
        for c in callbacks
        if isinstance(c, keras.callbacks.TensorBoard)
    ]
    if verbose != 0 and not any(
        isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks
    ):
        added.append(ProgressLogger())
    return callbacks + added
