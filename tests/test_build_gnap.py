import keras
import numpy as np
import pytest
from data_helpers import ScriptedValLoss

import keras_gnap

# Core behaviour: CI runs this module on every Keras backend.
pytestmark = pytest.mark.backends


@pytest.mark.parametrize(
    "shape,classes,first_width",
    [((28, 28, 1), 10, 8), ((32, 32, 3), 10, 32), ((64, 48, 3), 5, 32)],
)
def test_presets_and_other_shapes(shape, classes, first_width):
    model = keras_gnap.build_gnap(shape, classes)
    assert isinstance(model, keras_gnap.GNAPModel)
    out = model.predict(np.random.rand(2, *shape).astype("float32"), verbose=0)
    assert out.shape == (2, classes)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    network = model.network
    assert network.get_layer("block1_conv").filters == first_width
    assert network.get_layer("head_dense").units == classes


def test_custom_stages_and_logits():
    model = keras_gnap.build_gnap(
        (20, 20, 2), 3, stages=((4,), (6, 6)), classifier_activation=None
    )
    convs = [
        layer
        for layer in model.network.layers
        if isinstance(layer, keras_gnap.GatedConv2D)
    ]
    assert [c.filters for c in convs] == [4, 6, 6]
    out = model.predict(np.random.rand(2, 20, 20, 2), verbose=0)
    assert not np.allclose(out.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"input_shape": (28, 28)}, "input_shape"),
        ({"input_shape": (4, 4, 1)}, "input_shape"),
        ({"input_shape": (28, 28, 0)}, "input_shape"),
        ({"input_shape": "28x28"}, "input_shape"),
        ({"classes": 1}, "classes"),
        ({"classes": 2.0}, "classes"),
        ({"preset": "imagenet"}, "preset"),
        ({"stages": ((8,), ())}, "stages"),
        ({"stages": ((8,),) * 6}, "stages"),
        ({"gating": "filter"}, "gating"),
    ],
)
def test_bad_arguments(kwargs, argument):
    arguments = {"input_shape": (28, 28, 1), "classes": 10, **kwargs}
    with pytest.raises(ValueError, match=f"Received: {argument}="):
        keras_gnap.build_gnap(**arguments)


def test_save_and_load_grown_model(tmp_path):
    model = keras_gnap.build_gnap((28, 28, 1), 10)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = np.random.rand(32, 28, 28, 1).astype("float32")
    y = np.random.randint(0, 10, 32)
    model.fit(x, y, epochs=1, verbose=0)
    grown = keras_gnap.grow(model, growth_factor=1.0)
    grown.compile("adam", "sparse_categorical_crossentropy")
    grown.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "grown.keras"
    grown.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, keras_gnap.GNAPModel)
    assert restored.network.get_layer("block1_conv").filters == 16
    np.testing.assert_array_equal(
        restored.predict(x, verbose=0), grown.predict(x, verbose=0)
    )
    assert keras_gnap.count_params(restored) == keras_gnap.count_params(grown)
    restored.fit(x, y, epochs=1, verbose=0)  # compiled state came back


def _augmented_model():
    augmentation = keras_gnap.layers.RandomAugmentation(
        padding=4, flip=True, seed=0
    )
    return keras_gnap.build_gnap((16, 16, 1), 3, augmentation=augmentation)


def test_augmentation_trains_compiled_and_stays_out_of_inference(tmp_path):
    model = _augmented_model()
    x = np.random.rand(32, 16, 16, 1).astype("float32")
    y = np.random.randint(0, 3, 32)
    network = model.network
    # Training calls see augmented images, inference the images as given.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(x, training=False)),
        keras.ops.convert_to_numpy(network(x, training=False)),
    )
    assert not np.allclose(
        keras.ops.convert_to_numpy(model(x, training=True)),
        keras.ops.convert_to_numpy(network(x, training=True)),
    )
    # "auto" compiles with XLA on TensorFlow and JAX, unless a layer
    # cannot be compiled; PyTorch's "auto" is eager.
    model.compile("adam", "sparse_categorical_crossentropy")
    growth = keras_gnap.GrowthCallback(patience=1)
    model.fit(
        x,
        y,
        epochs=3,
        batch_size=16,
        verbose=0,
        callbacks=[ScriptedValLoss([1.0, 1.0, 1.0]), growth],
    )
    assert len(growth.growth_events) == 1
    if keras.backend.backend() == "jax":
        # Keras compiles with XLA unless a layer cannot be compiled.
        assert model.jit_compile is True
    assert model.augmentation is not None
    grown = keras_gnap.grow(model, growth_factor=1.0)
    assert grown.augmentation is model.augmentation
    # Neither the plain model for export nor the compacted one holds it.
    for exported in (keras_gnap.strip(model), keras_gnap.compact(model)):
        assert not any(
            isinstance(layer, keras_gnap.layers.RandomAugmentation)
            for layer in exported.layers
        )
    path = tmp_path / "augmented.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.augmentation.get_config() == (
        model.augmentation.get_config()
    )
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6
    )


def test_augmentation_must_be_a_layer():
    with pytest.raises(TypeError, match="Received: augmentation='flip'"):
        keras_gnap.build_gnap((28, 28, 1), 10, augmentation="flip")
