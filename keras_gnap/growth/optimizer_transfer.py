"""Carrying an optimizer's state over to a grown network."""

from keras_gnap.growth.weight_transfer import embed


def rebuild_optimizer(optimizer, variables, learning_rate=None):
    """Returns a copy of `optimizer` built for `variables`, state carried.

    Keras optimizers are built for a fixed list of variables, so a grown
    network needs a new optimizer. Its state (iteration count, learning
    rate, moments) is copied from the old one by variable name, which
    Keras derives from the model variable's path; growth keeps layer names,
    so each slot finds its old value. Grown slots keep the old values in
    their leading corner and zeros for the new entries. Learning-rate
    schedules continue from the same iteration, unless `learning_rate`
    replaces the schedule.

    Args:
        optimizer: a built `keras.optimizers.Optimizer`.
        variables: list of the grown network's trainable variables.
        learning_rate: float or `LearningRateSchedule` for the new
            optimizer. Defaults to `None`, which keeps `optimizer`'s.

    Returns:
        A new, built optimizer of the same class and configuration.
    """
    config = optimizer.get_config()
    if learning_rate is not None:
        config["learning_rate"] = learning_rate
    new_optimizer = optimizer.__class__.from_config(config)
    new_optimizer.build(variables)
    old_values = {v.name: v for v in optimizer.variables}
    for variable in new_optimizer.variables:
        old = old_values.get(variable.name)
        if old is None:
            continue
        new_value = variable.numpy()
        old_value = old.numpy()
        if old_value.shape == new_value.shape:
            variable.assign(old_value)
        else:
            variable.assign(embed(old_value, new_value * 0))
    return new_optimizer


def retrace_training(model, learning_rate=None):
    """Rebuilds a compiled model's optimizer and step functions in place.

    Needed inside `fit` whenever the model's trainable variables change
    (a grown network, gates frozen or released): the optimizer is built
    for a fixed list of variables, and the compiled steps captured the old
    ones. The optimizer's state is carried over (see `rebuild_optimizer`).

    Args:
        model: a compiled Keras model.
        learning_rate: float or `LearningRateSchedule` for the rebuilt
            optimizer. Defaults to `None`, which keeps the current one.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        model.optimizer = rebuild_optimizer(
            optimizer, model.trainable_variables, learning_rate=learning_rate
        )
    model.make_train_function(force=True)
    model.make_test_function(force=True)
    model.make_predict_function(force=True)
