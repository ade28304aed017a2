"""What `RandomAugmentation` costs in training time, on this backend.

Trains keras_gnap's MNIST-like gated network (the `.network` of
`keras_gnap.build_gnap(..., preset="mnist")`, a plain functional Keras
model) with and without a `RandomAugmentation` layer in front of it,
compiled with `jit_compile=True` (unless `--no-jit-compile`), on the
backend named by `KERAS_BACKEND`.
Two settings:

- mnist: 28x28x1 images (the shared MNIST training set if present, else
  random ones), `padding=2, rotation=10, zoom=0.1`.
- cifar: 32x32x3 random images, `padding=4, flip=True`.

Each model first trains two short warm-up runs of two batches (tracing
and compiling); then the plain and augmented models train one epoch
each, in alternating order, for `--epochs` rounds. Prints the median
seconds per epoch and the relative cost of augmenting (the median of
each round's ratio), and checks that Keras kept `jit_compile` on (it
turns it off, with a warning, for layers that do not support it).

Usage (from the repository root, keras_gnap importable):

    KERAS_BACKEND=jax python benchmarks/augmentation_cost.py
    python benchmarks/augmentation_cost.py --images 8192 --epochs 5 \\
        --json runs/augmentation_cost.json

The default run takes about 3 minutes on 2 CPU cores with TensorFlow or
JAX, most of it compiling. On torch it takes about 10: torch.compile
needs minutes per model, and breaks Keras's train step of the gated
network into many graphs (with or without this layer), so compare with
`--no-jit-compile` there. Short epochs on a shared machine are noisy:
more `--images` and `--epochs` give steadier figures.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np

import keras_gnap
from keras_gnap.datasets.idx import read_idx_split
from keras_gnap.layers.random_augmentation import RandomAugmentation

SCRIPT = "benchmarks/augmentation_cost.py"
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
# name: (input shape, RandomAugmentation arguments)
SETTINGS = {
    "mnist": ((28, 28, 1), dict(padding=2, rotation=10.0, zoom=0.1)),
    "cifar": ((32, 32, 3), dict(padding=4, flip=True)),
}


def build_parser():
    """Returns the argument parser of the script."""
    parser = argparse.ArgumentParser(
        prog=f"python {SCRIPT}",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--images",
        type=int,
        default=2048,
        help="Training images per epoch, rounded down to whole batches. "
        "Default: 2048.",
    )
    parser.add_argument(
        "--batch-size", type=int, default=128, help="Default: 128."
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=3,
        help="Timed epochs per model, after the warm-up. Default: 3.",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=sorted(SETTINGS),
        default=list(SETTINGS),
        help="Augmentation settings to time. Default: mnist cifar.",
    )
    parser.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Compile the train step (XLA; torch.compile on torch). "
        "Default: on.",
    )
    parser.add_argument(
        "--json", metavar="PATH", help="Also write the figures to PATH."
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None):
    """Times, prints and optionally saves the cost of augmentation.

    Returns:
        The dict of figures (as written with `--json`).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.images < args.batch_size or args.epochs < 1:
        raise SystemExit(
            "--images must be at least --batch-size and --epochs at least 1. "
            f"Received: --images {args.images} --batch-size "
            f"{args.batch_size} --epochs {args.epochs}"
        )
    # Whole batches only: every step has the same shape (and torch.compile
    # fails on a partial batch after `keras.random`).
    args.images -= args.images % args.batch_size
    keras.utils.set_random_seed(args.seed)
    backend = keras.backend.backend()
    print(
        f"Backend {backend}, {args.images} images, batch {args.batch_size}, "
        f"jit_compile={args.jit_compile}, median of {args.epochs} epochs "
        "after a warm-up."
    )
    rows = [time_setting(name, args) for name in args.settings]
    _print_table(rows)
    record = {
        "kind": "augmentation_cost",
        "backend": backend,
        "rows": rows,
        "settings": {
            "images": args.images,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "seed": args.seed,
            "jit_compile": args.jit_compile,
        },
        "command": f"python {SCRIPT} {shlex.join(argv)}".strip(),
        "versions": {"keras": keras.__version__, backend: _backend_version()},
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
    }
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n")
        print(f"Wrote {path}")
    return record


