"""What gating and growth cost in time, on this machine.

1. Step time: a training step of a GNAP network (gated layers, sparsity
   loss) against the same-shape plain Keras network
   (`keras_gnap.strip(model, apply_gates=False)`: `Conv2D` and `Dense`
   layers, no gates), same optimizer, batch and data. Both are timed in
   alternating rounds of `fit` over in-memory batches after a warm-up.
   Each round's ratio is taken, and the median reported.
2. Growth event: the seconds one growth costs inside `fit`, measured on
   the real `GrowthCallback`: its `on_epoch_end` call that grows (plan,
   widen, copy weights, rebuild the optimizer with its state, reset the
   step functions), then the extra time of the first training step after
   it (retracing the step function), beyond a steady step of the grown
   network. Also the per-epoch cost of counting effective parameters,
   which `GrowthCallback` logs every epoch.

Networks: each recipe's starting network, and the same network twice as
wide (about where growth ends). Prints a table and writes the figures to
`benchmarks/results/overheads.json` for `benchmarks/make_results.py`.

Usage (from the repository root, keras_gnap importable):

    python benchmarks/overheads.py
    python benchmarks/overheads.py --steps 20 --rounds 2 \
        --out runs/overheads.json
"""

import argparse
import json
import shlex
import statistics
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from reproduce import machine_info

import keras_gnap
from keras_gnap.models.build_gnap import PRESETS

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "overheads.json"
SCRIPT = "benchmarks/overheads.py"
# (recipe, input shape): the networks to time.
# Benchmark name, input shape, starting preset.
NETWORKS = (
    ("mnist", (28, 28, 1), "mnist"),
    ("cifar10_reduced", (32, 32, 3), "cifar_small"),
)


def build_parser():
    """Returns the argument parser of the script."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/overheads.py",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--steps", type=int, default=40, help="Steps per timed round."
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="Timed rounds per network."
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help="JSON output. Default: benchmarks/results/overheads.json.",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser


def main(argv=None):
    """Measures, prints and saves the overheads.

    Returns:
        The dict written as JSON.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    keras.utils.set_random_seed(args.seed)
    step_rows, growth_rows = [], []
    for recipe_name, shape, preset in NETWORKS:
        start = [list(stage) for stage in PRESETS[preset]["stages"]]
        wide = [[2 * w for w in stage] for stage in start]
        for label, stages in (("start", start), ("2x start", wide)):
            row = step_time_ratio(shape, stages, args)
            row.update(recipe=recipe_name, network=label)
            step_rows.append(row)
            _print_step_row(row)
        row = growth_cost(shape, start, args)
        row.update(recipe=recipe_name, network="start")
        growth_rows.append(row)
        _print_growth_row(row)
    record = {
        "kind": "overheads",
        "step_time": step_rows,
        "growth": growth_rows,
        "settings": {
            "steps": args.steps,
            "rounds": args.rounds,
            "batch_size": args.batch_size,
        },
        "command": f"python {SCRIPT} {shlex.join(argv)}".strip(),
        "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
        "machine": machine_info(),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"Wrote {out}")
    return record


def _data(shape, batch_size, seed):
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch_size).astype("int32")
    # Without this, tf.data's autotuning thread, waking at 10, 30, 70, ...
    # ms, holds the end of each `fit` to its next wake-up: round times came
    # out as 10 * (2**n - 1) ms, up to 1.3x the steps' own time. One
    # in-memory batch has nothing to tune.
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = tf.data.Dataset.from_tensors((x, y)).repeat()
    return dataset.with_options(options)


def _compile(model):
    # A decaying schedule, as in the recipes, which may restart it at growth.
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=1000)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
    )
    return model


def _time_steps(model, dataset, steps):
    """Seconds per step of `fit` over `steps` steps."""
    started = time.perf_counter()
    model.fit(
        dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False
    )
    return (time.perf_counter() - started) / steps


