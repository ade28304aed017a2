"""The policy that fixes the pruning masks for the last epochs of `fit`."""

import math

import keras

from keras_gnap.growth.optimizer_transfer import retrace_training
from keras_gnap.layers.gated_layer import GatedLayer
from keras_gnap.models.gnap_model import GNAPModel


class FreezeGates(keras.callbacks.Callback):
    """Fixes every pruning gate for the last epochs, to fine-tune the rest.

    From the first epoch past `at` of `fit`'s epochs, the gate scores of
    every gated layer stop training: the masks are fixed, and the
    remaining weights are fine-tuned without gates closing under them.
    Magnitude pruning gets the same treatment from its schedule (its last
    epochs train with fixed masks); this gives it to autonomous pruning
    without giving it a schedule: which weights survive is still decided
    by gradient descent, only the moment the decision ends is set.

    A growth after the freeze (when `at` is before 0.75, the last
    fraction of the epochs `GrowthCallback` grows at) brings new,
    trainable gates; they are frozen at the start of the next epoch. The
    sparsity term of the frozen layers is then a constant: it still shows
    in the training `loss`, and no longer moves anything. When `fit` ends
    the gates are trainable again (the masks stay as they are), so a later
    `fit` prunes again. Works on every Keras backend, as `GrowthCallback`
    does.

    Args:
        at: float in (0, 1). Fraction of the `epochs` of `fit` after which
            the gates are frozen. Defaults to 0.8.
        verbose: int. 1 prints a line when the gates are frozen.
            Defaults to 0.

    Raises:
        ValueError: if `at` is not a fraction in (0, 1).

    Example:

    >>> model = keras_gnap.build_gnap((28, 28, 1), classes=10)
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> freeze = keras_gnap.FreezeGates(at=0.8)
    >>> model.fit(x, y, epochs=20, callbacks=[freeze])
    >>> freeze.frozen_at_epoch  # 17: epochs 17 to 20 fine-tune.
    """

    def __init__(self, at=0.8, verbose=0):
        super().__init__()
        if (
            isinstance(at, bool)
            or not isinstance(at, (int, float))
            or not 0 < at < 1
        ):
            raise ValueError(
                "Argument `at` must be a fraction of the epochs in (0, 1). "
                f"Received: at={at!r}"
            )
        self.at = at
        self.verbose = verbose
        self.frozen_at_epoch = None

    def on_train_begin(self, logs=None):
        self.frozen_at_epoch = None

    def on_train_end(self, logs=None):
        # The model leaves `fit` as it came in: a saved model's optimizer
        # matches the variables that load as trainable, and another `fit`
        # prunes again.
        if self.frozen_at_epoch is not None:
            set_gates_trainable(self.model, True)

    def on_epoch_begin(self, epoch, logs=None):
        epochs = (self.params or {}).get("epochs")
        if not epochs or epoch < math.ceil(self.at * epochs):
            return
        frozen = set_gates_trainable(self.model, False)
        if not frozen:
            return
        if self.frozen_at_epoch is None:
            self.frozen_at_epoch = epoch + 1
        if self.verbose:
            print(
                f"\nEpoch {epoch + 1}: gates frozen in {frozen} layers; "
                "the remaining weights are fine-tuned."
            )


def set_gates_trainable(model, trainable):
    """Makes the gates of `model` trainable or not, and rebuilds its step.

    Args:
        model: a compiled `GNAPModel`, or a compiled Functional or
            Sequential model with gated layers.
        trainable: bool. `False` freezes the gates, `True` releases them.

    Returns:
        The number of layers whose gates changed (0 when every gate was
        already as asked).
    """
    network = model.network if isinstance(model, GNAPModel) else model
    layers = [
        layer
        for layer in network.layers
        if isinstance(layer, GatedLayer)
        and any(gate.trainable != trainable for gate in layer.gates)
    ]
    if not layers:
        return 0
    for layer in layers:
        for gate in layer.gates:
            gate.trainable = trainable
    retrace_training(model)
    return len(layers)
