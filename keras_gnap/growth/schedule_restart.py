"""Running a decaying learning-rate schedule again after a growth.

A decaying schedule is low by the time the network saturates and grows, so
the grown network trains its new units with a learning rate the small one
had already cooled to. Restarting the schedule at growth, compressed into
the steps that remain, gives the wider network a full decay of its own and
still ends where the original schedule ends.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gnap")
class RestartedSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A schedule run from its first step again at step `start`.

    From `start` on, the rate is `schedule((step - start) * span / (span -
    start))`: the whole of `schedule` compressed into the steps from
    `start` to `span`, its last step. Before `start` it is `schedule(0)`,
    which a restarted optimizer never reaches since its step count is
    already at `start`.

    Args:
        schedule: a `keras.optimizers.schedules.LearningRateSchedule`.
        start: int. The step at which the schedule starts again.
        span: int. The number of steps `schedule` decays over.
    """

    def __init__(self, schedule, start, span):
        self.schedule = schedule
        self.start = start
        self.span = span

    def __call__(self, step):
        elapsed = ops.maximum(ops.cast(step, "float32") - self.start, 0.0)
        return self.schedule(elapsed * (self.span / (self.span - self.start)))

    def get_config(self):
        return {
            "schedule": keras.saving.serialize_keras_object(self.schedule),
            "start": self.start,
            "span": self.span,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["schedule"] = keras.saving.deserialize_keras_object(
            config["schedule"]
        )
        return cls(**config)


def learning_rate_schedule(optimizer):
    """Returns the schedule of `optimizer`'s learning rate, or `None`.

    Args:
        optimizer: a `keras.optimizers.Optimizer`.

    Returns:
        A `LearningRateSchedule`, or `None` for a constant learning rate.
    """
    # A LossScaleOptimizer (mixed_float16) holds the learning rate inside.
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    config = optimizer.get_config()["learning_rate"]
    if not isinstance(config, dict):
        return None
    return keras.optimizers.schedules.deserialize(config)


def schedule_span(schedule):
    """Returns the number of steps a decaying schedule runs over, or `None`.

    Args:
        schedule: a `LearningRateSchedule` or `None`.

    Returns:
        `decay_steps` plus any `warmup_steps` of the schedule (as in
        `CosineDecay`, `PolynomialDecay`, `ExponentialDecay`), that of the
        schedule inside a `RestartedSchedule`, or `None` when the schedule
        has no `decay_steps`.
    """
    if isinstance(schedule, RestartedSchedule):
        return schedule.span
    config = schedule.get_config() if schedule is not None else {}
    if "decay_steps" not in config:
        return None
    return int(config["decay_steps"]) + int(config.get("warmup_steps") or 0)


def restart_schedule(schedule, step):
    """Returns `schedule` started again at `step`, ending where it ended.

    A `RestartedSchedule` is restarted from the schedule it wraps, so
    repeated restarts do not nest.

    Args:
        schedule: a `LearningRateSchedule` with a span (see
            `schedule_span`).
        step: int. The optimizer's current step.

    Returns:
        A `RestartedSchedule`, or `schedule` unchanged when `step` is at
        or past the end of its span (nothing is left to restart).

    Raises:
        ValueError: if `schedule` has no span.
    """
    restartable = _restartable(schedule, step)
    if restartable is None:
        return schedule
    original, span = restartable
    return RestartedSchedule(original, start=int(step), span=span)


def fresh_schedule(schedule, step):
    """Returns `schedule` for an optimizer whose step count starts again.

    The whole of `schedule` run over the steps that remain after `step`,
    counted from 0: the schedule a restarted optimizer needs when its step
    count is reset (see `keras_gnap.growth.rebuild_optimizer`). Its
    `decay_steps` (and any `warmup_steps`, in proportion) shrink to what
    remains of the span.

    Args:
        schedule: a `LearningRateSchedule` with a span (see
            `schedule_span`), or a `RestartedSchedule` of one.
        step: int. The optimizer's current step.

    Returns:
        A new schedule of the same class as the one `schedule` runs, or
        `schedule` unchanged when `step` is at or past the end of its span.

    Raises:
        ValueError: if `schedule` has no span.
    """
    restartable = _restartable(schedule, step)
    if restartable is None:
        return schedule
    original, span = restartable
    config = original.get_config()
    remaining = span - int(step)
    warmup = int(config.get("warmup_steps") or 0)
    if warmup:
        warmup = round(warmup * remaining / span)
        config["warmup_steps"] = warmup
    config["decay_steps"] = remaining - warmup
    return original.__class__.from_config(config)


def _restartable(schedule, step):
    """Returns (the schedule to run again, its span), or None if ended.

    A `RestartedSchedule` gives the schedule it wraps, so that restarts
    do not nest.

    Raises:
        ValueError: if `schedule` has no span.
    """
    span = schedule_span(schedule)
    if span is None:
        raise ValueError(
            "Only a decaying learning-rate schedule with `decay_steps` (such "
            "as keras.optimizers.schedules.CosineDecay) can be restarted. "
            f"Received: schedule={schedule!r}"
        )
    if step >= span:
        return None
    if isinstance(schedule, RestartedSchedule):
        return schedule.schedule, span
    return schedule, span
