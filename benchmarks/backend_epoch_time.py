"""Times the MNIST recipe's training epochs under each Keras backend.

Usage (from the repository root, with the backends to compare installed):

    python benchmarks/backend_epoch_time.py
    python benchmarks/backend_epoch_time.py --backends jax torch --epochs 2

For each backend, a fresh process runs `benchmarks/reproduce.py --dataset
mnist` (the recipe's network, augmentation, optimizer and callbacks) for a
few epochs on the shared MNIST data (generated digits where it is missing)
and records the seconds of every epoch, validation included. The first
epoch compiles the training step, so the table shows it apart from the
median of the others. Prints the table and writes it as JSON
(`--json`, default `benchmarks/results/backend_epoch_time.json`).
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"
DEFAULT_JSON = REPO / "benchmarks" / "results" / "backend_epoch_time.json"
BACKENDS = ("tensorflow", "jax", "torch")
MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def build_parser():
    """Returns the argument parser of the script."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/backend_epoch_time.py",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=BACKENDS,
        default=list(BACKENDS),
        help="Backends to time. Default: all three.",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=3,
        help="Epochs per backend, the first one compiling. Default: 3.",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="Training and validation images (default: all of them).",
    )
    parser.add_argument(
        "--data-dir",
        default=str(SHARED_MNIST),
        help="MNIST IDX folder. Default: ../shared/data/mnist.",
    )
    parser.add_argument("--json", default=str(DEFAULT_JSON))
    return parser


def time_backend(backend, args):
    """Runs the recipe under `backend` and returns its epoch seconds.

    Args:
        backend: str. A Keras backend name.
        args: parsed arguments.

    Returns:
        A dict with `epoch_seconds`, `first_epoch_seconds`,
        `median_epoch_seconds` and the run's `validation_accuracy`.

    Raises:
        RuntimeError: if the run fails.
    """
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            str(REPO / "benchmarks" / "reproduce.py"),
            "--dataset",
            "mnist",
            "--data-dir",
            args.data_dir,
            "--epochs",
            str(args.epochs),
            "--out",
            out,
            "--verbose",
            "2",
        ]
        if args.limit:
            command += ["--limit", str(args.limit)]
        env = {**os.environ, "KERAS_BACKEND": backend}
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"The {backend} run failed:\n{done.stdout[-2000:]}"
                f"{done.stderr[-3000:]}"
            )
        (result_path,) = Path(out).glob("*.json")
        result = json.loads(result_path.read_text())
    seconds = result["epoch_seconds"]
    return {
        "epoch_seconds": seconds,
        "first_epoch_seconds": seconds[0],
        "median_epoch_seconds": statistics.median(seconds[1:] or seconds),
        "train_examples": result["data"]["train_examples"],
        "validation_accuracy": result["validation_accuracy"],
        "version": result["versions"][backend],
    }


def main(argv=None):
    """Runs the script with `argv` (defaults to `sys.argv[1:]`).

    Returns:
        The dict written as JSON.
    """
    args = build_parser().parse_args(argv)
    missing = [
        b for b in args.backends if importlib.util.find_spec(MODULES[b]) is None
    ]
    if missing:
        sys.exit(
            f"backend_epoch_time.py: error: not installed: {missing}; "
            'install them with pip install -e ".[tensorflow,jax,torch]" or '
            "pass --backends."
        )
    if not Path(args.data_dir).exists():
        sys.exit(
            "backend_epoch_time.py: error: MNIST not found. "
            f"Received: --data-dir {args.data_dir}"
        )
    results = {}
    for backend in args.backends:
        print(f"Timing {backend} ...", flush=True)
        results[backend] = time_backend(backend, args)
    print()
    print("| backend | first epoch (s) | later epochs, median (s) |")
    print("| --- | --- | --- |")
    for backend, result in results.items():
        print(
            f"| {backend} {result['version']} | "
            f"{result['first_epoch_seconds']:.1f} | "
            f"{result['median_epoch_seconds']:.1f} |"
        )
    fastest = min(results, key=lambda b: results[b]["median_epoch_seconds"])
    examples = next(iter(results.values()))["train_examples"]
    print(
        f"\nMNIST recipe, {examples:,} training images an epoch, "
        f"{os.cpu_count()} CPUs: fastest backend {fastest}."
    )
    record = {
        "benchmark": "backend_epoch_time",
        "command": "python benchmarks/backend_epoch_time.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "epochs": args.epochs,
        "limit": args.limit,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "fastest": fastest,
        "backends": results,
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"Wrote {path}")
    return record


if __name__ == "__main__":
    main()
