"""Backend-neutral helpers for tests that run on every Keras backend."""

import keras
import numpy as np


def to_numpy(tensor):
    """Returns a backend tensor as a NumPy array."""
    return keras.ops.convert_to_numpy(tensor)


def gradient(loss_fn, variable):
    """Returns d loss_fn() / d variable with the backend's autodiff.

    Args:
        loss_fn: callable with no arguments returning a scalar tensor; it
            reads `variable` (for example by calling a layer).
        variable: a `keras.Variable`.

    Returns:
        A NumPy array of the variable's shape.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return to_numpy(tape.gradient(loss, variable.value))
    if backend == "jax":
        import jax

        def loss_of(value):
            with keras.StatelessScope(state_mapping=[(variable, value)]):
                return loss_fn()

        return np.asarray(jax.grad(loss_of)(variable.value))
    if backend == "torch":
        variable.value.grad = None
        loss_fn().backward()
        return to_numpy(variable.value.grad)
    raise NotImplementedError(f"No gradient helper for backend {backend!r}")
