"""Widening a network without changing it, and restarting its training."""

from keras_gnap.growth.gate_reopening import reopen_gates
from keras_gnap.growth.grow import grow
from keras_gnap.growth.growth_rule import plan_growth
from keras_gnap.growth.optimizer_transfer import rebuild_optimizer
from keras_gnap.growth.schedule_restart import RestartedSchedule
from keras_gnap.growth.schedule_restart import fresh_schedule
from keras_gnap.growth.schedule_restart import restart_schedule
from keras_gnap.growth.weight_rescale import rescale_to_initial_scale

__all__ = [
    "RestartedSchedule",
    "fresh_schedule",
    "grow",
    "plan_growth",
    "rebuild_optimizer",
    "reopen_gates",
    "rescale_to_initial_scale",
    "restart_schedule",
]
