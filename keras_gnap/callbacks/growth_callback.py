"""The policy that grows a GNAP network each time its training saturates."""

import warnings

import keras
import numpy as np

from keras_gnap.growth.gate_reopening import check_reopen_pruned
from keras_gnap.growth.grow import grow
from keras_gnap.growth.growth_rule import check_growth_arguments
from keras_gnap.growth.growth_rule import plan_growth
from keras_gnap.growth.optimizer_transfer import retrace_training
from keras_gnap.growth.schedule_restart import fresh_schedule
from keras_gnap.growth.schedule_restart import learning_rate_schedule
from keras_gnap.growth.schedule_restart import restart_schedule
from keras_gnap.growth.schedule_restart import schedule_span
from keras_gnap.growth.unit_split import SPLIT_NOISE
from keras_gnap.growth.unit_split import check_new_units
from keras_gnap.growth.unit_split import check_split_noise
from keras_gnap.growth.weight_rescale import rescale_to_initial_scale
from keras_gnap.layers.gated_layer import GatedLayer
from keras_gnap.models.gnap_model import GNAPModel
from keras_gnap.reports.parameter_count import count_params
from keras_gnap.reports.parameter_count import dense_params

EFFECTIVE_PARAMS_LOG = "effective_params"


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
    past `growth_until` of its epochs: a growth needs the epochs after it
    to train its new units and prune them, and one made in the last
    epochs, when a decaying learning rate is near zero, would only add
    parameters.

    Every epoch's logs get `effective_params` (see
    `keras_gnap.count_params`), so it shows in the progress bar, the
    `History` and `CSVLogger`. `growth_events` lists each growth. Growth
    works inside `fit` on every Keras backend (TensorFlow, JAX, PyTorch):
    at the end of an epoch the model takes the grown network, and the
    optimizer and compiled steps are rebuilt for its variables through
    public Keras API (see
    `keras_gnap.growth.optimizer_transfer.retrace_training`).

    Args:
        monitor: str. Quantity to monitor. Defaults to `"val_loss"`.
        min_delta: float. Minimum change that counts as an improvement.
            Defaults to 0.
        patience: int. Epochs with no improvement before the network
            grows. Defaults to 3.
        verbose: int. 1 prints a line for each growth and for the end of
            growth. Defaults to 0.
        mode: str. `"auto"`, `"min"` or `"max"`; in `"auto"` the direction
            is inferred from the name of `monitor`. Defaults to `"auto"`.
        max_growths: int. Most growths in one `fit`. Defaults to 5.
        growth_factor: float. Relative growth of the most open layer at
            each growth. Defaults to 0.5.
        max_width: int. Largest width any layer may reach, or `None`.
            Defaults to `None`.
        max_params: int. Largest dense parameter count (see
            `keras_gnap.reports.dense_params`) the network may reach, or
            `None`. Defaults to `None`.
        growth_until: float in (0, 1]. Fraction of the `epochs` of `fit`
            after which the network no longer grows, so the remaining
            epochs are left to pruning and fine-tuning; `None` (or 1)
            allows growth until the last epoch. Defaults to 0.75.
        new_units: str. How the units a growth adds start: `"split"`
            (copies of the most used units, sharing their outgoing weights)
            or `"zero"` (fresh incoming and zero outgoing weights); see
            `keras_gnap.grow`. Defaults to `"split"`.
        split_noise: float. Spread of the noise on a split copy's incoming
            weights, relative to its source's (see `keras_gnap.grow`).
            Defaults to 0 (no noise).
        reopen_pruned: bool. Whether a growth reopens every closed gate
            over a zero weight, so that pruning decides afresh what the
            wider network keeps (see `keras_gnap.grow`). Defaults to
            `False`.
        reopen_until: float in (0, 1]. With `reopen_pruned`, the fraction
            of the epochs after which growths no longer reopen gates: the
            weights a late growth reopens have no time to be pruned again.
            Defaults to 0.5.
        restart_schedule: bool. Whether each growth restarts the
            optimizer's decaying learning-rate schedule, compressed into
            the steps that remain (see
            `keras_gnap.growth.schedule_restart`), so the grown network
            trains its new units at a high rate again. Needs a schedule
            with `decay_steps`, such as `CosineDecay`. Defaults to `False`.
        warm_second_moment: bool. Whether the new weights' second-moment
            estimates (Adam's `velocity`) start at the mean of the old
            weights' instead of zero, so that their first steps are not
            about three times the learning rate (see
            `keras_gnap.growth.rebuild_optimizer`). Defaults to `False`.
        rescale_weights: bool. Whether each growth scales the kernels of
            batch-normalised gated layers back down to the He scale of a
            fresh layer, which leaves their outputs unchanged: trained
            kernels grow several times larger, and Adam's steps of about
            one learning rate then turn them little, so the grown network
            learns like an old one (see
            `keras_gnap.growth.rescale_to_initial_scale`). Needs
            `reset_optimizer`, since the moments of a rescaled kernel no
            longer fit its gradients. Defaults to `False`.
        reset_optimizer: bool. Whether each growth starts the optimizer
            from a fresh state (moments at zero, step count at 0, so bias
            correction warms up again) with its decaying learning-rate
            schedule run over the steps that remain (see
            `keras_gnap.growth.fresh_schedule`), instead of carrying its
            state over. Needs `restart_schedule`; excludes
            `warm_second_moment`. Defaults to `False`.

    Raises:
        ValueError: if an argument is out of range.

    Example:

    >>> model = keras_gnap.build_gnap((28, 28, 1), classes=10)
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> growth = keras_gnap.GrowthCallback(patience=2)
    >>> model.fit(x, y, validation_split=0.1, epochs=20, callbacks=[growth])
    >>> growth.growth_events[0]["widths_after"]
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=3,
        verbose=0,
        mode="auto",
        max_growths=5,
        growth_factor=0.5,
        max_width=None,
        max_params=None,
        growth_until=0.75,
        new_units="split",
        split_noise=SPLIT_NOISE,
        reopen_pruned=False,
        reopen_until=0.5,
        restart_schedule=False,
        warm_second_moment=False,
        rescale_weights=False,
        reset_optimizer=False,
    ):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                "Argument `mode` must be one of 'auto', 'min', 'max'. "
                f"Received: mode={mode!r}"
            )
        _check_count("patience", patience, minimum=0)
        _check_count("max_growths", max_growths, minimum=0)
        if max_params is not None:
            _check_count("max_params", max_params, minimum=1)
        check_growth_arguments(growth_factor, max_width)
        check_new_units(new_units)
        check_split_noise(split_noise)
        if growth_until is not None:
            _check_fraction("growth_until", growth_until, or_none=True)
        _check_fraction("reopen_until", reopen_until)
        check_reopen_pruned(reopen_pruned)
        _check_flag("restart_schedule", restart_schedule)
        _check_flag("warm_second_moment", warm_second_moment)
        _check_flag("rescale_weights", rescale_weights)
        _check_flag("reset_optimizer", reset_optimizer)
        if rescale_weights and not reset_optimizer:
            raise ValueError(
                "Argument `rescale_weights=True` needs `reset_optimizer=True`:"
                " the optimizer's moments of a rescaled kernel no longer fit "
                "its gradients. Received: rescale_weights=True, "
                "reset_optimizer=False"
            )
        if reset_optimizer and warm_second_moment:
            raise ValueError(
                "Arguments `reset_optimizer` and `warm_second_moment` exclude "
                "each other: a fresh optimizer carries no second moments to "
                "start warm. Received: reset_optimizer=True, "
                "warm_second_moment=True"
            )
        if reset_optimizer and not restart_schedule:
            raise ValueError(
                "Argument `reset_optimizer=True` needs "
                "`restart_schedule=True`: a fresh optimizer counts its steps "
                "from 0, so its schedule starts again. Received: "
                "reset_optimizer=True, restart_schedule=False"
            )
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.max_growths = max_growths
        self.growth_factor = growth_factor
        self.max_width = max_width
        self.max_params = max_params
        self.growth_until = growth_until
        self.new_units = new_units
        self.split_noise = split_noise
        self.reopen_pruned = reopen_pruned
        self.reopen_until = reopen_until
        self.restart_schedule = restart_schedule
        self.warm_second_moment = warm_second_moment
        self.rescale_weights = rescale_weights
        self.reset_optimizer = reset_optimizer
        if mode == "min" or (mode == "auto" and not _is_accuracy(monitor)):
            self.monitor_op = np.less
        else:
            self.monitor_op = np.greater
        self.growth_events = []
        self.stopped_growing = None

    def on_train_begin(self, logs=None):
        if not isinstance(self.model, GNAPModel):
            raise TypeError(
                "GrowthCallback needs a keras_gnap.GNAPModel, so that the "
                "model you hold can become the grown one. Build it with "
                "keras_gnap.build_gnap(...) or wrap your network: "
                "keras_gnap.GNAPModel(network). Received: model of type "
                f"{type(self.model).__name__}"
            )
        if self.restart_schedule:
            schedule = learning_rate_schedule(self.model.optimizer)
            if schedule_span(schedule) is None:
                raise ValueError(
                    "Argument `restart_schedule=True` needs the optimizer's "
                    "learning rate to be a decaying schedule with "
                    "`decay_steps`, such as keras.optimizers.schedules."
                    "CosineDecay. Received: learning_rate="
                    f"{schedule if schedule is not None else 'a constant'}"
                )
        self.wait = 0
        self.best = np.inf if self.monitor_op is np.less else -np.inf
        self.best_before_growth = None
        self.growth_events = []
        self.stopped_growing = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs[EFFECTIVE_PARAMS_LOG] = count_params(self.model)
        current = logs.get(self.monitor)
        if current is None:
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
        if self.stopped_growing is not None or self.wait < self.patience:
            return
        self.wait = 0
        reason = self._reason_to_stop(epoch)
        if reason is None:
            reason = self._grow(epoch, current, logs[EFFECTIVE_PARAMS_LOG])
        if reason is not None:
            self.stopped_growing = {"epoch": epoch + 1, "reason": reason}
            if self.verbose:
                print(f"\nEpoch {epoch + 1}: GNAP stops growing: {reason}.")

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
        if self.growth_until is not None and self._past(
            self.growth_until, epoch
        ):
            epochs = self.params["epochs"]
            return (
                f"past growth_until={self.growth_until} of the {epochs} "
                "epochs: the rest is left to pruning"
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
        widths = plan_growth(network, self.growth_factor, self.max_width)
        if not widths:
            return "no layer can grow further"
        reopen = self.reopen_pruned and not self._past(self.reopen_until, epoch)
        grown = grow(
            network,
            widths=widths,
            new_units=self.new_units,
            split_noise=self.split_noise,
            reopen_pruned=reopen,
        )
        if (
            self.max_params is not None
            and dense_params(grown) > self.max_params
        ):
            return f"the next growth would exceed max_params={self.max_params}"
        widths_before = _widths(network)
        dense_before = dense_params(network)
        self.model.replace_network(grown)
        rescaled = {}
        if self.rescale_weights:
            rescaled = rescale_to_initial_scale(grown)
        learning_rate = None
        if self.restart_schedule:
            schedule = learning_rate_schedule(self.model.optimizer)
            restart = (
                fresh_schedule if self.reset_optimizer else restart_schedule
            )
            restarted = restart(
                schedule, int(self.model.optimizer.iterations.numpy())
            )
            if restarted is not schedule:
                learning_rate = restarted
        # A schedule already at its end cannot start again, and a fresh
        # optimizer would run it from its first step.
        reset = self.reset_optimizer and learning_rate is not None
        retrace_training(
            self.model,
            learning_rate=learning_rate,
            warm_second_moment=self.warm_second_moment,
            reset_state=reset,
        )
        event = {
            "epoch": epoch + 1,
            "monitor": self.monitor,
            "monitor_value": float(current),
            "best_before": float(self.best),
            "widths_before": widths_before,
            "widths_after": _widths(grown),
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
        self.best_before_growth = self.best
        self.best = np.inf if self.monitor_op is np.less else -np.inf
        if self.verbose:
            extras = ", closed gates reopened" if reopen else ""
            if rescaled:
                extras += ", kernels rescaled"
            if reset:
                extras += ", optimizer reset"
            if learning_rate is not None:
                extras += ", learning rate restarted"
            print(
                f"\nEpoch {epoch + 1}: GNAP growth {len(self.growth_events)}: "
                f"{event['widths_before']} -> {event['widths_after']}, dense "
                f"params {dense_before:,} -> {event['dense_params_after']:,}"
                f"{extras}."
            )
        return None


def _widths(network):
    return {
        layer.name: layer.width
        for layer in network.layers
        if isinstance(layer, GatedLayer)
    }


def _is_accuracy(monitor):
    name = monitor.lower()
    return any(
        key in name for key in ("acc", "auc", "precision", "recall", "f1")
    )


def _check_fraction(name, value, or_none=False):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value <= 1
    ):
        allowed = "(0, 1], or None" if or_none else "(0, 1]"
        raise ValueError(
            f"Argument `{name}` must be a fraction of the epochs in "
            f"{allowed}. Received: {name}={value!r}"
        )


def _check_flag(name, value):
    if not isinstance(value, bool):
        raise ValueError(
            f"Argument `{name}` must be True or False. "
            f"Received: {name}={value!r}"
        )


def _check_count(name, value, minimum):
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )
