"""`python -m keras_gnap export`: write a trained model for inference."""

import argparse
import os
import zipfile

# The formats of `keras_gnap.export` (a test checks they are equal): the
# parser is built before Keras loads.
FORMATS = ("saved_model", "tflite")

# The option that sets each argument of `keras_gnap.export`.
OPTIONS = {
    "representative_data": "--representative-data",
    "latency_runs": "--latency-runs",
    "quantize": "--quantize",
    "format": "--format",
    "path": "--output",
}

DESCRIPTION = """\
Export a saved GNAP model (.keras) as a SavedModel or a TFLite file, with
dead units removed and batch normalisation folded (see keras_gnap.compact),
and print its report: effective and Keras parameter counts, file size raw
and gzipped, and for TFLite the latency per image in the LiteRT
interpreter. int8 quantization calibrates on --representative-data: any
data keras_gnap.datasets.load reads (an IDX directory such as MNIST's, an
image folder or an archive of one; its training split) or a .npy file of
images as the model takes them.

example:
  python -m keras_gnap export model.keras --format tflite \\
      --quantize int8 --representative-data data/mnist --output model.tflite
"""


def add_parser(subparsers):
    """Adds the `export` subcommand to the `python -m keras_gnap` parser.

    Args:
        subparsers: the object `ArgumentParser.add_subparsers()` returned.

    Returns:
        The new `argparse.ArgumentParser`.
    """
    parser = subparsers.add_parser(
        "export",
        help="export a trained model as a SavedModel or a TFLite file",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="saved model file (.keras)")
    parser.add_argument(
        "--output",
        required=True,
        help="output file (TFLite) or directory (SavedModel)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="saved_model",
        help="export format (default: saved_model)",
    )
    parser.add_argument(
        "--quantize",
        choices=("dynamic", "int8"),
        default=None,
        help="TFLite quantization (default: none, float32)",
    )
    parser.add_argument(
        "--representative-data",
        metavar="PATH",
        default=None,
        help="images to calibrate int8 on: a dataset path or a .npy file",
    )
    parser.add_argument(
        "--no-compact",
        dest="compact",
        action="store_false",
        help="only fold the gates, keep every unit",
    )
    kernels = parser.add_mutually_exclusive_group()
    kernels.add_argument(
        "--dense-weights",
        dest="sparse_weights",
        action="store_const",
        const=False,
        default="auto",
        help="store TFLite kernels densely (default: whichever of dense "
        "and sparse is smaller)",
    )
    kernels.add_argument(
        "--sparse-weights",
        dest="sparse_weights",
        action="store_const",
        const=True,
        help="store TFLite kernels in the sparse format",
    )
    parser.add_argument(
        "--latency-runs",
        type=int,
        default=100,
        help="timed runs for the TFLite latency, 0 to skip (default: 100)",
    )
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Runs `export` with parsed arguments.

    Args:
        args: `argparse.Namespace` from the `export` parser.

    Returns:
        The exit code: 0 on success.

    Raises:
        ValueError: if the model file is missing or not a Keras model, or
            the export rejects an argument; `python -m keras_gnap` prints
            it as one line and exits with status 2, as for `train`.
    """
    _check_model_file(args.model)
    if args.latency_runs < 0:
        raise ValueError(
            f"--latency-runs must be 0 or more. Received: {args.latency_runs!r}"
        )
    import keras

    # Registers the keras_gnap classes the saved model refers to.
    import keras_gnap  # noqa: F401
    from keras_gnap.export.export_model import export
    from keras_gnap.export.representative_data import load_images

    model = keras.saving.load_model(args.model)
    data = None
    if args.representative_data is not None:
        data = load_images(args.representative_data)
    try:
        export(
            model,
            args.output,
            format=args.format,
            quantize=args.quantize,
            representative_data=data,
            compact=args.compact,
            sparse_weights=args.sparse_weights,
            latency_runs=args.latency_runs,
        )
    except (ValueError, TypeError) as error:
        raise type(error)(in_options(str(error))) from None
    return 0


def in_options(message):
    """Names the command's options in an error of `keras_gnap.export`.

    Args:
        message: str, an error message naming `export`'s arguments.

    Returns:
        The message with each argument (`` `latency_runs` ``,
        `latency_runs=`) replaced by its option (`--latency-runs`).
    """
    for argument, option in OPTIONS.items():
        message = message.replace(f"`{argument}`", option)
        message = message.replace(f"{argument}=", f"{option} ")
    return message


def _check_model_file(path):
    if not os.path.exists(path):
        raise ValueError(f"model file not found: {path!r}")
    if os.path.isdir(path) or not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a saved Keras model: expected a .keras file "
            "as model.save writes it (python -m keras_gnap train writes "
            "model.keras)"
        )
