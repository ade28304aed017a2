"""What export saves: a trained GNAP model against its widest dense network.

Exports one trained model several ways and prints their figures side by
side: multiply-adds per image, size (raw and gzipped) and latency (LiteRT,
batch 1, one thread, median), float32 and int8:

- widest dense: the network at the widest it grew, every weight kept
  (gates ignored), float32 TFLite, dense kernels;
- compacted: dead units removed and batch norm folded
  (`keras_gnap.compact`), float32 and int8 (calibrated on 500 training
  images), each with dense kernels and with the converter's sparse
  format (`sparse_weights=True`), so the table shows where the sparse
  format pays.

The headline row of each precision is what `keras_gnap.export` writes by
default: the smaller of the dense and sparse files (LiteRT densifies
sparse kernels when it loads a model, so both run alike). Then the ratios
against the widest dense network, and the validation accuracy of every
TFLite model against the Keras model's.

Writes `benchmarks/results/export_<dataset>.json`:
`{"dataset": ..., "widest_dense": {"float32": E}, "compacted": {"float32": E,
"int8": E}}` with `E = {"bytes", "gzip_bytes", "latency_ms", "macs"}`, plus
the dense/sparse comparison, accuracies and the command.
`python benchmarks/make_results.py --readme` prints the README's export
table from those files.

Usage (from the project root, keras_gnap installed with `pip install -e .`):

    python benchmarks/export_report.py --model runs/mnist/model.keras \\
        --dataset mnist
"""

import argparse
import json
import pathlib
import platform
import shlex
import sys
import tempfile

import keras
import numpy as np

import keras_gnap
from keras_gnap import recipes
from keras_gnap.datasets import load
from keras_gnap.export import export
from keras_gnap.export import strip
from keras_gnap.export import tflite_predict
from keras_gnap.export.representative_data import load_images
from keras_gnap.reports import count_multiply_adds

HERE = pathlib.Path(__file__).resolve().parent
SHARED_DATA = HERE.parents[1] / "shared" / "data"
DEFAULT_RESULTS = HERE / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="saved .keras model")
    parser.add_argument(
        "--dataset",
        required=True,
        choices=sorted(recipes.BENCHMARKS),
        help="benchmark the model was trained on (names the JSON file)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="its data (default: the benchmark's folder in ../shared/data)",
    )
    parser.add_argument(
        "--results-dir",
        default=str(DEFAULT_RESULTS),
        help="where to write export_<dataset>.json",
    )
    parser.add_argument(
        "--output-dir",
        default=None,
        help="where to keep the TFLite files (default: a temporary folder)",
    )
    parser.add_argument("--latency-runs", type=int, default=300)
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="validation images to score (default: all)",
    )
    args = parser.parse_args(argv)
    entry = recipes.benchmark(args.dataset)
    data_dir = args.data_dir or str(SHARED_DATA / entry["shared_path"])

    model = keras.saving.load_model(args.model)
    x_val, y_val = _validation(data_dir, args.limit)
    calibration = load_images(data_dir)

    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(args.output_dir or tmp)
        out.mkdir(parents=True, exist_ok=True)
        common = {
            "format": "tflite",
            "latency_runs": args.latency_runs,
            "verbose": False,
        }
        widest = strip(model, apply_gates=False)
        compacted = keras_gnap.compact(model)
        macs = {
            "widest": count_multiply_adds(widest),
            "compacted": count_multiply_adds(compacted),
        }
        runs = {}
        print("Exporting the widest dense network, float32 ...", flush=True)
        runs["widest float32"] = export(
            widest,
            out / "widest_float32.tflite",
            compact=False,
            sparse_weights=False,
            **common,
        )
        for quantize in (None, "int8"):
            for sparse in (False, True):
                name = _name(quantize, sparse)
                print(f"Exporting compacted, {name} ...", flush=True)
                runs[f"compacted {name}"] = export(
                    model,
                    out / f"compacted_{name.replace(' ', '_')}.tflite",
                    quantize=quantize,
                    representative_data=(
                        calibration if quantize == "int8" else None
                    ),
                    sparse_weights=sparse,
                    **common,
                )
        accuracy = _accuracies(model, runs, x_val, y_val)
        result = _result(
            args, entry, model, (widest, compacted), macs, runs, accuracy
        )
    print()
    for line in table_lines(result):
        print(line)
    results_dir = pathlib.Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"export_{args.dataset}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nWrote {path}")


def _name(quantize, sparse):
    kind = "int8" if quantize == "int8" else "float32"
    return f"{kind} {'sparse' if sparse else 'dense'}"


