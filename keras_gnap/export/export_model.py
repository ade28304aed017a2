"""Writing a pruned network as a SavedModel or a TFLite flatbuffer."""

import os
import pathlib
import tempfile

import keras
import numpy as np

from keras_gnap.datasets.tensorflow_support import require_tensorflow
from keras_gnap.export.compact import compact as compact_model
from keras_gnap.export.export_report import ExportReport
from keras_gnap.export.export_report import gzipped_size
from keras_gnap.export.export_report import size_on_disk
from keras_gnap.export.representative_data import calibration_images
from keras_gnap.export.strip import float32_copy
from keras_gnap.export.strip import network_of
from keras_gnap.export.strip import strip
from keras_gnap.export.tflite_runtime import custom_ops
from keras_gnap.export.tflite_runtime import measure_latency
from keras_gnap.export.tflite_runtime import tflite_predict
from keras_gnap.reports.parameter_count import count_params

FORMATS = ("saved_model", "tflite")
QUANTIZATIONS = (None, "dynamic", "int8")
SPARSE_WEIGHTS = ("auto", True, False)
PARITY_IMAGES = 8
PARITY_TOLERANCE = 1e-4


def export(
    model,
    path,
    format="saved_model",
    quantize=None,
    representative_data=None,
    compact=True,
    sparse_weights="auto",
    latency_runs=100,
    verbose=True,
    print_fn=None,
):
    """Exports a pruned network for inference, smaller and faster.

    The network is compacted (`keras_gnap.compact`: dead units removed,
    batch normalisation folded) or only stripped (`keras_gnap.strip`),
    then written with Keras's own `model.export(..., format=
    "tf_saved_model")`, which TFLite export converts further with
    `tf.lite.TFLiteConverter.from_saved_model` (batch size left free).
    It is written in float32 even when it trained under a mixed-precision
    policy (see `keras_gnap.export.strip.float32_copy`).
    A TFLite model uses TFLite builtin operators only (checked: no Flex or
    other custom operator), so it runs in the plain LiteRT interpreter; a
    float32 one is also checked against the Keras model on a few random
    images before it is written. Quantization:

    - `None`: float32 throughout.
    - `"dynamic"`: weights stored as int8, activations float.
    - `"int8"`: full-integer model, weights and activations int8, with
      activation ranges calibrated on `representative_data` (up to 500
      images). Its input and output stay float32 (the model quantizes the
      image and dequantizes the output itself), so it takes the same
      images and gives the same kind of output as the Keras model.

    With `sparse_weights`, the converter stores the mostly-zero kernels
    that unstructured pruning leaves in a sparse format (TFLite's
    `EXPERIMENTAL_SPARSITY` optimization, densified by the builtin DENSIFY
    operator when the model is loaded), which changes no output and no
    latency (the interpreter runs dense kernels either way) but may make
    the file smaller, or larger: an int8 kernel or one with few zeros
    costs more in the sparse format's indices than it saves. So by
    default (`"auto"`) both are converted and the smaller file is kept.

    The file (or SavedModel directory) is written beside `path` under a
    temporary name and renamed into place, so `path` never holds a
    half-written model. An existing file at `path` (for TFLite) or
    SavedModel directory (for SavedModel) is replaced.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.
        path: str or path. Output file (TFLite) or directory (SavedModel);
            its parent directory must exist.
        format: str. `"saved_model"` or `"tflite"`. Defaults to
            `"saved_model"`.
        quantize: str. `None`, `"dynamic"` or `"int8"`; TFLite only.
            Defaults to `None`.
        representative_data: `tf.data.Dataset` (of images or of
            `(images, labels)`, batched or not) or array of images, as the
            model takes them. Required for `quantize="int8"`, unused
            otherwise. Defaults to `None`.
        compact: bool. Whether to remove dead units and fold batch
            normalisation before exporting. Defaults to `True`.
        sparse_weights: `"auto"`, `True` or `False`. Whether to store
            sparse kernels in a sparse format; `"auto"` keeps whichever
            file is smaller. TFLite only (a SavedModel stores dense
            tensors). Defaults to `"auto"`.
        latency_runs: int. Timed runs for the TFLite latency; 0 skips the
            measurement. Defaults to 100.
        verbose: bool. Whether to print progress and the report. Defaults
            to `True`.
        print_fn: callable taking one string, used instead of `print`.
            Defaults to `None`.

    Returns:
        An `ExportReport`.

    Raises:
        TypeError: if `model` is not a Functional, Sequential or
            `GNAPModel`.
        ValueError: if an argument is invalid (naming it and the value
            received), if compaction does not support a layer, or if the
            TFLite model would need non-builtin operators.
        RuntimeError: if the float32 TFLite model does not reproduce the
            Keras model's outputs.
        ImportError: if TensorFlow (either format) or the LiteRT
            interpreter (TFLite) is not installed.

    Example:

    >>> report = keras_gnap.export(
    ...     model, "model.tflite", format="tflite", quantize="int8",
    ...     representative_data=x_train[:500])
    >>> report.size_bytes, report.latency_ms
    """
    _check_arguments(
        format,
        quantize,
        representative_data,
        compact,
        sparse_weights,
        latency_runs,
    )
    require_tensorflow(f"Exporting a model (format={format!r})")
    path = _check_path(path, format)
    network_of(model)
    print_fn = print if print_fn is None else print_fn
    say = print_fn if verbose else _silent

    plain = float32_copy(compact_model(model) if compact else strip(model))
    images = None
    if quantize == "int8":
        images = calibration_images(
            representative_data, plain.inputs[0].shape[1:]
        )
    parent = path.parent
    with tempfile.TemporaryDirectory(dir=parent, prefix=".export-") as tmp:
        staged = pathlib.Path(tmp) / "output"
        if format == "saved_model":
            say(f"Writing SavedModel to {path} ...")
            plain.export(os.fspath(staged), format="tf_saved_model", verbose=0)
        else:
            say(f"Converting to TFLite ({quantize or 'float32'}) ...")
            choices = (
                (False, True) if sparse_weights == "auto" else (sparse_weights,)
            )
            contents = {
                sparse: _convert(
                    plain, quantize, images, sparse, pathlib.Path(tmp)
                )
                for sparse in choices
            }
            sparse_weights = min(contents, key=lambda k: len(contents[k]))
            staged.write_bytes(contents[sparse_weights])
        _move_into_place(staged, path, pathlib.Path(tmp))

    latency = None
    if format == "tflite" and latency_runs:
        say(f"Timing {latency_runs} runs in the LiteRT interpreter ...")
        latency = measure_latency(path, runs=latency_runs)
    report = ExportReport(
        path=os.fspath(path),
        format=format,
        quantize=quantize,
        compacted=compact,
        sparse_weights=sparse_weights is True and format == "tflite",
        effective_params=count_params(model),
        keras_params=int(plain.count_params()),
        size_bytes=size_on_disk(path),
        gzipped_bytes=gzipped_size(path),
        latency_ms=latency,
        latency_runs=latency_runs if latency is not None else 0,
    )
    for line in report.lines():
        say(line)
    return report


