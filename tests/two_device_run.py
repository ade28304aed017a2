"""Trains one GNAP network with growth on one device and on two, and prints
what `test_data_parallel.py` checks, as JSON.

Run in a fresh process (the devices are fixed when the backend starts):

    python tests/two_device_run.py [mixed_precision]
"""

import json
import sys

import keras
import numpy as np

import keras_gnap
from keras_gnap import data_parallel

# The devices must be made before the backend first runs.
data_parallel.prepare_devices(2)

BATCH = 32
EPOCHS = 5
# Growth after epoch 2 (the scripted loss stops improving), then none.
VAL_LOSS = [1.0, 0.9, 0.95, 0.8, 0.7]


class ScriptedValLoss(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = VAL_LOSS[epoch]


class Placement(keras.callbacks.Callback):
    """Records where every variable lives, before and after the growth."""

    def __init__(self):
        super().__init__()
        self.before = None
        self.after = None

    def on_train_begin(self, logs=None):
        self.before = placement(self.model)

    def on_train_end(self, logs=None):
        self.after = placement(self.model)


def placement(model):
    """The kinds of placement of the model's and optimizer's variables, and
    the largest difference between the copies of any variable."""
    kinds, spread = set(), 0.0
    for variable in [*model.variables, *model.optimizer.variables]:
        value = variable.value
        if keras.backend.backend() == "jax":
            sharding = value.sharding
            kinds.add(
                f"{type(sharding).__name__} {getattr(sharding, 'spec', '')}"
            )
            copies = [np.asarray(s.data) for s in value.addressable_shards]
        else:
            kinds.add(type(value).__name__)
            copies = [np.asarray(c) for c in getattr(value, "values", (value,))]
            kinds.add(f"copies={len(copies)}")
        for copy in copies[1:]:
            spread = max(spread, float(np.max(np.abs(copy - copies[0]))))
    return {"kinds": sorted(kinds), "spread": spread}


def run(devices, x, y, mixed_precision):
    keras.utils.set_random_seed(0)
    placement_callback = Placement()
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None)
    with (
        data_parallel.data_parallel(devices),
        keras_gnap.training.precision_policy(mixed_precision),
    ):
        model = keras_gnap.build_gnap((12, 12, 1), 3, stages=((4,), (6,)))
        model.compile(
            keras.optimizers.Adam(1e-2),
            "sparse_categorical_crossentropy",
        )
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=EPOCHS,
            shuffle=False,
            verbose=0,
            callbacks=[ScriptedValLoss(), growth, placement_callback],
        )
        predictions = keras.ops.convert_to_numpy(
            model.predict(x, batch_size=BATCH, verbose=0)
        ).astype("float32")
    weights = {
        w.path: keras.ops.convert_to_numpy(w.value).astype("float32")
        for w in model.weights
    }
    return (
        {
            "growths": [e["epoch"] for e in growth.growth_events],
            "widths": keras_gnap.topology.gated_widths(model.network),
            "placement_before": placement_callback.before,
            "placement_after": placement_callback.after,
            "optimizer": type(model.optimizer).__name__,
        },
        predictions,
        weights,
    )


def main():
    mixed_precision = sys.argv[1] if len(sys.argv) > 1 else None
    rng = np.random.default_rng(0)
    x = rng.random((128, 12, 12, 1)).astype("float32")
    y = (x[:, :6].mean(axis=(1, 2, 3)) * 6).astype("int32") % 3
    one, one_predictions, one_weights = run(1, x, y, mixed_precision)
    two, two_predictions, two_weights = run(2, x, y, mixed_precision)
    print(
        json.dumps(
            {
                "one": one,
                "two": two,
                "prediction_difference": float(
                    np.max(np.abs(one_predictions - two_predictions))
                ),
                "weight_difference": {
                    path: float(np.max(np.abs(value - two_weights[path])))
                    for path, value in one_weights.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