def _validation(data_dir, limit):
    dataset = load(data_dir, split="validation", batch_size=1000)
    images, labels = [], []
    for x, y in dataset:
        images.append(np.asarray(x))
        labels.append(np.asarray(y))
    images, labels = np.concatenate(images), np.concatenate(labels)
    return images[:limit], labels[:limit]


def _accuracies(model, runs, x_val, y_val):
    expected = model.predict(x_val, batch_size=500, verbose=0)
    accuracy = {"keras": float(np.mean(expected.argmax(-1) == y_val))}
    for name, report in runs.items():
        if name.startswith("widest"):
            continue
        received = tflite_predict(report.path, x_val)
        accuracy[name] = float(np.mean(received.argmax(-1) == y_val))
    return accuracy


def _figures(report, macs):
    return {
        "bytes": int(report.size_bytes),
        "gzip_bytes": int(report.gzipped_bytes),
        "latency_ms": round(float(report.latency_ms), 5),
        "macs": int(macs),
    }


def _result(args, entry, model, networks, macs, runs, accuracy):
    # What export(sparse_weights="auto") keeps: the smaller file.
    default = {
        kind: min(
            ("dense", "sparse"),
            key=lambda k: runs[f"compacted {kind} {k}"].size_bytes,
        )
        for kind in ("float32", "int8")
    }
    compacted = {
        kind: _figures(
            runs[f"compacted {kind} {default[kind]}"], macs["compacted"]
        )
        for kind in ("float32", "int8")
    }
    kernels = {
        name.removeprefix("compacted "): _figures(report, macs["compacted"])
        for name, report in runs.items()
        if name.startswith("compacted")
    }
    widths = [
        int(layer.kernel.shape[-1])
        for layer in networks[1].layers
        if hasattr(layer, "kernel")
    ]
    widest_widths = [
        int(layer.kernel.shape[-1])
        for layer in networks[0].layers
        if hasattr(layer, "kernel")
    ]
    return {
        "benchmark": "export_report",
        "dataset": entry["name"],
        "widest_dense": {
            "float32": _figures(runs["widest float32"], macs["widest"])
        },
        "compacted": compacted,
        "kernels": kernels,
        "default_kernels": default,
        "gating": _gating(model),
        "effective_params": int(keras_gnap.count_params(model)),
        "widths": {"widest": widest_widths, "compacted": widths},
        "validation_accuracy": accuracy,
        "latency": "LiteRT, batch 1, 1 thread, median of "
        f"{args.latency_runs} runs",
        "model": pathlib.Path(args.model).name,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
        },
        "command": "python benchmarks/export_report.py "
        + shlex.join(sys.argv[1:] if args is not None else []),
    }


def _gating(model):
    """Returns "weight_and_unit" when the model has unit gates."""
    network = getattr(model, "network", model)
    for layer in network.layers:
        if getattr(layer, "unit_gate", None) is not None:
            return "weight_and_unit"
    return "weight"


def table_lines(result):
    """Returns the printable table of one result of this script.

    Args:
        result: dict read from an `export_<dataset>.json`.

    Returns:
        A list of str.
    """
    widest = result["widest_dense"]["float32"]
    columns = {"widest dense float32": widest}
    for name, figures in result["kernels"].items():
        columns[f"compacted {name}"] = figures
    rows = [
        ("Multiply-adds", lambda e: f"{e['macs']:,}"),
        ("Size (bytes)", lambda e: f"{e['bytes']:,}"),
        ("Size gzipped (bytes)", lambda e: f"{e['gzip_bytes']:,}"),
        ("Latency (ms/image)", lambda e: f"{e['latency_ms']:.4f}"),
        ("Widest / this, size", lambda e: _ratio(widest["bytes"], e["bytes"])),
        (
            "Widest / this, latency",
            lambda e: _ratio(widest["latency_ms"], e["latency_ms"]),
        ),
        ("Widest / this, MACs", lambda e: _ratio(widest["macs"], e["macs"])),
    ]
    lines = [f"{'':24}" + "".join(f"{name[-22:]:>23}" for name in columns)]
    for title, cell in rows:
        lines.append(
            f"{title:24}" + "".join(f"{cell(e):>23}" for e in columns.values())
        )
    accuracy = result["validation_accuracy"]
    lines.append(
        "Validation accuracy: "
        + ", ".join(f"{name} {value:.2%}" for name, value in accuracy.items())
    )
    lines.append(
        f"Widths: widest {result['widths']['widest']}, compacted "
        f"{result['widths']['compacted']}; effective params "
        f"{result['effective_params']:,}. Latency: {result['latency']}."
    )
    return lines


def _ratio(a, b):
    return f"{a / b:.2f}x"


if __name__ == "__main__":
    main()