def _silent(*args, **kwargs):
    pass


def _check_arguments(
    format, quantize, representative_data, compact, sparse_weights, latency_runs
):
    if format not in FORMATS:
        raise ValueError(
            f"Argument `format` must be one of {FORMATS}. "
            f"Received: format={format!r}"
        )
    if quantize not in QUANTIZATIONS:
        raise ValueError(
            f"Argument `quantize` must be one of {QUANTIZATIONS}. "
            f"Received: quantize={quantize!r}"
        )
    if quantize is not None and format != "tflite":
        raise ValueError(
            "Quantization is only available with format='tflite'. "
            f"Received: quantize={quantize!r} with format={format!r}"
        )
    if quantize == "int8" and representative_data is None:
        raise ValueError(
            "Argument `representative_data` is required with "
            "quantize='int8': a tf.data.Dataset or an array of images to "
            "calibrate activation ranges on. "
            "Received: representative_data=None"
        )
    if quantize != "int8" and representative_data is not None:
        raise ValueError(
            "Argument `representative_data` is only used with "
            f"quantize='int8'. Received: quantize={quantize!r} and "
            f"representative_data of type {type(representative_data).__name__}"
        )
    if not isinstance(compact, bool):
        raise ValueError(
            f"Argument `compact` must be a bool. Received: compact={compact!r}"
        )
    if sparse_weights not in SPARSE_WEIGHTS or not isinstance(
        sparse_weights, (bool, str)
    ):
        raise ValueError(
            f"Argument `sparse_weights` must be one of {SPARSE_WEIGHTS}. "
            f"Received: sparse_weights={sparse_weights!r}"
        )
    if (
        not isinstance(latency_runs, (int, np.integer))
        or isinstance(latency_runs, bool)
        or latency_runs < 0
    ):
        raise ValueError(
            "Argument `latency_runs` must be a non-negative integer. "
            f"Received: latency_runs={latency_runs!r}"
        )


