"""Tests of keras_gnap.export: strip, compact, SavedModel, TFLite, CLI."""

import argparse
import gzip
import importlib.util
import os
import pathlib
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

import keras_gnap
from keras_gnap.cli import export_command
from keras_gnap.export import ExportReport
from keras_gnap.export import compact
from keras_gnap.export import custom_ops
from keras_gnap.export import export
from keras_gnap.export import export_model as export_model_module
from keras_gnap.export import strip
from keras_gnap.export import tflite_predict
from keras_gnap.export.representative_data import calibration_images
from keras_gnap.export.representative_data import load_images
from keras_gnap.layers import GatedConv2D
from keras_gnap.layers import GatedDense
from keras_gnap.layers import GatedLayer
from keras_gnap.reports import count_params
from keras_gnap.reports import live_units

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGE_SHAPE = (12, 12, 1)
CLASSES = 3


@pytest.fixture(autouse=True)
def seed():
    keras.utils.set_random_seed(0)


# === Models ===


def _randomize_batch_norms(network, rng):
    for layer in network.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.gamma.assign(rng.uniform(0.5, 1.5, n))
            layer.beta.assign(rng.normal(0, 0.3, n))
            layer.moving_mean.assign(rng.normal(0, 0.2, n))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, n))


def _close(layer, units=None, inputs=None):
    """Closes the gates of whole output units or whole input channels."""
    gate = layer.gate.numpy().copy()
    if units is not None:
        gate[..., units] = -1.0
    if inputs is not None:
        gate[..., inputs, :] = -1.0
    layer.gate.assign(gate)


def _set_constant(bn, unit, beta):
    # A unit without incoming weights outputs relu(beta) when its mean is
    # 0: positive, or exactly 0 after ReLU.
    for variable, value in ((bn.moving_mean, 0.0), (bn.beta, beta)):
        values = variable.numpy().copy()
        values[unit] = value
        variable.assign(values)


def hand_pruned_model():
    """A GNAPModel with whole units killed in every way compact handles.

    Expected widths after compaction: block1 4 -> 2, block2 4 -> 3,
    block3 6 -> 4, head 3 (see comments).
    """
    rng = np.random.default_rng(0)
    model = keras_gnap.build_gnap(
        IMAGE_SHAPE, CLASSES, stages=((4, 4), (6,)), sparsity=0.0
    )
    network = model.network
    _randomize_batch_norms(network, rng)
    conv1 = network.get_layer("block1_conv")
    conv2 = network.get_layer("block2_conv")
    conv3 = network.get_layer("block3_conv")
    head = network.get_layer("head_dense")
    # block1 unit 1: no incoming weight, constant relu(0.5) > 0 into a
    # "same" 3x3 convolution: not exact to remove (borders), kept.
    _close(conv1, units=[1])
    _set_constant(network.get_layer("block1_bn"), 1, 0.5)
    # block1 unit 2: no incoming weight, constant relu(-1) = 0: removed.
    _close(conv1, units=[2])
    _set_constant(network.get_layer("block1_bn"), 2, -1.0)
    # block1 unit 3: no outgoing weight: removed.
    _close(conv2, inputs=[3])
    # block2 unit 0: constant 0 after ReLU: removed.
    _close(conv2, units=[0])
    _set_constant(network.get_layer("block2_bn"), 0, -0.7)
    # block3 unit 4: constant relu(0.7) > 0 through global average pooling
    # into the dense head: folds exactly into its bias, removed.
    _close(conv3, units=[4])
    _set_constant(network.get_layer("block3_bn"), 4, 0.7)
    # block3 unit 5: no outgoing weight: removed.
    _close(head, inputs=[5])
    # Some unstructured pruning too.
    gate = np.where(rng.random(conv3.gate.shape) < 0.3, -1.0, 1.0)
    gate = gate * (conv3.gate.numpy() > 0)
    conv3.gate.assign(np.where(gate > 0, 1.0, -1.0))
    return model


