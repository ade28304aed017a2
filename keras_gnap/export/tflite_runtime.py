"""Running, checking and timing TFLite models in the LiteRT interpreter."""

import os
import pathlib
import statistics
import time

import numpy as np

from keras_gnap.datasets.tensorflow_support import missing_dependency_error


def _litert():
    try:
        from ai_edge_litert import interpreter
        from ai_edge_litert import schema_py_generated
    except ImportError as error:
        raise missing_dependency_error(
            "Running or checking a TFLite model (LiteRT interpreter)",
            "ai_edge_litert",
        ) from error
    return interpreter, schema_py_generated


def _content(model):
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    if isinstance(model, (str, os.PathLike)):
        return pathlib.Path(model).read_bytes()
    raise ValueError(
        "Argument `model` must be a TFLite file path or its bytes. "
        f"Received: model of type {type(model).__name__}"
    )


def custom_ops(model):
    """Returns the names of the non-builtin operators of a TFLite model.

    Flex (TensorFlow "select") operators are custom operators named
    `Flex...`; a model that uses any needs the TensorFlow runtime.

    Args:
        model: str, path or bytes. A TFLite model file or its content.

    Returns:
        A sorted list of custom operator names, empty when every operator
        is a TFLite builtin.

    Raises:
        ImportError: if the LiteRT interpreter is not installed.
    """
    _, schema = _litert()
    flatbuffer = schema.Model.GetRootAs(_content(model), 0)
    names = set()
    for index in range(flatbuffer.OperatorCodesLength()):
        code = flatbuffer.OperatorCodes(index)
        # Codes above 127 live in BuiltinCode, older ones in the deprecated
        # byte; the larger of the two is the real one.
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        if builtin == schema.BuiltinOperator.CUSTOM:
            names.add((code.CustomCode() or b"?").decode())
    return sorted(names)


def tflite_predict(model, images, batch_size=256):
    """Runs a TFLite classifier on images in the LiteRT interpreter.

    Integer inputs and outputs are quantized and dequantized with the
    model's own scale and zero point, so float images go in and float
    outputs come out whatever the model's IO type.

    Args:
        model: str, path or bytes. A TFLite model file or its content,
            with one input whose first dimension is the batch.
        images: array of shape `(n, ...)` as the model takes it.
        batch_size: int. Images per interpreter call. Defaults to 256.

    Returns:
        A float32 NumPy array of the outputs, one row per image.

    Raises:
        ImportError: if the LiteRT interpreter is not installed.

    Example:

    >>> probabilities = tflite_predict("model.tflite", x_val)
    >>> accuracy = (probabilities.argmax(-1) == y_val).mean()
    """
    interpreter_module, _ = _litert()
    interpreter = interpreter_module.Interpreter(model_content=_content(model))
    images = np.asarray(images, dtype=np.float32)
    input_index = interpreter.get_input_details()[0]["index"]
    outputs = []
    current = None
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size]
        if current != len(batch):
            interpreter.resize_tensor_input(input_index, batch.shape)
            interpreter.allocate_tensors()
            current = len(batch)
        input_details = interpreter.get_input_details()[0]
        output_details = interpreter.get_output_details()[0]
        interpreter.set_tensor(input_index, _quantize(batch, input_details))
        interpreter.invoke()
        result = interpreter.get_tensor(output_details["index"])
        outputs.append(_dequantize(result, output_details))
    return np.concatenate(outputs)


def measure_latency(model, runs=100, warmup=10, seed=0):
    """Returns the median time to run a TFLite model on one image, in ms.

    Uses the LiteRT interpreter with one thread and batch 1; each timed
    run sets the input, invokes and reads the output.

    Args:
        model: str, path or bytes. A TFLite model file or its content.
        runs: int. Timed runs. Defaults to 100.
        warmup: int. Untimed runs first. Defaults to 10.
        seed: int. Seed of the random input image. Defaults to 0.

    Returns:
        A float, milliseconds.

    Raises:
        ImportError: if the LiteRT interpreter is not installed.
    """
    interpreter_module, _ = _litert()
    interpreter = interpreter_module.Interpreter(
        model_content=_content(model), num_threads=1
    )
    input_details = interpreter.get_input_details()[0]
    shape = [1, *input_details["shape"][1:]]
    interpreter.resize_tensor_input(input_details["index"], shape)
    interpreter.allocate_tensors()
    input_details = interpreter.get_input_details()[0]
    output_index = interpreter.get_output_details()[0]["index"]
    image = np.random.default_rng(seed).random(shape, dtype=np.float32)
    image = _quantize(image, input_details)
    times = []
    for run in range(warmup + runs):
        start = time.perf_counter()
        interpreter.set_tensor(input_details["index"], image)
        interpreter.invoke()
        interpreter.get_tensor(output_index)
        if run >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def _quantize(values, details):
    if details["dtype"] == np.float32:
        return values
    scale, zero_point = details["quantization"]
    info = np.iinfo(details["dtype"])
    values = np.round(values / scale + zero_point)
    return np.clip(values, info.min, info.max).astype(details["dtype"])


def _dequantize(values, details):
    if details["dtype"] == np.float32:
        return values
    scale, zero_point = details["quantization"]
    return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