def _check_path(path, format):
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(
            "Argument `path` must be a non-empty str or path. "
            f"Received: path={path!r}"
        )
    path = pathlib.Path(path)
    if not path.parent.is_dir():
        raise ValueError(
            "Argument `path` must be in an existing directory. "
            f"Received: path={os.fspath(path)!r}"
        )
    if format == "tflite" and path.is_dir():
        raise ValueError(
            "Argument `path` must be a file path for format='tflite', not "
            f"a directory. Received: path={os.fspath(path)!r}"
        )
    if format == "tflite" and path.is_file() and not is_tflite_file(path):
        # Only ever replace a TFLite model, never a user's other files.
        raise ValueError(
            "Argument `path` exists and is not a TFLite model; refusing to "
            f"overwrite it. Received: path={os.fspath(path)!r}"
        )
    if format == "saved_model" and path.exists():
        # Only ever replace a SavedModel, never a user's other files.
        if not (path / "saved_model.pb").is_file():
            raise ValueError(
                "Argument `path` exists and is not a SavedModel directory; "
                "refusing to overwrite it. "
                f"Received: path={os.fspath(path)!r}"
            )
    return path


def is_tflite_file(path):
    """Whether the file at `path` is a TFLite model (a flatbuffer whose
    identifier is `TFL3`).

    Args:
        path: str or path of an existing file.

    Returns:
        bool.
    """
    with open(path, "rb") as f:
        return f.read(8)[4:8] == b"TFL3"


def _move_into_place(staged, path, tmp):
    if staged.is_dir() and path.exists():
        # A directory cannot be replaced in one rename: move the old one
        # into the temporary directory (deleted afterwards) first.
        os.replace(path, tmp / ".previous")
    os.replace(staged, path)


def _convert(plain, quantize, images, sparse_weights, workdir):
    import tensorflow as tf

    # Keras's own SavedModel export, then conversion: the path Keras's
    # LiteRT export takes. Converting a tf.function over the live model
    # instead keeps resource variables (READ_VARIABLE ops) in the model.
    saved_model = os.fspath(workdir / "saved_model")
    plain.export(saved_model, format="tf_saved_model", verbose=0)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    optimizations = []
    if quantize is not None:
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse_weights:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if quantize == "int8":
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        ]

        def representative_dataset():
            for image in images:
                yield [image[None]]

        converter.representative_dataset = representative_dataset
    content = converter.convert()
    extra = custom_ops(content)
    if extra:
        raise ValueError(
            "The TFLite model needs non-builtin operators, which the LiteRT "
            "interpreter cannot run without the TensorFlow runtime. "
            f"Received: operators {extra}"
        )
    if quantize is None:
        _check_parity(plain, content)
    return content


def _check_parity(plain, content):
    # A cheap guard against a silently wrong conversion: float32 TFLite
    # must match Keras up to float rounding.
    shape = (PARITY_IMAGES, *plain.inputs[0].shape[1:])
    if None in shape:
        return
    images = np.random.default_rng(0).random(shape, dtype=np.float32)
    expected = keras.ops.convert_to_numpy(plain(images, training=False))
    received = tflite_predict(content, images)
    error = float(np.max(np.abs(received - expected)))
    if not error <= PARITY_TOLERANCE * max(1.0, np.max(np.abs(expected))):
        raise RuntimeError(
            "The TFLite conversion changed the model's outputs (largest "
            f"difference {error:.3g} on random images); not exporting it."
        )
