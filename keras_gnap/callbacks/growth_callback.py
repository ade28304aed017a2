"""The policy that grows a GNAP network each time its training saturates."""

import warnings

import keras
import numpy as np

from keras_gnap.growth.grow import grow
from keras_gnap.growth.growth_rule import check_growth_arguments
from keras_gnap.growth.growth_rule import plan_growth
from keras_gnap.growth.optimizer_transfer import retrace_training
from keras_gnap.growth.schedule_restart import fresh_schedule
from keras_gnap.growth.schedule_restart import learning_rate_schedule
from keras_gnap.growth.schedule_restart import schedule_span
from keras_gnap.growth.weight_rescale import rescale_to_initial_scale
from keras_gnap.models.gnap_model import GNAPModel
from keras_gnap.reports.parameter_count import count_params
from keras_gnap.reports.parameter_count import dense_params
from keras_gnap.topology import gated_widths

EFFECTIVE_PARAMS_LOG = "effective_params"
AUTO = "auto"
# `patience="auto"`: this fraction of fit's epochs, at least 1.
AUTO_PATIENCE = 0.05
# `max_params="auto"`: this many times the dense count when fit starts.
AUTO_MAX_PARAMS = 6
# No growth after this fraction of the epochs: a growth needs the epochs
# after it to train its new units and prune them.
GROWTH_UNTIL = 0.75
# No reopening of closed gates at growths after this fraction of the
# epochs: reopened weights need time to be pruned again.
REOPEN_UNTIL = 0.5
# Spread of the noise on a split copy's incoming weights, relative to its
# source's: copies that start distinct learn distinct features.
SPLIT_NOISE = 1.0


