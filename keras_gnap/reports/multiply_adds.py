"""Counting the multiply-adds a network computes for one image."""

import keras
import numpy as np

from keras_gnap.layers.gated_conv2d import GatedConv2D
from keras_gnap.layers.gated_dense import GatedDense
from keras_gnap.models.gnap_model import GNAPModel

# The layers whose kernels compute at every output position.
LINEAR_LAYERS = (
    keras.layers.Conv2D,
    keras.layers.Dense,
    GatedConv2D,
    GatedDense,
)


def count_multiply_adds(model):
    """Returns the multiply-adds of one forward pass over one image.

    Every kernel entry counts, zeros included, once per output position:
    what dense kernels compute, and so the limit of what a narrower
    network saves in time. Convolutions count `kernel height * kernel
    width * input channels / groups * filters` per output pixel, dense
    layers `inputs * units` per position (1 after `Flatten` or pooling).
    Gated layers count as the dense layers they become; compact a model
    first (`keras_gnap.compact`) to count what it computes without its
    dead units.
    Biases, batch normalisation, activations and pooling are not counted.

    Args:
        model: a `GNAPModel`, or a built Functional or Sequential model
            whose input shape is known (height and width included), such
            as what `keras_gnap.compact` returns.

    Returns:
        int.

    Raises:
        TypeError: if `model` is not a Functional, Sequential or
            `GNAPModel`.
        ValueError: if the output shape of a convolution or dense layer is
            not fully known, naming the layer.

    Example:

    >>> model = keras_gnap.build_gnap((28, 28, 1), classes=10)
    >>> keras_gnap.reports.count_multiply_adds(keras_gnap.compact(model))
    """
    network = model.network if isinstance(model, GNAPModel) else model
    if not isinstance(network, keras.Model) or not network.built:
        raise TypeError(
            "Expected a built GNAPModel, or a built Functional or Sequential "
            f"Keras model. Received: model={model!r} of type "
            f"{type(model).__name__}"
        )
    total = 0
    for layer in _layers(network):
        if isinstance(layer, LINEAR_LAYERS):
            # A grouped kernel holds input channels / groups already.
            total += int(np.prod(layer.kernel.shape)) * _positions(layer)
    return total


def _layers(network):
    for layer in network.layers:
        if isinstance(layer, keras.Model):
            yield from _layers(layer)
        else:
            yield layer


def _positions(layer):
    shape = layer.output.shape
    spatial = shape[1:-1]
    if any(size is None for size in spatial):
        raise ValueError(
            "count_multiply_adds() needs the output shape of every "
            "convolution and dense layer. Received: layer "
            f"{layer.name!r} of class {type(layer).__name__} with output "
            f"shape {tuple(shape)}"
        )
    return int(np.prod(spatial, dtype=np.int64)) if spatial else 1
