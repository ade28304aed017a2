"""Carrying an optimizer's state over to a grown network."""

import keras
import numpy as np

from keras_gnap.data_parallel import replica_scope
from keras_gnap.growth.weight_transfer import embed


def rebuild_optimizer(
    optimizer,
    variables,
    learning_rate=None,
    reset_state=False,
):
    """Returns a copy of `optimizer` built for `variables`, state carried.

    Keras optimizers are built for a fixed list of variables, so a grown
    network needs a new optimizer. Its state (iteration count, learning
    rate, moments) is copied from the old one by variable name, which
    Keras derives from the model variable's path; growth keeps layer names,
    so each slot finds its old value. Grown slots keep the old values in
    their leading corner and zeros for the new entries. Learning-rate
    schedules continue from the same iteration, unless `learning_rate`
    replaces the schedule.

    `reset_state` carries nothing over instead: every moment starts at
    zero and the step count at 0, so bias correction warms up again as at
    the start of training (pass a `learning_rate` whose schedule suits a
    step count from 0, see `keras_gnap.growth.fresh_schedule`).

    A `keras.optimizers.LossScaleOptimizer` (what `compile` makes under
    the `mixed_float16` policy) is rebuilt around a rebuilt inner
    optimizer, and its loss scale always carries over, `reset_state` or
    not: the scale found so far still suits the gradients.

    Args:
        optimizer: a built `keras.optimizers.Optimizer`.
        variables: list of the grown network's trainable variables.
        learning_rate: float or `LearningRateSchedule` for the new
            optimizer. Defaults to `None`, which keeps `optimizer`'s.
        reset_state: bool. Whether to start from a fresh state instead of
            carrying the old one over. Defaults to `False`.

    Returns:
        A new, built optimizer of the same class and configuration.
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        inner = rebuild_optimizer(
            optimizer.inner_optimizer,
            variables,
            learning_rate=learning_rate,
            reset_state=reset_state,
        )
        config = optimizer.get_config()
        del config["inner_optimizer"]
        new_optimizer = keras.optimizers.LossScaleOptimizer(inner, **config)
        new_optimizer.build(variables)
        new_optimizer.dynamic_scale.assign(optimizer.dynamic_scale)
        new_optimizer.step_counter.assign(optimizer.step_counter)
        return new_optimizer
    config = optimizer.get_config()
    if learning_rate is not None:
        config["learning_rate"] = learning_rate
    new_optimizer = optimizer.__class__.from_config(config)
    new_optimizer.build(variables)
    if reset_state:
        return new_optimizer
    _carry_state(optimizer, new_optimizer)
    return new_optimizer


def _carry_state(optimizer, new_optimizer):
    old_values = {v.name: v for v in optimizer.variables}
    for variable in new_optimizer.variables:
        old = old_values.get(variable.name)
        if old is None:
            continue
        new_value = variable.numpy()
        old_value = old.numpy()
        if old_value.shape == new_value.shape:
            variable.assign(old_value)
            continue
        variable.assign(embed(old_value, np.zeros_like(new_value)))


def retrace_training(model, learning_rate=None, reset_state=False):
    """Rebuilds a compiled model's optimizer and step functions in place.

    Needed inside `fit` whenever the model's trainable variables change
    (a grown network, gates frozen or released): the optimizer is built
    for a fixed list of variables, and the compiled steps captured the old
    ones. The optimizer's state is carried over (see `rebuild_optimizer`).

    Only public Keras API is used, so this works on every backend from an
    epoch callback: TensorFlow and PyTorch read the step function and the
    trainable variables at each step, and Keras's JAX trainer reads the
    model's variables into a fresh state at the start of each epoch (the
    PyTorch gradients of a swapped-in network are cleared by
    `GNAPModel.zero_grad`).

    Args:
        model: a compiled Keras model.
        learning_rate: float or `LearningRateSchedule` for the rebuilt
            optimizer. Defaults to `None`, which keeps the current one.
        reset_state: bool. See `rebuild_optimizer`. Defaults to `False`.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        # On several devices, the new state is placed as the model's.
        with replica_scope(model):
            model.optimizer = rebuild_optimizer(
                optimizer,
                model.trainable_variables,
                learning_rate=learning_rate,
                reset_state=reset_state,
            )
    model.make_train_function(force=True)
    model.make_test_function(force=True)
    model.make_predict_function(force=True)