EXPECTED_WIDTHS = {
    "block1_conv": 2,
    "block2_conv": 3,
    "block3_conv": 4,
    "head_dense": CLASSES,
}


def flatten_model():
    """A Sequential with a valid conv, Flatten and a hidden dense layer."""
    model = keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            GatedConv2D(5, 3, activation="relu", name="conv"),
            # After the activation: not folded, sliced.
            keras.layers.BatchNormalization(name="bn0"),
            keras.layers.MaxPooling2D(2, name="pool"),
            GatedConv2D(4, 3, name="conv_valid"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Activation("relu", name="relu"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(0.5, name="dropout"),
            GatedDense(6, activation="relu", name="hidden"),
            GatedDense(CLASSES, name="logits"),
        ]
    )
    _randomize_batch_norms(model, np.random.default_rng(1))
    # conv unit 0: constant, relu(0) = 0 then the shift of bn0, into a
    # valid convolution: folds into its bias.
    _close(model.get_layer("conv"), units=[0])
    # conv_valid unit 2: no incoming weight, constant through bn and relu,
    # folds into the dense layer at every position.
    _close(model.get_layer("conv_valid"), units=[2])
    _set_constant(model.get_layer("bn"), 2, 0.4)
    # hidden unit 3: no outgoing weight.
    _close(model.get_layer("logits"), inputs=[3])
    return model


def _images(n, seed=0):
    return np.random.default_rng(seed).random((n, *IMAGE_SHAPE), "float32")


