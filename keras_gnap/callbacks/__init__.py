"""Callbacks that drive GNAP's policy over the epochs of `fit`."""

from keras_gnap.callbacks.freeze_gates import FreezeGates
from keras_gnap.callbacks.growth_callback import GrowthCallback

__all__ = ["FreezeGates", "GrowthCallback"]
