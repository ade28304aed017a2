"""Folding inference-mode batch normalisation into the layer before it."""

import numpy as np


def batch_norm_affine(layer):
    """Returns the per-channel scale and shift of a batch normalisation.

    At inference, batch normalisation computes `x * scale + shift` with
    `scale = gamma / sqrt(moving_variance + epsilon)` and
    `shift = beta - moving_mean * scale`.

    Args:
        layer: a built `keras.layers.BatchNormalization`.

    Returns:
        A tuple `(scale, shift)` of float64 NumPy vectors.
    """

    def numpy(variable):
        return variable.numpy().astype(np.float64)

    mean = numpy(layer.moving_mean)
    variance = numpy(layer.moving_variance)
    gamma = numpy(layer.gamma) if layer.scale else np.ones_like(mean)
    beta = numpy(layer.beta) if layer.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(variance + layer.epsilon)
    return scale, beta - mean * scale


def can_fold(op):
    """Whether a batch normalisation right after `op` folds into it.

    It does when nothing non-linear sits between them: the layer's own
    activation must be the identity.
    """
    return getattr(op.activation, "__name__", "") == "linear"


def fold_batch_norm(op, layer):
    """Folds batch normalisation `layer` into the linear `op`, in place.

    `op.kernel` (last axis: units) and `op.bias` become those of the
    layer followed by the batch normalisation at inference.
    """
    scale, shift = batch_norm_affine(layer)
    op.kernel = op.kernel * scale
    op.bias = op.bias * scale + shift
    op.folded_batch_norm = layer.name
