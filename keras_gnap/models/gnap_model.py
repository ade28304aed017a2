"""The model a user trains: a network that can be swapped for a wider one."""

import inspect

import keras
import numpy as np

from keras_gnap.topology import gated_widths

_FIT_SIGNATURE = inspect.signature(keras.Model.fit)
# The widths of the network's gated layers, kept with its weights.
WIDTHS_KEY = "gated_widths"


@keras.saving.register_keras_serializable(package="keras_gnap")
class GNAPModel(keras.Model):
    """A Keras model whose network can grow while `fit` runs.

    Keras fixes a layer's state once it is built, so a network grows by
    being rebuilt wider (see `keras_gnap.grow`). `GNAPModel` is the object
    the user holds across growth: it runs whatever network it currently
    holds, and `GrowthCallback` swaps in the grown network during `fit`.
    `evaluate`, `predict`, `save` and `summary` then act on the grown
    network with no extra step.

    An `augmentation` layer, such as `keras_gnap.layers.RandomAugmentation`,
    transforms the images of each training batch inside the compiled
    training step, so it runs on the accelerator on every backend. It is
    not part of `network`: evaluation and prediction see the images as
    they are, and `strip`, `compact` and `export` leave it out.

    Args:
        network: a built Functional or Sequential Keras model, usually made
            of gated layers (see `keras_gnap.build_gnap`).
        augmentation: a Keras layer applied to the inputs in training
            only, or `None`. Defaults to `None`.
        **kwargs: base `keras.Model` arguments such as `name`.

    Raises:
        TypeError: if `network` is not a built Keras model, or
            `augmentation` is not a Keras layer or `None`.

    Example:

    >>> model = keras_gnap.build_gnap(input_shape=(28, 28, 1), classes=10)
    >>> isinstance(model, keras_gnap.GNAPModel)
    True
    """

    def __init__(self, network, augmentation=None, **kwargs):
        if not isinstance(network, keras.Model) or not network.built:
            raise TypeError(
                "Argument `network` must be a built Keras model. "
                f"Received: network={network!r}"
            )
        if augmentation is not None and not isinstance(
            augmentation, keras.layers.Layer
        ):
            raise TypeError(
                "Argument `augmentation` must be a Keras layer or None. "
                f"Received: augmentation={augmentation!r}"
            )
        kwargs.setdefault("name", network.name)
        super().__init__(**kwargs)
        # A tracked list, so that swapping the network also untracks the old
        # one and `weights` only ever lists the current network's.
        self._network_slot = [network]
        self.augmentation = augmentation
        # Nothing to build here: the network holds all the state. Marking
        # the model built also keeps Keras from locking its state.
        self.built = True

    @property
    def network(self):
        """The network the model currently runs."""
        return self._network_slot[0]

    def replace_network(self, network):
        """Makes the model run `network` from now on.

        `GrowthCallback` calls this with the grown network. The optimizer
        and the compiled step functions are the caller's to refresh.

        Args:
            network: a built Keras model with the same inputs and outputs.

        Raises:
            TypeError: if `network` is not a built Keras model.
            ValueError: if its output shape differs from the current one.
        """
        if not isinstance(network, keras.Model) or not network.built:
            raise TypeError(
                "Argument `network` must be a built Keras model. "
                f"Received: network={network!r}"
            )
        old = self.network
        if tuple(network.output_shape) != tuple(old.output_shape):
            raise ValueError(
                "The new network must produce the same output shape as the "
                f"current one, {old.output_shape}. Received: network with "
                f"output shape {network.output_shape}"
            )
        self._network_slot.remove(old)
        self._network_slot.append(network)

    def set_weights(self, weights):
        """Sets the weights, also from before a growth.

        Weights saved from a narrower version of the network (for example
        by `EarlyStopping(restore_best_weights=True)` before a growth) are
        placed the way growth places them: into the leading corner of each
        wider weight, with zeros from the units added since to the
        existing ones, so the model computes exactly what the narrower
        network computed.

        Args:
            weights: list of arrays, one per weight of `self.weights`.

        Raises:
            ValueError: if the number of arrays differs, or an array does
                not fit into the weight it belongs to.
        """
        # Imported here: growth builds on models, not the other way round.
        from keras_gnap.growth.weight_transfer import embed_weight

        variables = self.weights
        if len(weights) != len(variables):
            raise ValueError(
                f"Model '{self.name}' has {len(variables)} weights. "
                f"Received: {len(weights)} arrays"
            )
        for variable, value in zip(variables, weights, strict=True):
            variable.assign(embed_weight(variable, value))

    def save_own_variables(self, store):
        """Saves the widths of the gated layers beside the weights.

        So that a weights file saved after a growth (`save_weights`,
        `keras.callbacks.BackupAndRestore`) knows the network it belongs
        to: see `load_own_variables`.

        Args:
            store: the dict-like store Keras saves the model's own
                variables into.
        """
        widths = list(gated_widths(self.network).values())
        if widths:
            store[WIDTHS_KEY] = np.asarray(widths, dtype="int64")

    def load_own_variables(self, store):
        """Grows the network to the saved widths, before its weights load.

        Keras loads a model's own state before its layers' and its
        optimizer's, so a weights file saved after a growth (by
        `keras.callbacks.BackupAndRestore`, say) loads into the model as
        it was built: the network first grows to the saved widths and the
        optimizer is rebuilt for the new variables, then both take the
        saved values.

        Args:
            store: the dict-like store Keras saved the model's own
                variables into.

        Raises:
            ValueError: if the saved network is narrower than the current
                one (`set_weights` places narrower weights).
        """
        if WIDTHS_KEY not in store.keys():
            return
        current = gated_widths(self.network)
        saved = [int(w) for w in np.asarray(store[WIDTHS_KEY])]
        if saved == list(current.values()):
            return
        if len(saved) != len(current) or any(
            s < c for s, c in zip(saved, current.values(), strict=True)
        ):
            raise ValueError(
                "The weights were saved from a network of gated widths "
                f"{saved}, which this model's {list(current.values())} "
                "cannot grow into. Use `set_weights` to place the weights "
                "of a narrower network."
            )
        # Imported here: growth builds on models, not the other way round.
        from keras_gnap.growth.grow import grow
        from keras_gnap.growth.optimizer_transfer import retrace_training

        widths = {
            name: width
            for (name, now), width in zip(current.items(), saved, strict=True)
            if width != now
        }
        self.replace_network(grow(self.network, widths=widths))
        if getattr(self, "optimizer", None) is not None:
            retrace_training(self, reset_state=True)

    def zero_grad(self, set_to_none=True):
        """Clears the gradients of the current network's weights (PyTorch).

        Keras's PyTorch trainer calls this before each backward pass.
        PyTorch's own version reaches only the parameters registered when
        the model was first trained, which a growth replaces: the grown
        network's gradients would then add up from step to step.

        Args:
            set_to_none: bool. Whether to drop the gradients rather than
                fill them with zeros. Defaults to `True`.
        """
        for variable in self.trainable_variables:
            gradient = variable.value.grad
            if gradient is None:
                continue
            if set_to_none:
                variable.value.grad = None
            else:
                gradient.zero_()

    def fit(self, *args, **kwargs):
        """Trains the model, as `keras.Model.fit`, with GNAP's logging.

        Two callbacks are added to those given (not to a
        `keras.callbacks.CallbackList`, which is used as it is):

        - a progress bar that opens each epoch with the run's progress
          and the time left, and shows `effective_params` as an integer
          (`keras_gnap.callbacks.ProgressLogger`), unless `verbose=0` or a
          `keras.callbacks.ProgbarLogger` is given;
        - for each `keras.callbacks.TensorBoard`, a logger of per-layer
          sparsity, effective parameters and growth events into the same
          log directory (`keras_gnap.callbacks.TensorBoardLogger`).

        Args:
            *args: positional arguments of `keras.Model.fit`.
            **kwargs: keyword arguments of `keras.Model.fit`.

        Returns:
            The `History` of `keras.Model.fit`. When a `GrowthCallback`
            is among the callbacks, its `growth_events` attribute holds
            the growths of this `fit`.
        """
        # Imported here: callbacks build on models, not the other way round.
        from keras_gnap.callbacks.fit_callbacks import growth_recorder
        from keras_gnap.callbacks.fit_callbacks import with_gnap_callbacks

        arguments = _FIT_SIGNATURE.bind(self, *args, **kwargs).arguments
        del arguments["self"]
        callbacks = arguments.get("callbacks")
        arguments["callbacks"] = with_gnap_callbacks(
            callbacks, arguments.get("verbose", "auto")
        )
        history = super().fit(**arguments)
        growth = growth_recorder(callbacks)
        if growth is not None and history is not None:
            history.growth_events = list(growth.growth_events)
        return history

    def call(self, inputs, training=None):
        if training and self.augmentation is not None:
            inputs = self.augmentation(inputs, training=True)
        return self.network(inputs, training=training)

    def compute_output_shape(self, input_shape):
        return self.network.compute_output_shape(input_shape)

    @property
    def input_shape(self):
        return self.network.input_shape

    @property
    def output_shape(self):
        return self.network.output_shape

    def summary(self, *args, expand_nested=True, **kwargs):
        """Prints `keras.Model.summary`, showing the network's layers."""
        return super().summary(*args, expand_nested=expand_nested, **kwargs)

    def get_compile_config(self):
        """Returns the compile config, with the optimizer now in use.

        Growth rebuilds the optimizer (for the new variables, often with a
        restarted learning-rate schedule), so the one `compile` was given
        would load with the wrong schedule for the saved step count.
        """
        config = super().get_compile_config()
        if config and getattr(self, "optimizer", None) is not None:
            config["optimizer"] = keras.optimizers.serialize(self.optimizer)
        return config

    def get_config(self):
        config = {
            "network": keras.saving.serialize_keras_object(self.network),
            "augmentation": keras.saving.serialize_keras_object(
                self.augmentation
            ),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        network = keras.saving.deserialize_keras_object(
            config.pop("network"), custom_objects=custom_objects
        )
        augmentation = config.pop("augmentation", None)
        if augmentation is not None:
            augmentation = keras.saving.deserialize_keras_object(
                augmentation, custom_objects=custom_objects
            )
        return cls(network, augmentation=augmentation, **config)
