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
    growth = growth_recorder(callbacks)
    # One logger per log directory, none where the user put one.
    covered = {c.log_dir for c in callbacks if isinstance(c, TensorBoardLogger)}
    added = []
    for callback in callbacks:
        if isinstance(callback, keras.callbacks.TensorBoard):
            log_dir = str(callback.log_dir)
            if log_dir not in covered:
                covered.add(log_dir)
                added.append(TensorBoardLogger(log_dir, growth=growth))
    if verbose != 0 and not any(
        isinstance(c, keras.callbacks.ProgbarLogger) for c in callbacks
    ):
        added.append(ProgressLogger())
    return callbacks + added


def growth_recorder(callbacks):
    """The first of `callbacks` that records growth events, or `None`.

    Args:
        callbacks: list of Keras callbacks, a `CallbackList` or `None`.

    Returns:
        A callback with a `growth_events` list (a `GrowthCallback`), or
        `None`.
    """
    if isinstance(callbacks, keras.callbacks.CallbackList):
        callbacks = callbacks.callbacks
    return next(
        (c for c in callbacks or [] if hasattr(c, "growth_events")), None
    )
