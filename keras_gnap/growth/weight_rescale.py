"""Scaling a grown network's kernels back to the size they started at.

Without weight decay, the kernels of a network trained with batch
normalisation grow in norm (on Fashion-MNIST to 3 to 5 times the He scale
they start near, after 9 epochs), while Adam moves each weight by about
one learning rate per step whatever its size. So a trained kernel turns
less and less per step: the small network that saturated has lost most of
its plasticity, and the wider network grown from it inherits that. Batch
normalisation makes a layer's output independent of its kernel's scale,
so the kernel can be scaled back down without changing what the network
computes, giving the grown network the step sizes of a fresh one.
"""

import keras
import numpy as np

from keras_gnap.layers.gated_layer import GatedLayer
from keras_gnap.topology import layer_graph

# Relative tolerance under which a kernel counts as at the He scale.
ROUNDING = 1e-6


def he_scale(kernel_shape):
    """Returns the spread `sqrt(2 / fan_in)` of a He-initialised kernel.

    Args:
        kernel_shape: tuple. A kernel's shape, output units last.

    Returns:
        A float.
    """
    return float(np.sqrt(2.0 / int(np.prod(kernel_shape[:-1]))))


def rescale_to_initial_scale(network):
    """Scales down each batch-normalised gated kernel to the He scale.

    For each gated layer whose output only feeds a `BatchNormalization`
    layer, the kernel is multiplied by `he_scale / rms` when below 1, with `rms`
    the root mean square of its weights behind open gates, and the batch
    normalisation's moving mean and variance by that factor and its
    square. The outputs are unchanged but for batch normalisation's
    epsilon. Other gated layers (a classifier head) are left alone, and a
    kernel already at or below the He scale is not enlarged.

    Args:
        network: a built Functional or Sequential Keras model with gated
            layers, changed in place.

    Returns:
        dict from layer name to the factor its kernel was multiplied by,
        for the layers scaled down.
    """
    graph = layer_graph(network)
    consumers = {}
    for name, sources in graph.sources.items():
        for source in sources:
            consumers.setdefault(source, []).append(name)
    factors = {}
    for layer in network.layers:
        if not isinstance(layer, GatedLayer):
            continue
        after = consumers.get(layer.name, [])
        if graph.calls.get(layer.name) != 1 or len(after) != 1:
            continue
        norm = network.get_layer(after[0])
        if not isinstance(norm, keras.layers.BatchNormalization):
            continue
        kernel = np.asarray(layer.kernel)
        open_gates = layer.kernel_mask()
        if not open_gates.any():
            continue
        rms = float(np.sqrt(np.mean(kernel[open_gates] ** 2)))
        factor = he_scale(kernel.shape) / rms
        # At the He scale already, up to float32 rounding, or below it.
        if factor > 1.0 - ROUNDING:
            continue
        layer.kernel.assign(kernel * factor)
        norm.moving_mean.assign(np.asarray(norm.moving_mean) * factor)
        norm.moving_variance.assign(
            np.asarray(norm.moving_variance) * factor * factor
        )
        factors[layer.name] = factor
    return factors