def _synthetic(n, seed):
    """Images whose class is the band (top, middle, bottom) that is bright."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = rng.random((n, *IMAGE_SHAPE), dtype=np.float32) * 0.3
    for index, label in enumerate(labels):
        images[index, 4 * label : 4 * label + 4] += 0.7
    return images, labels


@pytest.fixture(scope="module")
def trained():
    """A small GNAPModel trained to separate the synthetic classes."""
    keras.utils.set_random_seed(0)
    x_train, y_train = _synthetic(600, seed=0)
    x_val, y_val = _synthetic(300, seed=1)
    model = keras_gnap.build_gnap(
        IMAGE_SHAPE, CLASSES, stages=((6,), (8,)), sparsity=1.0
    )
    model.compile(
        keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy"
    )
    model.fit(x_train, y_train, epochs=4, batch_size=32, verbose=0)
    # Units added with zero outgoing weights are dead until trained, so
    # compaction has something to remove.
    model = keras_gnap.grow(model, widths={"block1_conv": 9}, new_units="zero")
    return model, x_val, y_val


def _widths(model):
    return {
        layer.name: int(layer.kernel.shape[-1])
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    }


def _predict(model, images):
    return keras.ops.convert_to_numpy(model(images, training=False))


# === strip ===


def test_strip_folds_gates_into_plain_layers():
    model = hand_pruned_model()
    plain = strip(model)
    network = model.network
    assert not any(isinstance(layer, GatedLayer) for layer in plain.layers)
    assert not any(
        type(layer).__module__.startswith("keras_gnap")
        for layer in plain.layers
    )
    assert [layer.name for layer in plain.layers] == [
        layer.name for layer in network.layers
    ]
    assert plain.name == model.name
    assert type(plain.get_layer("block1_conv")) is keras.layers.Conv2D
    assert type(plain.get_layer("head_dense")) is keras.layers.Dense
    for name in ("block1_conv", "block3_conv", "head_dense"):
        np.testing.assert_array_equal(
            plain.get_layer(name).kernel.numpy(),
            network.get_layer(name).effective_kernel(),
        )
    images = _images(8)
    np.testing.assert_allclose(
        _predict(plain, images), _predict(model, images), atol=1e-6
    )
    assert plain.count_params() == keras_gnap.reports.dense_params(model)


def test_strip_without_gates_keeps_raw_kernels():
    model = hand_pruned_model()
    plain = strip(model, apply_gates=False)
    layer = model.network.get_layer("block1_conv")
    raw = layer.kernel.numpy()
    assert np.any(raw != layer.effective_kernel())
    np.testing.assert_array_equal(
        plain.get_layer("block1_conv").kernel.numpy(), raw
    )


def test_strip_accepts_sequential_and_plain_networks():
    model = flatten_model()
    plain = strip(model)
    images = _images(4)
    np.testing.assert_allclose(
        _predict(plain, images), _predict(model, images), atol=1e-6
    )
    again = strip(plain)
    np.testing.assert_allclose(
        _predict(again, images), _predict(plain, images), atol=1e-6
    )


@pytest.mark.parametrize("function", [strip, compact])
def test_bad_model_argument(function):
    with pytest.raises(TypeError, match="model="):
        function("model.keras")

    class Subclassed(keras.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(TypeError, match="Subclassed"):
        function(Subclassed())


def test_strip_bad_apply_gates():
    with pytest.raises(ValueError, match="Received: apply_gates='yes'"):
        strip(hand_pruned_model(), apply_gates="yes")


# === compact ===


def test_compact_removes_dead_units_exactly():
    model = hand_pruned_model()
    small = compact(model)
    assert _widths(small) == EXPECTED_WIDTHS
    # Batch normalisation is folded into the convolutions.
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in small.layers
    )
    assert small.count_params() < strip(model).count_params()
    images = _images(32)
    np.testing.assert_allclose(
        _predict(small, images), _predict(model, images), atol=1e-5
    )


def test_compact_keeps_constant_unit_before_same_padding():
    model = hand_pruned_model()
    # Block1 unit 1 has no incoming weight, yet its constant changes the
    # borders of the next "same" convolution: counted live, and kept.
    assert live_units(model.network)["block1_conv"][1]
    small = compact(model)
    # Units 0 (live) and 1 (constant) stay.
    assert _widths(small)["block1_conv"] == 2
    assert live_units(model.network)["block1_conv"].sum() == 2
    # Removing it anyway (closing its outgoing weights) changes the output.
    _close(model.network.get_layer("block2_conv"), inputs=[1])
    images = _images(8)
    assert np.max(np.abs(_predict(small, images) - _predict(model, images))) > (
        1e-4
    )


def test_compact_logits_model_matches_to_1e5():
    # Logits are more sensitive than softmax outputs.
    model = hand_pruned_model()
    network = model.network
    head = network.get_layer("head_dense")
    logits = keras.Model(network.inputs[0], head.output)
    head.activation = keras.activations.linear
    small = compact(logits)
    images = _images(32, seed=3)
    np.testing.assert_allclose(
        _predict(small, images), _predict(logits, images), atol=1e-5
    )


def test_compact_sequential_with_flatten_and_valid_conv():
    model = flatten_model()
    small = compact(model)
    assert _widths(small) == {
        "conv": 4,
        "conv_valid": 3,
        "hidden": 5,
        "logits": CLASSES,
    }
    assert small.get_layer("bn0").moving_mean.shape == (4,)
    assert small.count_params() < strip(model).count_params()
    images = _images(32)
    np.testing.assert_allclose(
        _predict(small, images), _predict(model, images), atol=1e-5
    )


def test_compact_channel_gating():
    model = keras_gnap.build_gnap(
        IMAGE_SHAPE, CLASSES, stages=((6,), (8,)), gating="channel"
    )
    _randomize_batch_norms(model.network, np.random.default_rng(2))
    conv = model.network.get_layer("block2_conv")
    conv.gate.assign(np.where(np.arange(8) % 2 == 0, 1.0, -1.0))
    small = compact(model)
    # Closed channels of the last convolution fold into the head's bias.
    assert _widths(small)["block2_conv"] == 4
    images = _images(16)
    np.testing.assert_allclose(
        _predict(small, images), _predict(model, images), atol=1e-5
    )


def test_compact_of_trained_model(trained):
    model, images, _ = trained
    small = compact(model)
    assert _widths(small)["block1_conv"] <= 6
    assert small.count_params() < strip(model).count_params()
    np.testing.assert_allclose(
        _predict(small, images), _predict(model, images), atol=1e-5
    )


def _add_model():
    inputs = keras.Input(IMAGE_SHAPE)
    x = GatedConv2D(4, 3, padding="same", name="conv_a")(inputs)
    y = GatedConv2D(4, 3, padding="same", name="conv_b")(x)
    outputs = keras.layers.Add(name="residual")([x, y])
    return keras.Model(inputs, outputs)


def test_compact_rejects_add():
    with pytest.raises(ValueError, match="'residual' of class Add"):
        compact(_add_model())


@pytest.mark.parametrize(
    "layer, class_name",
    [
        (keras.layers.DepthwiseConv2D(3, name="odd"), "DepthwiseConv2D"),
        (keras.layers.Conv2DTranspose(2, 3, name="odd"), "Conv2DTranspose"),
        (keras.layers.Reshape((-1, 1), name="odd"), "Reshape"),
    ],
)
def test_compact_rejects_unsupported_layers(layer, class_name):
    model = keras.Sequential(
        [keras.Input(IMAGE_SHAPE), GatedConv2D(2, 3, name="conv"), layer]
    )
    with pytest.raises(ValueError, match=f"'odd' of class {class_name}"):
        compact(model)


def test_compact_rejects_branches():
    inputs = keras.Input(IMAGE_SHAPE)
    x = GatedConv2D(4, 3, name="conv")(inputs)
    a = keras.layers.ReLU(name="a")(x)
    b = keras.layers.ReLU(name="b")(x)
    with pytest.raises(ValueError, match="one input and one output"):
        compact(keras.Model(inputs, [a, b]))


# === Plain Keras loading ===

LOAD_WITHOUT_GNAP = textwrap.dedent(
    """
    import importlib.abc
    import sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "keras_gnap":
                raise ImportError("keras_gnap must not be needed")

    sys.meta_path.insert(0, Block())
    import keras
    import numpy as np

    images = np.load("images.npy")
    for name in ("stripped", "compacted"):
        model = keras.saving.load_model(name + ".keras")
        np.save(name + "_out.npy", np.asarray(model(images, training=False)))
    assert "keras_gnap" not in sys.modules
    """
)


def test_stripped_and_compacted_load_without_keras_gnap(tmp_path):
    model = hand_pruned_model()
    images = _images(8)
    strip(model).save(tmp_path / "stripped.keras")
    compact(model).save(tmp_path / "compacted.keras")
    np.save(tmp_path / "images.npy", images)
    result = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_GNAP],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = _predict(model, images)
    for name in ("stripped", "compacted"):
        np.testing.assert_allclose(
            np.load(tmp_path / f"{name}_out.npy"), expected, atol=1e-5
        )


# === TFLite and SavedModel ===


@pytest.fixture(scope="module")
def float_tflite(trained, tmp_path_factory):
    model, _, _ = trained
    path = tmp_path_factory.mktemp("float") / "model.tflite"
    lines = []
    report = export(
        model, path, format="tflite", latency_runs=20, print_fn=lines.append
    )
    return path, report, lines


def test_tflite_float_builtin_ops_and_parity(trained, float_tflite):
    model, images, _ = trained
    path, _, _ = float_tflite
    assert custom_ops(path) == []
    received = tflite_predict(path, images)
    expected = _predict(model, images)
    np.testing.assert_allclose(received, expected, atol=1e-4)
    np.testing.assert_array_equal(received.argmax(-1), expected.argmax(-1))


def test_tflite_report(trained, float_tflite):
    model, _, _ = trained
    path, report, lines = float_tflite
    assert isinstance(report, ExportReport)
    assert report.format == "tflite" and report.quantize is None
    assert report.size_bytes == path.stat().st_size
    assert 0 < report.gzipped_bytes < report.size_bytes
    assert report.effective_params == count_params(model)
    assert report.keras_params == compact(model).count_params()
    assert report.latency_ms > 0 and report.latency_runs == 20
    printed = "\n".join(lines)
    assert "Converting to TFLite" in printed
    assert f"{report.size_bytes:,} bytes" in printed
    assert "ms per image" in printed
    assert str(report) in printed


def test_export_keeps_the_smaller_of_dense_and_sparse_kernels(
    trained, tmp_path
):
    model, images, _ = trained
    sizes = {}
    for sparse in (False, True, "auto"):
        path = tmp_path / f"{sparse}.tflite"
        report = export(
            model,
            path,
            format="tflite",
            sparse_weights=sparse,
            latency_runs=0,
            verbose=False,
        )
        sizes[sparse] = path.stat().st_size
        np.testing.assert_allclose(
            tflite_predict(path, images), _predict(model, images), atol=1e-4
        )
    assert sizes["auto"] == min(sizes[False], sizes[True])
    assert report.sparse_weights == (sizes[True] < sizes[False])


@pytest.mark.parametrize("sparse_smaller", [True, False])
def test_export_auto_writes_the_smaller_conversion(
    sparse_smaller, tmp_path, monkeypatch
):
    def convert(plain, quantize, images, sparse_weights, workdir):
        small = sparse_weights == sparse_smaller
        return b"\x1c\x00\x00\x00TFL3" + b"0" * (10 if small else 20)

    monkeypatch.setattr(export_model_module, "_convert", convert)
    path = tmp_path / "model.tflite"
    report = export(
        hand_pruned_model(),
        path,
        format="tflite",
        latency_runs=0,
        verbose=False,
    )
    assert path.stat().st_size == 18
    assert report.sparse_weights is sparse_smaller


def test_custom_ops_detects_flex(tmp_path):
    # A model that needs a TensorFlow op (Flex) with no TFLite builtin.
    @tf.function(input_signature=[tf.TensorSpec((None, 2, 2), tf.float32)])
    def flex(x):
        return tf.linalg.det(x)

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [flex.get_concrete_function()], flex
    )
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS,
        tf.lite.OpsSet.SELECT_TF_OPS,
    ]
    content = converter.convert()
    ops = custom_ops(content)
    assert ops and all(op.startswith("Flex") for op in ops)


def test_tflite_int8_accuracy(trained, tmp_path):
    model, images, labels = trained
    path = tmp_path / "int8.tflite"
    calibration = tf.data.Dataset.from_tensor_slices(
        _synthetic(200, seed=2)
    ).batch(50)
    report = export(
        model,
        path,
        format="tflite",
        quantize="int8",
        representative_data=calibration,
        latency_runs=5,
        verbose=False,
    )
    assert report.quantize == "int8"
    assert custom_ops(path) == []
    interpreter = Interpreter(model_path=os.fspath(path))
    types = {d["dtype"] for d in interpreter.get_tensor_details()}
    assert np.int8 in types
    # Float input and output, quantized inside the model.
    assert interpreter.get_input_details()[0]["dtype"] == np.float32
    keras_accuracy = np.mean(_predict(model, images).argmax(-1) == labels)
    int8_accuracy = np.mean(tflite_predict(path, images).argmax(-1) == labels)
    assert keras_accuracy > 0.9
    assert int8_accuracy >= keras_accuracy - 0.003
    # Fully quantized: int8 weights make the file smaller than float.
    float_report = export(
        model, tmp_path / "float.tflite", format="tflite", verbose=False
    )
    assert report.size_bytes < float_report.size_bytes


def test_saved_model_export_and_replace(trained, tmp_path):
    model, images, _ = trained
    path = tmp_path / "saved"
    report = export(model, path, verbose=False)
    assert report.format == "saved_model" and report.latency_ms is None
    assert (path / "saved_model.pb").is_file()
    loaded = tf.saved_model.load(os.fspath(path))
    np.testing.assert_allclose(
        loaded.serve(images).numpy(), _predict(model, images), atol=1e-5
    )
    # An existing SavedModel is replaced, with no leftover in the parent.
    export(model, path, compact=False, verbose=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"format": "onnx"}, "Received: format='onnx'"),
        ({"format": "tflite", "quantize": "int4"}, "Received: quantize='int4'"),
        ({"quantize": "dynamic"}, "Received: quantize='dynamic'"),
        (
            {"format": "tflite", "quantize": "int8"},
            "Received: representative_data=None",
        ),
        (
            {"format": "tflite", "representative_data": np.zeros((2, 12))},
            "Received: quantize=None",
        ),
        ({"compact": "yes"}, "Received: compact='yes'"),
        ({"sparse_weights": 1}, "Received: sparse_weights=1"),
        ({"sparse_weights": "yes"}, "Received: sparse_weights='yes'"),
        ({"latency_runs": -1}, "Received: latency_runs=-1"),
        ({"path": ""}, "Received: path=''"),
        ({"path": 3}, "Received: path=3"),
        ({"path": "missing_dir/model.tflite"}, "Received: path="),
    ],
)
def test_export_bad_arguments(kwargs, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs = {"path": "model.tflite", **kwargs}
    with pytest.raises(ValueError, match=message):
        export(hand_pruned_model(), verbose=False, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_export_bad_paths(tmp_path):
    model = hand_pruned_model()
    with pytest.raises(ValueError, match="not a directory"):
        export(model, tmp_path, format="tflite", verbose=False)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(ValueError, match="refusing to overwrite"):
        export(model, tmp_path / "notes", verbose=False)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"


def test_export_bad_representative_data(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(12, 12, 1\)"):
        export(
            hand_pruned_model(),
            tmp_path / "model.tflite",
            format="tflite",
            quantize="int8",
            representative_data=np.zeros((4, 28, 28, 1)),
            verbose=False,
        )
    with pytest.raises(ValueError, match="of type str"):
        calibration_images("images/", IMAGE_SHAPE)
    assert list(tmp_path.iterdir()) == []


def test_failed_export_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "model.tflite"
    previous = b"\x1c\x00\x00\x00TFL3 an earlier model"  # its identifier
    path.write_bytes(previous)

    def failing_convert(plain, quantize, images, sparse_weights, workdir):
        (workdir / "output").write_bytes(b"half")
        raise RuntimeError("conversion crashed")

    monkeypatch.setattr(export_model_module, "_convert", failing_convert)
    with pytest.raises(RuntimeError, match="conversion crashed"):
        export(hand_pruned_model(), path, format="tflite", verbose=False)
    assert path.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tflite"]


# === Representative data ===


def _write_idx(directory, images, labels):
    directory.mkdir(parents=True, exist_ok=True)
    n, rows, cols = images.shape
    header = bytes((0, 0, 8, 3)) + b"".join(
        d.to_bytes(4, "big") for d in (n, rows, cols)
    )
    with gzip.open(directory / "train-images-idx3-ubyte.gz", "wb") as file:
        file.write(header + images.astype(np.uint8).tobytes())
    header = bytes((0, 0, 8, 1)) + n.to_bytes(4, "big")
    with gzip.open(directory / "train-labels-idx1-ubyte.gz", "wb") as file:
        file.write(header + labels.astype(np.uint8).tobytes())


def test_calibration_images_from_dataset():
    images, labels = _synthetic(30, seed=0)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    got = calibration_images(dataset, IMAGE_SHAPE, limit=20)
    np.testing.assert_array_equal(got, images[:20])
    single = calibration_images(images[0], IMAGE_SHAPE)
    assert single.shape == (1, *IMAGE_SHAPE)


def test_load_images(tmp_path):
    images, labels = _synthetic(40, seed=0)
    np.save(tmp_path / "images.npy", images)
    np.testing.assert_array_equal(
        load_images(tmp_path / "images.npy", limit=10), images[:10]
    )
    _write_idx(tmp_path / "idx", np.round(images[..., 0] * 255), labels)
    got = calibration_images(load_images(tmp_path / "idx"), IMAGE_SHAPE)
    assert got.shape[1:] == IMAGE_SHAPE and 0 < len(got) <= 40
    with pytest.raises(ValueError, match="Received: source="):
        load_images(tmp_path / "missing")


@pytest.mark.skipif(
    not (SHARED_DATA / "mnist").is_dir(), reason="shared MNIST data absent"
)
def test_load_images_mnist():
    images = calibration_images(load_images(SHARED_DATA / "mnist"), (28, 28, 1))
    assert images.shape == (500, 28, 28, 1)
    assert images.min() >= 0.0 and images.max() == 1.0


# === Command line ===


def _cli(argv):
    if importlib.util.find_spec("keras_gnap.cli.train_command") is not None:
        from keras_gnap.cli.main import main

        return main(argv)
    parser = argparse.ArgumentParser(prog="keras_gnap")
    export_command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.run(args)


def test_cli_export_int8(trained, tmp_path, capsys):
    model, images, _ = trained
    model.save(tmp_path / "model.keras")
    x, y = _synthetic(64, seed=5)
    _write_idx(tmp_path / "data", np.round(x[..., 0] * 255), y)
    output = tmp_path / "model.tflite"
    code = _cli(
        [
            "export",
            os.fspath(tmp_path / "model.keras"),
            "--format",
            "tflite",
            "--quantize",
            "int8",
            "--representative-data",
            os.fspath(tmp_path / "data"),
            "--output",
            os.fspath(output),
            "--latency-runs",
            "5",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert custom_ops(output) == []
    assert "int8" in printed and "ms per image" in printed
    agree = tflite_predict(output, images).argmax(-1) == _predict(
        model, images
    ).argmax(-1)
    assert agree.mean() > 0.95


def _cli_error(argv, capsys):
    """Runs the CLI, expecting one error line and exit status 2."""
    with pytest.raises(SystemExit) as raised:
        _cli(argv)
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "Traceback" not in error
    (line,) = error.strip().splitlines()
    return line


def test_cli_reports_errors(trained, tmp_path, capsys):
    out = os.fspath(tmp_path / "out")
    missing = os.fspath(tmp_path / "missing.keras")
    line = _cli_error(["export", missing, "--output", out], capsys)
    assert "model file not found" in line and "missing.keras" in line
    assert not (tmp_path / "out").exists()
    # A file that is there but is not a model says so.
    junk = tmp_path / "notes.keras"
    junk.write_text("not a model")
    line = _cli_error(["export", os.fspath(junk), "--output", out], capsys)
    assert "is not a saved Keras model" in line
    # Errors name the options, not the API's arguments.
    model, _, _ = trained
    saved = tmp_path / "model.keras"
    model.save(saved)
    line = _cli_error(
        ["export", os.fspath(saved), "--output", out, "--latency-runs", "-1"],
        capsys,
    )
    assert "--latency-runs" in line and "-1" in line
    line = _cli_error(
        [
            "export",
            os.fspath(saved),
            "--output",
            os.fspath(tmp_path / "m.tflite"),
            "--format",
            "tflite",
            "--quantize",
            "int8",
        ],
        capsys,
    )
    assert "--representative-data" in line
    assert "representative_data" not in line
    with pytest.raises(SystemExit):
        _cli(["export", "m.keras", "--output", "o", "--format", "onnx"])


def test_tflite_export_never_replaces_a_file_of_another_kind(
    trained, float_tflite, tmp_path
):
    model, _, _ = trained
    precious = tmp_path / "precious.txt"
    precious.write_text("my notes")
    with pytest.raises(ValueError, match="not a TFLite model"):
        export(model, precious, format="tflite", latency_runs=0)
    assert precious.read_text() == "my notes"
    # An earlier TFLite model is replaced.
    earlier = tmp_path / "model.tflite"
    earlier.write_bytes(float_tflite[0].read_bytes())
    export(model, earlier, format="tflite", latency_runs=0, verbose=False)
    assert earlier.read_bytes()[4:8] == b"TFL3"
