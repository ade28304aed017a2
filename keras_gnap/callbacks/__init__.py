"""Callbacks that drive GNAP's policy over the epochs of `fit`."""

from keras_gnap.callbacks.growth_callback import GrowthCallback

__all__ = ["GrowthCallback"]
