"""Model-to-model transforms that widen a network without changing it."""

from keras_gnap.growth.grow import grow
from keras_gnap.growth.growth_rule import plan_growth
from keras_gnap.growth.optimizer_transfer import rebuild_optimizer

__all__ = ["grow", "plan_growth", "rebuild_optimizer"]
