"""The progress bar of a GNAP `fit`: whole-run progress, counts as counts."""

import time

import keras


class ProgressLogger(keras.callbacks.ProgbarLogger):
    """Keras's progress bar, with the run's progress and integer counts.

    `GNAPModel.fit` uses it in place of `keras.callbacks.ProgbarLogger`
    (unless a `ProgbarLogger` is among the callbacks). Each epoch starts
    with a line like `Epoch 5/40 - 3m 10s so far, about 22m left`, the
    time left judged by the last epochs (a growth makes epochs slower), and
    integer logs such as `effective_params` show as `4,706` rather than
    `4706.0000`. Everything else is Keras's bar.
    """

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._started = time.perf_counter()
        self._epoch_seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        # Keras's own "Epoch k/n" line is replaced by a longer one.
        epochs, self.epochs = self.epochs, 1
        super().on_epoch_begin(epoch, logs)
        self.epochs = epochs
        self._epoch_started = time.perf_counter()
        if self.verbose and epochs > 1:
            elapsed = time.perf_counter() - self._started
            print(run_progress(epoch, epochs, elapsed, self._left(epoch)))

    def on_epoch_end(self, epoch, logs=None):
        self._epoch_seconds.append(time.perf_counter() - self._epoch_started)
        logs = {
            key: _Count(value) if _is_count(value) else value
            for key, value in (logs or {}).items()
        }
        super().on_epoch_end(epoch, logs)

    def _left(self, epoch):
        if not self._epoch_seconds:
            return None
        recent = sorted(self._epoch_seconds[-3:])
        return recent[len(recent) // 2] * (self.epochs - epoch)


def run_progress(epoch, epochs, elapsed, left):
    """The line that opens an epoch: where the run is, and time left.

    Args:
        epoch: int. The epoch about to start, 0-based.
        epochs: int. Epochs of the run.
        elapsed: float. Seconds since the run started.
        left: float or None. Seconds the run still needs, if known.

    Returns:
        A str such as `"Epoch 5/40 - 3m 10s so far, about 22m left"`.
    """
    line = f"Epoch {epoch + 1}/{epochs}"
    if epoch == 0:
        return line
    line += f" - {format_duration(elapsed)} so far"
    if left is not None:
        line += f", about {format_duration(left)} left"
    return line


def format_duration(seconds):
    """Writes a duration the way a person reads it.

    Args:
        seconds: float. The duration.

    Returns:
        A str such as `"45s"`, `"3m 10s"` or `"1h 05m"`.
    """
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


class _Count(float):
    """An integer log value that Keras's `Progbar` prints as `4,706`.

    `Progbar` averages every value over steps (multiplies, adds, divides)
    and formats the result with `.4f` or `.4e`; this float keeps its
    integer look through all of them. Only `ProgressLogger.on_epoch_end`
    makes one, so only the end-of-epoch figures take this look.
    """

    def __mul__(self, other):
        return _Count(float(self) * other)

    __rmul__ = __mul__

    def __add__(self, other):
        return _Count(float(self) + other)

    __radd__ = __add__

    def __truediv__(self, other):
        return _Count(float(self) / other)

    def __format__(self, spec):
        # Whatever format Progbar asks for: the count, as a person reads it.
        return f"{round(self):,}"
