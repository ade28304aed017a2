"""What GNAP adds to TensorBoard: sparsity, parameters, growth events."""

import json
import os
import warnings

import keras

from keras_gnap.reports.parameter_count import layer_counts

RUN_NAME = "gnap"


class TensorBoardLogger(keras.callbacks.Callback):
    """Logs GNAP's figures to TensorBoard at the end of every epoch.

    `GNAPModel.fit` adds one for each `keras.callbacks.TensorBoard` among
    its callbacks, writing into the run `gnap` of the same log directory,
    so nothing more needs wiring. Scalars, by epoch:

    - `effective_params` and `dense_params` (see `keras_gnap.count_params`
      and `keras_gnap.reports.dense_params`);
    - `sparsity/<layer>`: the share of the layer's kernel weights pruned;
    - `live_units/<layer>` and `units/<layer>`: units that still take part
      in the output, and all units.

    And the text `growth_events`: one JSON entry per growth (epoch, widths
    before and after, parameters), written at the epoch of the growth.

    The writer is TensorFlow's (`tf.summary`), as for Keras's own
    `TensorBoard` callback; it works on every Keras backend when
    TensorFlow and TensorBoard are installed. Without them this callback
    warns once and logs nothing.

    Args:
        log_dir: str or path. The TensorBoard log directory.
        growth: the `GrowthCallback` of the run, whose `growth_events` are
            logged, or `None`. Defaults to `None`.
    """

    def __init__(self, log_dir, growth=None):
        super().__init__()
        self.log_dir = os.fspath(log_dir)
        self.growth = growth
        self._writer = None
        self._summary = None
        self._logged_events = 0

    def on_train_begin(self, logs=None):
        try:
            import tensorflow as tf
        except ImportError:
            warnings.warn(
                "GNAP's TensorBoard logging needs TensorFlow's summary "
                'writer: pip install "keras-gnap[tensorflow]". Sparsity, '
                "effective parameters and growth events are not logged.",
                stacklevel=2,
            )
            return
        self._summary = tf.summary
        self._writer = tf.summary.create_file_writer(
            os.path.join(self.log_dir, RUN_NAME)
        )
        self._logged_events = 0

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            return
        summary = self._summary
        counts = layer_counts(self.model)
        with self._writer.as_default(step=epoch):
            summary.scalar(
                "effective_params", sum(c.effective_params for c in counts)
            )
            summary.scalar("dense_params", sum(c.dense_params for c in counts))
            for count in counts:
                if count.kernel_shape is None:
                    continue
                pruned = 1 - count.active_weights / max(count.weights, 1)
                summary.scalar(f"sparsity/{count.name}", pruned)
                summary.scalar(f"live_units/{count.name}", count.live_units)
                summary.scalar(f"units/{count.name}", count.units)
            for event in self._new_growth_events():
                summary.text("growth_events", json.dumps(_short(event)))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _new_growth_events(self):
        events = getattr(self.growth, "growth_events", None) or []
        new = events[self._logged_events :]
        self._logged_events = len(events)
        return new


def _short(event):
    keys = (
        "epoch",
        "widths_before",
        "widths_after",
        "effective_params_before",
        "effective_params_after",
        "dense_params_before",
        "dense_params_after",
    )
    return {key: event[key] for key in keys if key in event}
