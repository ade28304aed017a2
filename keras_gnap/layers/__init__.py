"""Layers whose kernels prune themselves through trainable gates."""

from keras_gnap.layers.gated_conv2d import GatedConv2D
from keras_gnap.layers.gated_dense import GatedDense
from keras_gnap.layers.gated_layer import GatedLayer

__all__ = ["GatedConv2D", "GatedDense", "GatedLayer"]
