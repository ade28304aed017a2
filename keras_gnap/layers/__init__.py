"""Layers whose kernels prune themselves through trainable gates, and the
augmentation that trains them."""

from keras_gnap.layers.gated_conv2d import GatedConv2D
from keras_gnap.layers.gated_dense import GatedDense
from keras_gnap.layers.gated_layer import GatedLayer
from keras_gnap.layers.random_augmentation import RandomAugmentation

__all__ = ["GatedConv2D", "GatedDense", "GatedLayer", "RandomAugmentation"]
