"""Times GNAP training in images per second on 1 and 2 devices, with and
without mixed precision.

Usage (from the repository root, keras_gnap importable):

    python benchmarks/parallel_throughput.py
    python benchmarks/parallel_throughput.py --backends jax \\
        --devices 1 2 --mixed-precision none bfloat16 float16

For each backend, device count and precision, a fresh process (a backend
fixes its devices when it starts) builds the MNIST recipe's network as
`keras_gnap.training.train` does (augmentation, Adam, pruning pressure),
inside `keras_gnap.data_parallel.data_parallel(devices)` and
`keras_gnap.training.precision_policy(...)`, and fits it on the first
`--images` MNIST training images (`--data-dir`, by default the shared
data beside the checkout), batch 128, for `--epochs` epochs without
growth or validation.
Images per second is `--images` over the median time of the epochs after
the first (which compiles the step).

Without accelerators, the devices are the host CPU split in N
(`keras_gnap.data_parallel.prepare_devices`): the same cores, so the
figures show what splitting costs there, not a speed-up. PyTorch has no
data parallelism in Keras; its rows above one device are left out.
Prints the table and writes it as JSON (`--json`, default
`benchmarks/results/parallel_throughput.json`).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "parallel_throughput.json"
BACKENDS = ("tensorflow", "jax", "torch")
PRECISIONS = ("none", "bfloat16", "float16")
BATCH_SIZE = 128


def build_parser():
    """Returns the argument parser of the script."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/parallel_throughput.py",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        default=["tensorflow", "jax"],
        help="Backends to time. Default: tensorflow jax.",
    )
    parser.add_argument(
        "--devices",
        nargs="+",
        type=_positive_int,
        default=[1, 2],
        help="Device counts to time. Default: 1 2.",
    )
    parser.add_argument(
        "--mixed-precision",
        nargs="+",
        choices=PRECISIONS,
        default=list(PRECISIONS),
        help="Precisions to time (none: float32). Default: all three.",
    )
    parser.add_argument(
        "--images",
        type=_positive_int,
        default=8192,
        help="Training images per epoch. Default: 8192.",
    )
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=3,
        help="Epochs per setting, the first one compiling. Default: 3.",
    )
    parser.add_argument(
        "--data-dir",
        default=str(SHARED_MNIST),
        help="MNIST IDX folder. Default: ../shared/data/mnist.",
    )
    parser.add_argument(
        "--json",
        default=str(DEFAULT_JSON),
        help="Where to write the results. Default: %(default)s.",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    return parser


def main(argv=None):
    """Runs the script with `argv` (defaults to `sys.argv[1:]`).

    Returns:
        The results dict written to `--json` (or, in a child process, the
        one setting's row).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.child:
        row = time_setting(
            int(args.child[0]), args.child[1], args.child[2], args
        )
        print(json.dumps(row))
        return row
    rows = []
    for backend in args.backends:
        for devices in args.devices:
            if devices > 1 and backend == "torch":
                continue
            for precision in args.mixed_precision:
                rows.append(_run_child(backend, devices, precision, args))
                _print_row(rows[-1])
    results = {
        "command": "python benchmarks/parallel_throughput.py " + " ".join(argv),
        "images": args.images,
        "epochs": args.epochs,
        "batch_size": BATCH_SIZE,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "rows": rows,
    }
    print()
    print(table(results))
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nWrote {path}")
    return results


def time_setting(devices, precision, source, args):
    """Times one setting in this process; the backend must not have run.

    Args:
        devices: int. Devices to train on.
        precision: str. One of `PRECISIONS`.
        source: str. The training data (`keras_gnap.datasets.load`).
        args: parsed arguments (`images`, `epochs`).

    Returns:
        A dict: backend, devices (and their names), precision, epoch
        seconds and images per second.
    """
    import keras

    from keras_gnap import data_parallel
    from keras_gnap import training

    data_parallel.prepare_devices(devices)
    mixed_precision = None if precision == "none" else precision
    keras.utils.set_random_seed(0)
    train, _, info = training.load_data(
        source, BATCH_SIZE, limit=args.images, validation_size=BATCH_SIZE
    )
    settings = training.resolve_settings(info["input_shape"])
    timer = training.EpochTimer()
    with (
        data_parallel.data_parallel(devices),
        training.precision_policy(mixed_precision),
    ):
        model = training.build_and_compile(info, settings, total_steps=1000)
        model.fit(
            train,
            epochs=args.epochs,
            callbacks=[timer],
            verbose=0,
            shuffle=False,
        )
    steady = timer.seconds[1:] or timer.seconds
    seconds = statistics.median(steady)
    return {
        "backend": keras.backend.backend(),
        "devices": devices,
        "device_names": data_parallel.visible_devices()[:devices],
        "mixed_precision": precision,
        "images": info["train_examples"],
        "epoch_seconds": [round(s, 3) for s in timer.seconds],
        "images_per_second": round(info["train_examples"] / seconds, 1),
    }


def table(results):
    """Returns the results as a Markdown table.

    Args:
        results: dict as `main` writes.

    Returns:
        str.
    """
    lines = [
        "| Backend | Devices | Precision | First epoch (s) | "
        "Images/s (median of the rest) | vs 1 device, float32 |",
        "|---|---|---|---|---|---|",
    ]
    base = {
        row["backend"]: row["images_per_second"]
        for row in results["rows"]
        if row["devices"] == 1 and row["mixed_precision"] == "none"
    }
    for row in results["rows"]:
        reference = base.get(row["backend"])
        ratio = (
            f"{row['images_per_second'] / reference:.2f}x" if reference else "-"
        )
        precision = (
            "float32"
            if row["mixed_precision"] == "none"
            else row["mixed_precision"]
        )
        lines.append(
            f"| {row['backend']} | {row['devices']} | {precision} | "
            f"{row['epoch_seconds'][0]:.1f} | "
            f"{row['images_per_second']:,.0f} | {ratio} |"
        )
    return "\n".join(lines)


def _run_child(backend, devices, precision, args):
    env = {**os.environ, "KERAS_BACKEND": backend}
    started = time.time()
    result = subprocess.run(
        [
            sys.executable,
            __file__,
            "--images",
            str(args.images),
            "--epochs",
            str(args.epochs),
            "--child",
            str(devices),
            precision,
            args.data_dir,
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"The {backend} run on {devices} device(s), {precision}, "
            f"failed:\n{result.stderr[-3000:]}"
        )
    row = json.loads(result.stdout.strip().splitlines()[-1])
    row["wall_seconds"] = round(time.time() - started, 1)
    return row


def _print_row(row):
    print(
        f"{row['backend']:>10}  {row['devices']} device(s)  "
        f"{row['mixed_precision']:>8}: {row['images_per_second']:,.0f} "
        f"images/s (epochs {row['epoch_seconds']} s)",
        flush=True,
    )


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer. Received: {text!r}"
        )
    return value


if __name__ == "__main__":
    main()
