"""What export saves: a pruned GNAP model against its unpruned network.

Exports a trained model three ways and prints their reports side by side:

- unpruned: the network at the width it reached, every weight kept (raw
  kernels, gates ignored), stripped but not compacted, float32 TFLite;
- compacted: dead units removed, batch norm folded, sparse kernels stored
  sparsely, float32 TFLite;
- compacted int8: the same, fully quantized to int8 (float32 input and
  output), calibrated on 500 training images.

Then the ratios unpruned / compacted (size raw and gzipped, latency,
parameters), and the parity of both compacted TFLite models with the Keras
model on the validation split (the last 10,000 MNIST training images).

Usage (from the project root, keras_gnap installed with `pip install -e .`):

    python benchmarks/export_report.py --model model.keras \\
        --data-dir ../shared/data/mnist
"""

import argparse
import pathlib
import tempfile

import keras
import numpy as np

import keras_gnap  # noqa: F401  (registers the classes of saved models)
from keras_gnap.datasets import load
from keras_gnap.export import export
from keras_gnap.export import strip
from keras_gnap.export import tflite_predict
from keras_gnap.export.representative_data import load_images

DEFAULT_DATA_DIR = (
    pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="saved .keras model")
    parser.add_argument(
        "--data-dir",
        default=str(DEFAULT_DATA_DIR),
        help="MNIST IDX directory (default: ../shared/data/mnist)",
    )
    parser.add_argument(
        "--output-dir",
        default=None,
        help="where to keep the exported files (default: a temporary one)",
    )
    parser.add_argument("--latency-runs", type=int, default=300)
    args = parser.parse_args(argv)

    model = keras.saving.load_model(args.model)
    x_val, y_val = _validation(args.data_dir)
    calibration = load_images(args.data_dir)

    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(args.output_dir or tmp)
        out.mkdir(parents=True, exist_ok=True)
        common = {"format": "tflite", "latency_runs": args.latency_runs}
        print("== Unpruned network, same width, float32 ==")
        unpruned = export(
            strip(model, apply_gates=False),
            out / "unpruned.tflite",
            compact=False,
            sparse_weights=False,
            **common,
        )
        print("\n== Compacted, float32 ==")
        compact_float = export(model, out / "compact_float.tflite", **common)
        print("\n== Compacted, int8 ==")
        compact_int8 = export(
            model,
            out / "compact_int8.tflite",
            quantize="int8",
            representative_data=calibration,
            **common,
        )
        reports = {
            "unpruned float32": unpruned,
            "compacted float32": compact_float,
            "compacted int8": compact_int8,
        }
        print()
        _print_table(reports)
        print()
        for name in ("compacted float32", "compacted int8"):
            _print_ratios(unpruned, name, reports[name])
        print()
        _print_parity(model, out, x_val, y_val)


def _validation(data_dir):
    dataset = load(data_dir, split="validation", batch_size=1000)
    images, labels = [], []
    for x, y in dataset:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def _print_table(reports):
    rows = [
        ("Keras params", lambda r: f"{r.keras_params:,}"),
        ("Effective params", lambda r: f"{r.effective_params:,}"),
        ("Size (bytes)", lambda r: f"{r.size_bytes:,}"),
        ("Size gzipped (bytes)", lambda r: f"{r.gzipped_bytes:,}"),
        ("Latency (ms/image)", lambda r: f"{r.latency_ms:.4f}"),
    ]
    print(f"{'':24}" + "".join(f"{name:>20}" for name in reports))
    for title, cell in rows:
        cells = "".join(f"{cell(r):>20}" for r in reports.values())
        print(f"{title:24}{cells}")
    print(
        "Keras params: what the exported Keras model stores (zeros "
        "included). Effective params: keras_gnap.count_params (non-zero "
        "weights of live units and their biases, batch norm folded); for "
        "the unpruned network every weight counts. Latency: LiteRT, "
        "batch 1, 1 thread, median."
    )


def _print_ratios(base, name, report):
    def ratio(a, b):
        return f"{a / b:.2f}x"

    print(
        f"unpruned / {name}: size {ratio(base.size_bytes, report.size_bytes)}"
        f", gzipped {ratio(base.gzipped_bytes, report.gzipped_bytes)}"
        f", latency {ratio(base.latency_ms, report.latency_ms)}"
        f", Keras params {ratio(base.keras_params, report.keras_params)}"
        f", effective params "
        f"{ratio(base.keras_params, report.effective_params)}"
    )


def _print_parity(model, out, x_val, y_val):
    expected = model.predict(x_val, batch_size=500, verbose=0)
    keras_accuracy = np.mean(expected.argmax(-1) == y_val)
    print(
        f"Parity on {len(x_val):,} validation images (last 10,000 MNIST "
        f"training images); Keras accuracy {keras_accuracy:.2%}"
    )
    for name in ("compact_float", "compact_int8"):
        received = tflite_predict(out / f"{name}.tflite", x_val)
        accuracy = np.mean(received.argmax(-1) == y_val)
        agree = np.mean(received.argmax(-1) == expected.argmax(-1))
        error = np.max(np.abs(received - expected))
        print(
            f"  {name}: accuracy {accuracy:.2%} "
            f"({100 * (accuracy - keras_accuracy):+.2f} points), argmax "
            f"agrees on {agree:.2%}, max |output difference| {error:.2e}"
        )


if __name__ == "__main__":
    main()
