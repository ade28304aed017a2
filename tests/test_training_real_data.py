"""GNAP on a real MNIST subset: pruning by gradient descent, and growth."""

import keras
import numpy as np

import keras_gnap
from keras_gnap.reports import dense_params
from keras_gnap.reports import layer_counts


def _kernel_sparsity(model):
    counts = [c for c in layer_counts(model) if c.weights]
    weights = sum(c.weights for c in counts)
    return 1 - sum(c.active_weights for c in counts) / weights


def _train(model, data, epochs, callbacks=(), learning_rate=0.01):
    x, y, x_val, y_val = data
    model.compile(
        keras.optimizers.Adam(learning_rate),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model.fit(
        x,
        y,
        batch_size=128,
        epochs=epochs,
        validation_data=(x_val, y_val),
        callbacks=list(callbacks),
        verbose=0,
    )


def test_sparsity_rises_under_the_sparsity_term(mnist_subset):
    sparsities = {}
    for strength in (0.0, 5.0):
        model = keras_gnap.build_gnap((28, 28, 1), 10, sparsity=strength)
        per_epoch = []
        record = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs, m=model, out=per_epoch: out.append(
                _kernel_sparsity(m)
            )
        )
        _train(model, mnist_subset, epochs=4, callbacks=[record])
        sparsities[strength] = per_epoch
    pressured, free = sparsities[5.0], sparsities[0.0]
    print("kernel sparsity per epoch:", sparsities)
    assert pressured == sorted(pressured)  # pruning only advances
    assert pressured[-1] > 0.3
    assert pressured[0] < pressured[-1]
    assert free[-1] < 0.05


def test_fit_grows_prunes_and_returns_the_final_model(mnist_subset, tmp_path):
    model = keras_gnap.build_gnap((28, 28, 1), 10, sparsity=3.0)
    dense_at_start = dense_params(model)
    # No size cap: two growths inside one fit, whatever their size.
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None)
    # Fixed masks for the last quarter, as the recipes have: at this
    # strength pruning otherwise goes on to the last epoch, and the final
    # model is left pruned past what it has been trained to classify with.
    freeze = keras_gnap.FreezeGates(at=0.75)
    history = _train(model, mnist_subset, epochs=12, callbacks=[growth, freeze])
    assert len(growth.growth_events) >= 2
    for event in growth.growth_events:
        assert event["dense_params_after"] > event["dense_params_before"]
    assert len(history.history["effective_params"]) == 12
    # The held model is the final grown, pruned one.
    dense = dense_params(model)
    effective = keras_gnap.count_params(model)
    assert dense > dense_at_start
    assert effective < 0.7 * dense
    assert history.history["effective_params"][-1] == effective
    x_val, y_val = mnist_subset[2:]
    loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
    assert accuracy > 0.9
    path = tmp_path / "final.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        restored.predict(x_val[:256], verbose=0),
        model.predict(x_val[:256], verbose=0),
    )