def step_time_ratio(shape, stages, args):
    """Times gated against plain training steps of the same shape.

    Args:
        shape: tuple. Input shape.
        stages: list of lists of ints. Widths of the network.
        args: parsed arguments (`steps`, `rounds`, `batch_size`, `seed`).

    Returns:
        A dict with the stages, the median seconds per step of each model,
        the ratio gated / plain of each round and their median.
    """
    gated = keras_gnap.build_gnap(shape, 10, stages=stages)
    plain = keras_gnap.strip(gated, apply_gates=False)
    _compile(gated)
    _compile(plain)
    dataset = _data(shape, args.batch_size, args.seed)
    times = {"gated": [], "plain": []}
    models = {"gated": gated, "plain": plain}
    for name in models:  # Warm-up: tracing and first allocations.
        _time_steps(models[name], dataset, 5)
    for index in range(args.rounds):
        # Alternate the order so that drifting machine load hits both.
        order = ("gated", "plain") if index % 2 == 0 else ("plain", "gated")
        for name in order:
            times[name].append(_time_steps(models[name], dataset, args.steps))
    # The ratio of each round's pair, then the median: robust to a load
    # that drifts between rounds on a shared machine.
    pairs = zip(times["gated"], times["plain"], strict=True)
    ratios = [gated_time / plain_time for gated_time, plain_time in pairs]
    return {
        "stages": stages,
        "dense_params": keras_gnap.reports.dense_params(gated),
        "gated_seconds_per_step": statistics.median(times["gated"]),
        "plain_seconds_per_step": statistics.median(times["plain"]),
        "ratio": statistics.median(ratios),
        "round_ratios": ratios,
    }


def growth_cost(shape, stages, args):
    """Times one growth event of `GrowthCallback` inside training.

    Args:
        shape: tuple. Input shape.
        stages: list of lists of ints. Widths before growth.
        args: parsed arguments (`steps`, `batch_size`, `seed`).

    Returns:
        A dict of seconds: `callback` (the growing `on_epoch_end`),
        `retrace` (first step after growth minus a steady one), `total`,
        and `count_params` (the per-epoch count of a non-growing epoch).
    """
    model = _compile(keras_gnap.build_gnap(shape, 10, stages=stages))
    dataset = _data(shape, args.batch_size, args.seed)
    growth = keras_gnap.GrowthCallback(patience=1, max_params=None, verbose=0)
    growth.set_model(model)
    model.fit(dataset, epochs=1, steps_per_epoch=2, verbose=0, shuffle=False)
    growth.on_train_begin()
    started = time.perf_counter()
    growth.on_epoch_end(0, {"val_loss": 1.0})  # An improvement: no growth.
    count_seconds = time.perf_counter() - started
    started = time.perf_counter()
    growth.on_epoch_end(1, {"val_loss": 2.0})  # Saturated: grows.
    callback_seconds = time.perf_counter() - started
    if len(growth.growth_events) != 1:
        raise RuntimeError("The growth callback did not grow the network.")
    # Each fit call has the same fixed cost, so the difference between the
    # first one-step fit after growth and a later one is the retracing.
    first = _time_steps(model, dataset, 1)
    steady = statistics.median(_time_steps(model, dataset, 1) for _ in range(5))
    event = growth.growth_events[0]
    return {
        "widths_before": event["widths_before"],
        "widths_after": event["widths_after"],
        "dense_params_before": event["dense_params_before"],
        "dense_params_after": event["dense_params_after"],
        "count_params_seconds": count_seconds,
        "callback_seconds": callback_seconds,
        "retrace_seconds": max(first - steady, 0.0),
        "total_seconds": callback_seconds + max(first - steady, 0.0),
    }


def _print_step_row(row):
    print(
        f"{row['recipe']} {row['network']} {row['stages']} "
        f"({row['dense_params']:,} dense params): gated "
        f"{1000 * row['gated_seconds_per_step']:.1f} ms/step, plain "
        f"{1000 * row['plain_seconds_per_step']:.1f} ms/step, ratio "
        f"{row['ratio']:.2f}"
    )


def _print_growth_row(row):
    print(
        f"{row['recipe']} growth {row['dense_params_before']:,} -> "
        f"{row['dense_params_after']:,} dense params: "
        f"{row['total_seconds']:.2f} s (callback "
        f"{row['callback_seconds']:.2f} s, retrace "
        f"{row['retrace_seconds']:.2f} s); counting effective parameters "
        f"{row['count_params_seconds']:.3f} s per epoch"
    )


if __name__ == "__main__":
    main()