def time_setting(name, args):
    """Times plain against augmented training for one setting.

    Args:
        name: str. A key of `SETTINGS`.
        args: parsed arguments.

    Returns:
        A dict with the setting, the data source, each model's epoch times
        and median, the median ratio of each round's pair, and whether
        both models kept `jit_compile=True`.
    """
    shape, augmentation = SETTINGS[name]
    x, y, source = _data(name, shape, args.images, args.seed)
    models = {
        "plain": _model(shape, None, args),
        "augmented": _model(shape, augmentation, args),
    }
    timer = _EpochTimer()
    warm_up = {}
    size = 2 * args.batch_size
    for key, model in models.items():
        # Two batches trace and compile the train step; a second `fit`
        # because torch.compile compiles parts of the step again there.
        started = time.perf_counter()
        for _ in range(2):
            _fit(model, x[:size], y[:size], args.batch_size, timer)
        warm_up[key] = time.perf_counter() - started
    times = {key: [] for key in models}
    for index in range(args.epochs):
        # Alternate the order so that a drifting machine load hits both.
        order = list(models) if index % 2 == 0 else list(models)[::-1]
        for key in order:
            _fit(models[key], x, y, args.batch_size, timer)
            times[key].append(timer.seconds)
    pairs = zip(times["augmented"], times["plain"], strict=True)
    ratios = [augmented / plain for augmented, plain in pairs]
    return {
        "setting": name,
        "input_shape": list(shape),
        "augmentation": augmentation,
        "data": source,
        "plain_seconds_per_epoch": statistics.median(times["plain"]),
        "augmented_seconds_per_epoch": statistics.median(times["augmented"]),
        "ratio": statistics.median(ratios),
        "epoch_seconds": times,
        "warm_up_seconds": warm_up,
        "jit_compile": {key: bool(m.jit_compile) for key, m in models.items()},
    }


# === Helpers ===


class _EpochTimer(keras.callbacks.Callback):
    """Seconds of the last epoch, without `fit`'s setup and teardown."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.started


def _model(shape, augmentation, args):
    network = keras_gnap.build_gnap(shape, 10, preset="mnist").network
    layers = [keras.Input(shape)]
    if augmentation is not None:
        layers.append(RandomAugmentation(seed=args.seed, **augmentation))
    model = keras.Sequential([*layers, network])
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        jit_compile=args.jit_compile,
    )
    return model


def _fit(model, x, y, batch_size, timer):
    model.fit(
        x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timer]
    )


def _data(name, shape, images, seed):
    if name == "mnist" and MNIST_DIR.exists():
        x, y = read_idx_split(MNIST_DIR, "train", str(MNIST_DIR))
        if len(x) >= images:
            x = x[:images, :, :, None].astype("float32") / 255.0
            return x, y[:images].astype("int32"), "mnist"
    rng = np.random.default_rng(seed)
    x = rng.random((images, *shape), dtype=np.float32)
    return x, rng.integers(0, 10, images).astype("int32"), "random"


def _backend_version():
    backend = keras.backend.backend()
    return importlib.metadata.version(backend)


def _print_table(rows):
    header = (
        f"{'setting':<8} {'augmentation':<38} {'plain s/ep':>10} "
        f"{'augm. s/ep':>10} {'cost':>7} jit"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        arguments = ", ".join(
            f"{k}={v}" for k, v in row["augmentation"].items()
        )
        jit = all(row["jit_compile"].values())
        print(
            f"{row['setting']:<8} {arguments:<38} "
            f"{row['plain_seconds_per_epoch']:>10.3f} "
            f"{row['augmented_seconds_per_epoch']:>10.3f} "
            f"{row['ratio'] - 1:>+7.1%} {'on' if jit else 'OFF'}"
        )


if __name__ == "__main__":
    main()