class GrowthCallback(keras.callbacks.Callback):
    """Grows a `GNAPModel` each time the monitored metric saturates.

    Saturation follows `keras.callbacks.EarlyStopping`: the metric has not
    improved by more than `min_delta` for `patience` epochs. Then the
    network grows (see `keras_gnap.grow` and `keras_gnap.plan_growth`),
    the optimizer is rebuilt with its state carried over, and training goes
    on with the wider network. After a growth the counters reset (the wait
    and the best value), so the grown network is judged once it has
    saturated in turn. Growth stops for good, leaving pruning to converge,
    when the best value of the last growth phase did not improve on the
    best before that growth, when `max_growths` growths have been made,
    when the next growth would exceed `max_params`, or once training is
    past 75% of its epochs: a growth needs the epochs after it to train
    its new units and prune them, and one made in the last epochs, when a
    decaying learning rate is near zero, would only add parameters. With
    `verbose`, a run that never grew says why when it ends.

    Every epoch's logs get `effective_params` (see
    `keras_gnap.count_params`), so it shows in the progress bar, the
    `History` and `CSVLogger`. `growth_events` lists each growth, and a
    `GNAPModel`'s `fit` returns it too, as its `History`'s
    `growth_events`. With `verbose`, each growth and the end of growth are
    one line printed after the epoch's progress bar. Growth
    works inside `fit` on every Keras backend (TensorFlow, JAX, PyTorch):
    at the end of an epoch the model takes the grown network, and the
    optimizer and compiled steps are rebuilt for its variables through
    public Keras API (see
    `keras_gnap.growth.optimizer_transfer.retrace_training`).

    The way a growth starts the wider network is fixed, each part measured
    to help (see docs/experiments.md): new units are split copies of the
    most used units, made distinct by noise on their incoming weights;
    growths in the first half of the epochs reopen every closed gate over
    a zero weight, so pruning decides afresh what the wider network keeps;
    batch-normalised kernels are scaled back to the He scale of a fresh
    layer (outputs unchanged) and the optimizer starts afresh, with a
    decaying learning-rate schedule restarted over the steps that remain.

    Args:
        monitor: str. Quantity to monitor. Defaults to `"val_loss"`.
        min_delta: float. Minimum change that counts as an improvement.
            Defaults to 0.
        patience: int, or `"auto"`: epochs with no improvement before the
            network grows. `"auto"` is 5% of the `epochs` of `fit`, at
            least 1 (2 of 40 epochs, 10 of 200). Defaults to `"auto"`.
        mode: str. `"auto"`, `"min"` or `"max"`; in `"auto"` the direction
            is inferred from the name of `monitor`. Defaults to `"auto"`.
        max_growths: int. Most growths in one `fit`. Defaults to 3.
        growth_factor: float. Relative growth of the most open layer at
            each growth; 1 doubles it. Defaults to 1.0.
        max_params: int, `"auto"` or `None`. Largest dense parameter count
            (see `keras_gnap.reports.dense_params`) the network may reach.
            `"auto"` is 6 times the network's count when `fit` starts;
            `None` sets no limit. Defaults to `"auto"`.
        verbose: int. 1 prints a line for each growth, for the end of
            growth, and why a run never grew. Defaults to 1.

    Raises:
        ValueError: if an argument is out of range.

    Example:

    >>> model = keras_gnap.build_gnap((28, 28, 1), classes=10)
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> growth = keras_gnap.GrowthCallback()
    >>> model.fit(x, y, validation_split=0.1, epochs=20, callbacks=[growth])
    >>> growth.growth_events[0]["widths_after"]
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience="auto",
        mode="auto",
        max_growths=3,
        growth_factor=1.0,
        max_params="auto",
        verbose=1,
    ):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                "Argument `mode` must be one of 'auto', 'min', 'max'. "
                f"Received: mode={mode!r}"
            )
        if patience != AUTO:
            _check_count("patience", patience, minimum=0)
        _check_count("max_growths", max_growths, minimum=0)
        if max_params not in (None, AUTO):
            _check_count("max_params", max_params, minimum=1)
        check_growth_arguments(growth_factor, None)
        if isinstance(min_delta, bool) or not isinstance(
            min_delta, (int, float)
        ):
            raise ValueError(
                "Argument `min_delta` must be a number. "
                f"Received: min_delta={min_delta!r}"
            )
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.mode = mode
        self.max_growths = max_growths
        self.growth_factor = growth_factor
        self.max_params = max_params
        self.verbose = verbose
        if mode == "min" or (mode == "auto" and not _is_accuracy(monitor)):
            self.monitor_op = np.less
        else:
            self.monitor_op = np.greater
        self.growth_events = []
        self.stopped_growing = None
        self.missing_monitor = False
        self._restored = None

    def get_state(self):
        """Returns what the policy knows of the run so far, as JSON data.

        With `set_state`, a run stopped after an epoch goes on as if it
        had not stopped (see `keras_gnap.training.train(resume=True)`).

        Returns:
            A dict of JSON-serialisable values.
        """
        return {
            "patience": self.patience_,
            "max_params": self.max_params_,
            "wait": self.wait,
            "best": float(self.best),
            "best_before_growth": self.best_before_growth,
            "growth_events": self.growth_events,
            "stopped_growing": self.stopped_growing,
            "missing_monitor": self.missing_monitor,
        }

    def set_state(self, state):
        """Makes the next `fit` go on from `state` (from `get_state`).

        Args:
            state: dict returned by `get_state`.
        """
        self._restored = dict(state)

    def on_train_begin(self, logs=None):
        if not isinstance(self.model, GNAPModel):
            raise TypeError(
                "GrowthCallback needs a keras_gnap.GNAPModel, so that the "
                "model you hold can become the grown one. Build it with "
                "keras_gnap.build_gnap(...) or wrap your network: "
                "keras_gnap.GNAPModel(network). Received: model of type "
                f"{type(self.model).__name__}"
            )
        epochs = (self.params or {}).get("epochs") or 0
        # Resolved per fit: the same callback may train for other epochs.
        self.patience_ = (
            max(1, round(AUTO_PATIENCE * epochs))
            if self.patience == AUTO
            else self.patience
        )
        self.max_params_ = (
            AUTO_MAX_PARAMS * dense_params(self.model)
            if self.max_params == AUTO
            else self.max_params
        )
        self.wait = 0
        self.best = np.inf if self.monitor_op is np.less else -np.inf
        self.best_before_growth = None
        self.growth_events = []
        self.stopped_growing = None
        self.missing_monitor = False
        self._notices = []
        if self._restored is not None:
            state, self._restored = self._restored, None
            self.patience_ = state["patience"]
            self.max_params_ = state["max_params"]
            self.wait = state["wait"]
            self.best = state["best"]
            self.best_before_growth = state["best_before_growth"]
            self.growth_events = list(state["growth_events"])
            self.stopped_growing = state["stopped_growing"]
            self.missing_monitor = state["missing_monitor"]

    def on_epoch_begin(self, epoch, logs=None):
        self._print_notices()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs[EFFECTIVE_PARAMS_LOG] = count_params(self.model)
        current = logs.get(self.monitor)
        if current is None:
            self.missing_monitor = True
            warnings.warn(
                f"GrowthCallback is conditioned on metric `{self.monitor}` "
                "which is not available. Available metrics are: "
                f"{','.join(logs.keys())}",
                stacklevel=2,
            )
            return
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
            return
        self.wait += 1
        if self.stopped_growing is not None or self.wait < self.patience_:
            return
        self.wait = 0
        reason = self._reason_to_stop(epoch)
        if reason is None:
            reason = self._grow(epoch, current, logs[EFFECTIVE_PARAMS_LOG])
        if reason is not None:
            self.stopped_growing = {"epoch": epoch + 1, "reason": reason}
            self._notices.append(
                f"Epoch {epoch + 1}: GNAP stops growing: {reason}."
            )

    def on_train_end(self, logs=None):
        self._print_notices()
        if self.verbose and not self.growth_events:
            if self.stopped_growing is not None:
                why = self.stopped_growing["reason"]
            elif self.missing_monitor:
                why = (
                    f"{self.monitor} was not logged (for val_loss, give fit "
                    "validation data)"
                )
            else:
                epochs = "epoch" if self.patience_ == 1 else "epochs"
                why = (
                    f"{self.monitor} never went {self.patience_} {epochs} "
                    "without improving (patience)"
                )
            print(f"GNAP did not grow: {why}.")

    def _print_notices(self):
        # Printed when the next epoch begins (or training ends), so that
        # they come after the epoch's progress bar, not inside it.
        if self.verbose:
            for notice in self._notices:
                print(notice)
        self._notices = []

    def _is_improvement(self, current, reference):
        if self.monitor_op is np.less:
            return bool(np.less(current + self.min_delta, reference))
        return bool(np.greater(current - self.min_delta, reference))

    def _past(self, fraction, epoch):
        # Whether `epoch` (0-based) ends past `fraction` of fit's epochs.
        epochs = (self.params or {}).get("epochs")
        return bool(epochs) and epoch + 1 > fraction * epochs

    def _reason_to_stop(self, epoch):
        if len(self.growth_events) >= self.max_growths:
            return f"reached max_growths={self.max_growths}"
        if self._past(GROWTH_UNTIL, epoch):
            epochs = self.params["epochs"]
            return (
                f"past {GROWTH_UNTIL:.0%} of the {epochs} epochs: the rest "
                "is left to pruning"
            )
        if self.best_before_growth is not None and not self._is_improvement(
            self.best, self.best_before_growth
        ):
            return (
                f"the last growth did not improve the best {self.monitor} "
                f"({self.best_before_growth:.4g} before it, "
                f"{self.best:.4g} after)"
            )
        return None

    def _grow(self, epoch, current, effective_before):
        network = self.model.network
        widths = plan_growth(network, self.growth_factor)
        if not widths:
            return "no layer can grow further"
        reopen = not self._past(REOPEN_UNTIL, epoch)
        grown = grow(
            network,
            widths=widths,
            new_units="split",
            split_noise=SPLIT_NOISE,
            reopen_pruned=reopen,
        )
        if self.max_params_ is not None and dense_params(grown) > (
            self.max_params_
        ):
            return (
                "the next growth would exceed max_params="
                f"{self.max_params_:,} dense parameters"
            )
        widths_before = gated_widths(network)
        dense_before = dense_params(network)
        self.model.replace_network(grown)
        # A fresh optimizer for the rescaled kernels, whose old moments no
        # longer fit their gradients, with a decaying schedule run again
        # over the steps that remain. A schedule already at its end cannot
        # start again: then the state is carried over and nothing rescaled.
        schedule = learning_rate_schedule(self.model.optimizer)
        learning_rate, reset = None, True
        if schedule_span(schedule) is not None:
            restarted = fresh_schedule(
                schedule, int(self.model.optimizer.iterations.numpy())
            )
            if restarted is schedule:
                reset = False
            else:
                learning_rate = restarted
        rescaled = rescale_to_initial_scale(grown) if reset else {}
        retrace_training(
            self.model, learning_rate=learning_rate, reset_state=reset
        )
        event = {
            "epoch": epoch + 1,
            "monitor": self.monitor,
            "monitor_value": float(current),
            "best_before": float(self.best),
            "widths_before": widths_before,
            "widths_after": gated_widths(grown),
            "effective_params_before": int(effective_before),
            "effective_params_after": int(count_params(self.model)),
            "dense_params_before": int(dense_before),
            "dense_params_after": int(dense_params(grown)),
            "reopened_pruned": reopen,
            "restarted_schedule": learning_rate is not None,
            "rescaled_weights": rescaled,
            "reset_optimizer": reset,
        }
        self.growth_events.append(event)
        self.best_before_growth = float(self.best)
        self.best = np.inf if self.monitor_op is np.less else -np.inf
        self._notices.append(growth_notice(event, len(self.growth_events)))
        return None


def growth_notice(event, number):
    """The one line that tells of a growth.

    Args:
        event: dict, one of `GrowthCallback.growth_events`.
        number: int. Which growth of the run it is, from 1.

    Returns:
        A str such as `"Epoch 7: GNAP growth 1: widths 8-16-32 ->
        16-32-64, dense params 4,342 -> 16,010."`.
    """
    before = "-".join(str(w) for w in event["widths_before"].values())
    after = "-".join(str(w) for w in event["widths_after"].values())
    return (
        f"Epoch {event['epoch']}: GNAP growth {number}: widths {before} -> "
        f"{after}, dense params {event['dense_params_before']:,} -> "
        f"{event['dense_params_after']:,}."
    )


def _is_accuracy(monitor):
    name = monitor.lower()
    return any(
        key in name for key in ("acc", "auc", "precision", "recall", "f1")
    )


def _check_count(name, value, minimum):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
