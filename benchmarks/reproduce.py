"""Runs a documented GNAP recipe and its baselines, and records the results.

Usage (from the repository root, keras_gnap importable, e.g. after
`pip install -e .`):

    python benchmarks/reproduce.py --dataset mnist
    python benchmarks/reproduce.py --dataset mnist --baseline all
    python benchmarks/reproduce.py --dataset cifar10_reduced --baseline all
    python benchmarks/reproduce.py --dataset mnist --limit 512 --epochs 1 \\
        --out runs/smoke --baseline all

Every benchmark runs the default policy (`keras_gnap.recipes`): its GNAP
run is `keras_gnap.training.train`, what `python -m keras_gnap train`
runs, so the main command with the same data and seed gives the same
figures. Variants (`--baseline`):

- `gnap`: the default policy: growth and autonomous pruning.
- `dense`: a dense CNN of the same shape as GNAP's widest network, scaled
  down to GNAP's final effective parameter count.
- `gmp`: GNAP's widest network, pruned by gradual magnitude pruning
  (polynomial schedule) down to GNAP's final effective parameter count.
- `growth_off`: GNAP's widest network from the start, pruning, no growth.
- `prune_off`: sparsity 0: growth, no pruning pressure.
- `all`: `gnap`, then the four others, in one process.

Every variant trains on the same data, for the same epochs, with the same
optimizer, schedule and augmentation. `dense`, `gmp` and `growth_off`
need the GNAP run of the same dataset, seed, epochs and `--limit`: from
the same command, or from its JSON file in `--out`.

Each run writes `<out>/<recipe>_<variant>_seed<seed>.json` and the final
model `<out>/<recipe>_<variant>_seed<seed>.keras`; with a `--sparsity S`
other than the recipe's, `<recipe>` becomes `<recipe>_sparsity<S>`; with
`--gating weight_and_unit` (unit gates), `<recipe>_units`; with
`--mixed-precision P`, `<recipe>_<P>`. `--devices N` trains data
parallel on N devices (`keras_gnap.data_parallel`), with the same global
batch, so its name does not change.
Accuracy is measured on the validation split held out from the training
data, and also on the official test split, once, when `--test-data-dir` is
given; the JSON names the split. `benchmarks/make_results.py` turns the
JSON files into `benchmarks/RESULTS.md`.
"""

import argparse
import importlib.metadata
import json
import math
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import baselines
import keras
import numpy as np

import keras_gnap
from keras_gnap import recipes
from keras_gnap import training
from keras_gnap.layers.gated_layer import DEFAULT_SPARSITY
from keras_gnap.layers.random_augmentation import RandomAugmentation
from keras_gnap.models.build_gnap import PRESETS
from keras_gnap.reports.parameter_count import dense_params

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
SCRIPT = "benchmarks/reproduce.py"
VARIANTS = ("gnap", "prune_off", "growth_off", "dense", "gmp")
# Variants whose size is set by the GNAP run they are compared with.
NEEDS_REFERENCE = ("growth_off", "dense", "gmp")
# The polynomial schedule of the gradual magnitude pruning baseline, as
# tensorflow-model-optimization's: cubic from 0 to the final sparsity
# between 10% and 70% of the steps, masks every 100 steps, each layer to
# the same sparsity, then fine-tuning with fixed masks.
GMP_SCHEDULE = {
    "initial_sparsity": 0.0,
    "begin_fraction": 0.1,
    "end_fraction": 0.7,
    "frequency": 100,
    "power": 3,
    "scope": "layer",
}
# What a run's name gains when it runs with another sparsity, so that its
# results stay apart from the default's.
SPARSITY_TAG = "_sparsity"
# What a run's name gains with `--gating weight_and_unit`.
UNITS_TAG = "_units"


def build_parser():
    """Returns the argument parser of the script."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/reproduce.py",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--dataset", required=True, choices=sorted(recipes.BENCHMARKS)
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=(
            "Training data: a folder of IDX files, an image folder, a "
            ".tar.gz of one, or a TFDS name. Default: the dataset's folder "
            "in ../shared/data (Fashion-MNIST: the Debian package's folder)."
        ),
    )
    parser.add_argument(
        "--test-data-dir",
        default=None,
        help=(
            "Source with the official test split (e.g. a folder with "
            "t10k-*-ubyte files). When given, the final model is evaluated "
            "on it once. Default: none, report validation accuracy only."
        ),
    )
    parser.add_argument(
        "--epochs", type=_positive_int, default=None, help="Default: recipe."
    )
    parser.add_argument(
        "--sparsity",
        type=_non_negative_float,
        default=None,
        help=(
            "Another pruning pressure than the default. Runs with it are "
            "named <dataset>_sparsity<S>."
        ),
    )
    parser.add_argument(
        "--gating",
        choices=("weight", "weight_and_unit"),
        default="weight",
        help=(
            "build_gnap's gating. Runs with weight_and_unit (unit gates: "
            "narrower, faster networks) are named <dataset>_units."
        ),
    )
    parser.add_argument(
        "--devices",
        type=_positive_int,
        default=1,
        help=(
            "Train data parallel on N devices (the GPUs, or the CPU "
            "split in N), with the same global batch. Default: 1."
        ),
    )
    parser.add_argument(
        "--mixed-precision",
        choices=training.MIXED_PRECISION,
        default=None,
        help=(
            "Train computing in bfloat16 or float16. Runs with it are "
            "named <dataset>_<dtype>. Default: float32."
        ),
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        help="Output folder. Default: benchmarks/results.",
    )
    parser.add_argument(
        "--baseline",
        choices=(*VARIANTS, "all"),
        default="gnap",
        help="Variant to run. Default: gnap.",
    )
    parser.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help=(
            "Use only the first N training images and N validation "
            "images (smoke runs; recorded in the JSON)."
        ),
    )
    parser.add_argument("--seed", type=int, default=0, help="Default: 0.")
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="Keras verbosity: 1 progress bar, 2 one line per epoch.",
    )
    return parser


def main(argv=None):
    """Runs the script with `argv` (defaults to `sys.argv[1:]`).

    Returns:
        A list of the result dicts written, one per variant.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    # Before the data loads: the backend fixes its devices when it starts.
    keras_gnap.data_parallel.prepare_devices(args.devices)
    entry = recipes.benchmark(args.dataset)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = f"python {SCRIPT} {shlex.join(argv)}"

    data = prepare_data(entry, args)
    recipe = recipe_for(entry, data["info"], args)
    variants = VARIANTS if args.baseline == "all" else (args.baseline,)
    reference = None
    results = []
    for variant in variants:
        if variant in NEEDS_REFERENCE and reference is None:
            reference = _load_reference(out, recipe, args)
        print(f"\n=== {recipe['name']}: {variant} ===")
        result = run_variant(variant, recipe, data, args, reference)
        result["command"] = command
        result["variant_command"] = _variant_command(argv, variant)
        stem = _stem(recipe, variant, args.seed)
        _write_json(out / f"{stem}.json", result)
        if variant == "gnap":
            reference = result
        results.append(result)
        _print_result(result, out / f"{stem}.json")
    return results


# === Data ===


def default_source(entry):
    """Returns the default training data of a benchmark.

    The dataset's folder in the shared data folder beside the repository
    (`../shared/data`) when it exists, else its system location (a
    package's install folder) when that exists, else its TFDS name.

    Args:
        entry: dict from `keras_gnap.recipes.benchmark`.

    Returns:
        A str: a path or a TFDS name.
    """
    shared = SHARED_DATA / entry["shared_path"]
    if shared.exists():
        return str(shared)
    system = entry.get("system_path")
    if system and Path(system).exists():
        return system
    return entry["name"].removesuffix("_reduced")


def prepare_data(entry, args):
    """Loads the training, validation and (optional) test splits.

    Args:
        entry: dict from `keras_gnap.recipes.benchmark`.
        args: parsed arguments (`data_dir`, `test_data_dir`, `limit`,
            `seed`).

    Returns:
        A dict with `source`, `train`, `validation` and `test` (or None)
        datasets, and `info`: source, input shape, classes and split
        sizes.

    Raises:
        ValueError: if a source cannot be read (see `load`).
    """
    source = args.data_dir or default_source(entry)
    train, validation, info = training.load_data(
        source, recipes.BATCH_SIZE, seed=args.seed, limit=args.limit
    )
    test, num_test = None, None
    if args.test_data_dir:
        test, test_info = keras_gnap.datasets.load(
            args.test_data_dir,
            split="test",
            batch_size=recipes.BATCH_SIZE,
            with_info=True,
            seed=args.seed,
        )
        num_test = test_info.num_examples
    print(
        f"Data: {_display_path(source)}: {info['train_examples']:,} training "
        f"and {info['validation_examples']:,} validation images of shape "
        f"{tuple(info['input_shape'])}, {info['classes']} classes"
        + (f"; {num_test:,} test images" if test else "")
        + "."
    )
    info = {
        "source": _display_path(source),
        "test_source": args.test_data_dir,
        **info,
        "test_examples": num_test,
    }
    return {
        "source": source,
        "train": train,
        "validation": validation,
        "test": test,
        "info": info,
    }


def recipe_for(entry, info, args):
    """Returns what a benchmark runs, resolved from its data, as a dict.

    Args:
        entry: dict from `keras_gnap.recipes.benchmark`.
        info: the `info` dict of `prepare_data`.
        args: parsed arguments (`epochs`, `sparsity`).

    Returns:
        A dict recorded in every result: `name`, `dataset`, `protocol`,
        `settings` (from `keras_gnap.training.resolve_settings`),
        `stages`, `sparsity`, `growth` (the `GrowthCallback` defaults),
        `gmp` and `target`.
    """
    settings = training.resolve_settings(
        info["input_shape"],
        epochs=args.epochs or entry.get("epochs"),
        preset=entry.get("preset"),
    )
    sparsity = DEFAULT_SPARSITY if args.sparsity is None else args.sparsity
    name = entry["name"]
    if sparsity != DEFAULT_SPARSITY:
        name = f"{name}{SPARSITY_TAG}{sparsity:g}"
    gating = getattr(args, "gating", "weight")
    if gating != "weight":
        name = f"{name}{UNITS_TAG}"
    mixed_precision = getattr(args, "mixed_precision", None)
    if mixed_precision:
        name = f"{name}_{mixed_precision}"
    # Recorded only when set, so earlier runs' recipes still compare.
    precision = {"mixed_precision": mixed_precision} if mixed_precision else {}
    growth = keras_gnap.GrowthCallback()
    return {
        "name": name,
        "dataset": entry["name"].removesuffix("_reduced"),
        "protocol": "reduced" if "epochs" in entry else "full",
        "settings": settings,
        "stages": [list(s) for s in PRESETS[settings["preset"]]["stages"]],
        "sparsity": sparsity,
        "gating": gating,
        **precision,
        "growth": {
            key: getattr(growth, key)
            for key in (
                "monitor",
                "min_delta",
                "patience",
                "max_growths",
                "growth_factor",
                "max_params",
            )
        },
        "gmp": GMP_SCHEDULE,
        "target": recipes.TARGETS.get(entry["name"]),
    }


# === Variants ===


def build_variant(variant, recipe, info, reference, total_steps):
    """Builds the model and callbacks of one baseline variant.

    Args:
        variant: str. One of `VARIANTS` but `gnap`, which
            `keras_gnap.training.train` runs.
        recipe: dict from `recipe_for`.
        info: the `info` dict of `prepare_data`.
        reference: result dict of the GNAP run, needed by `growth_off`,
            `dense` and `gmp`; else ignored.
        total_steps: int. Training steps of the whole run.

    Returns:
        `(model, callbacks, growth, details)`: a compiled model, the list
        of callbacks for `fit`, the `GrowthCallback` among them or None,
        and a dict describing the variant's own settings.
    """
    settings = recipe["settings"]
    shape, classes = tuple(info["input_shape"]), info["classes"]
    start = recipe["stages"]
    if variant in NEEDS_REFERENCE:
        widest = baselines.stages_from_widths(
            reference["widest"]["widths"], start
        )
        budget = reference["effective_params"]
    growth, details, callbacks = None, {}, []
    # Every variant trains on the same augmented images.
    augmentation = RandomAugmentation(**settings["augmentation"])
    if variant == "prune_off":
        model = training.build_and_compile(
            info, settings, sparsity=0.0, total_steps=total_steps
        )
        growth = keras_gnap.GrowthCallback(verbose=1)
        callbacks.append(growth)
        details = {"stages": start, "sparsity": 0.0}
    elif variant == "growth_off":
        model = training.build_and_compile(
            info,
            settings,
            sparsity=recipe["sparsity"],
            stages=widest,
            total_steps=total_steps,
            gating=recipe.get("gating", "weight"),
        )
        details = {"stages": widest, "sparsity": recipe["sparsity"]}
    elif variant == "dense":
        stages = baselines.dense_stages(budget, widest, shape[-1], classes)
        model = baselines.build_dense(
            shape, classes, stages, augmentation=augmentation
        )
        details = {"stages": stages, "budget": budget, "sparsity": 0.0}
    elif variant == "gmp":
        model = baselines.build_masked(
            shape, classes, widest, augmentation=augmentation
        )
        gmp = recipe["gmp"]
        final = baselines.sparsity_for_budget(model, budget)
        schedule = baselines.PolynomialDecay(
            final,
            begin_step=round(gmp["begin_fraction"] * total_steps),
            end_step=round(gmp["end_fraction"] * total_steps),
            initial_sparsity=gmp["initial_sparsity"],
            power=gmp["power"],
            frequency=gmp["frequency"],
        )
        callbacks.append(
            baselines.GradualMagnitudePruning(schedule, scope=gmp["scope"])
        )
        details = {
            "stages": widest,
            "budget": budget,
            "schedule": schedule.get_config(),
            "scope": gmp["scope"],
        }
    else:
        raise ValueError(
            f"Argument `variant` must be one of {VARIANTS[1:]}. "
            f"Received: variant={variant!r}"
        )
    if variant in ("dense", "gmp"):
        training.compile_for(model, settings, total_steps)
    if growth is None:
        callbacks.append(EffectiveParamsLogger())
    return model, callbacks, growth, details


class EffectiveParamsLogger(keras.callbacks.Callback):
    """Adds `effective_params` to every epoch's logs, as GrowthCallback."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["effective_params"] = keras_gnap.count_params(self.model)


def run_variant(variant, recipe, data, args, reference):
    """Trains one variant, saves its model and returns its results.

    Args:
        variant: str. One of `VARIANTS`.
        recipe: dict from `recipe_for`.
        data: dict from `prepare_data`.
        args: parsed arguments.
        reference: result dict of the GNAP run, or None.

    Returns:
        The result dict (see the module docstring), also saved as JSON by
        `main`.
    """
    started = time.time()
    info = data["info"]
    settings = recipe["settings"]
    steps_per_epoch = math.ceil(info["train_examples"] / settings["batch_size"])
    total_steps = settings["epochs"] * steps_per_epoch
    details = {}
    if variant == "gnap":
        # The main command's code path, data and all.
        model, record = training.train(
            data["source"],
            epochs=settings["epochs"],
            preset=settings["preset"],
            sparsity=recipe["sparsity"],
            gating=recipe.get("gating", "weight"),
            seed=args.seed,
            limit=args.limit,
            verbose=args.verbose,
            devices=args.devices,
            mixed_precision=recipe.get("mixed_precision"),
        )
        history = record["history"]
        growth_events = record["growth_events"]
        stopped_growing = record["stopped_growing"]
        epoch_seconds = record["epoch_seconds"]
        train_seconds = record["train_seconds"]
        dense_start = dense_params(
            keras_gnap.build_gnap(
                tuple(info["input_shape"]),
                info["classes"],
                stages=recipe["stages"],
                gating=recipe.get("gating", "weight"),
            )
        )
        details = {
            "stages": recipe["stages"],
            "sparsity": recipe["sparsity"],
            "gating": recipe.get("gating", "weight"),
        }
    else:
        keras.utils.set_random_seed(args.seed)
        training.check_batches(args.devices, settings["batch_size"], info)
        with (
            keras_gnap.data_parallel.data_parallel(args.devices),
            training.precision_policy(recipe.get("mixed_precision")),
        ):
            model, callbacks, growth, details = build_variant(
                variant, recipe, info, reference, total_steps
            )
            dense_start = dense_params(model)
            timer = training.EpochTimer()
            fit_started = time.time()
            fitted = model.fit(
                data["train"],
                validation_data=data["validation"],
                epochs=settings["epochs"],
                callbacks=[*callbacks, timer],
                verbose=args.verbose,
                shuffle=False,  # the pipeline shuffles
            )
        train_seconds = round(time.time() - fit_started, 1)
        history = {
            key: [float(v) for v in values]
            for key, values in fitted.history.items()
        }
        growth_events = growth.growth_events if growth else []
        stopped_growing = growth.stopped_growing if growth else None
        epoch_seconds = [round(t, 3) for t in timer.seconds]
        for callback in callbacks:
            if isinstance(callback, baselines.GradualMagnitudePruning):
                details["mask_updates"] = callback.updates

    validation_accuracy = _evaluate(model, data["validation"])
    test_accuracy = None
    if data["test"] is not None:
        # The official test split, once, after every choice was made.
        test_accuracy = _evaluate(model, data["test"])
    compact_params, compact_error = _compact_count(model)
    widths = _widths(model)
    widest_dense = max(
        [dense_start, dense_params(model)]
        + [event["dense_params_after"] for event in growth_events]
    )
    stem = _stem(recipe, variant, args.seed)
    model.save(Path(args.out) / f"{stem}.keras")
    effective = keras_gnap.count_params(model)
    return {
        "dataset": recipe["dataset"],
        "recipe_name": recipe["name"],
        "protocol": recipe["protocol"],
        "variant": variant,
        "recipe": recipe,
        "variant_settings": details,
        "reference": _reference_summary(reference, variant),
        "accuracy": test_accuracy
        if test_accuracy is not None
        else validation_accuracy,
        "accuracy_split": "test" if test_accuracy is not None else "validation",
        "validation_accuracy": validation_accuracy,
        "test_accuracy": test_accuracy,
        "effective_params": effective,
        "compact_params": compact_params,
        "compact_error": compact_error,
        "dense_params": dense_params(model),
        "widths": widths,
        # Growth only widens, so the final widths are the widest.
        "widest": {"dense_params": widest_dense, "widths": widths},
        "growth_events": growth_events,
        "stopped_growing": stopped_growing,
        "epochs": len(history.get("loss", [])),
        "steps_per_epoch": steps_per_epoch,
        "train_seconds": train_seconds,
        # Each epoch with its validation; the first and those after a
        # growth include compiling the training step.
        "epoch_seconds": epoch_seconds,
        "wall_seconds": round(time.time() - started, 1),
        # Other work sharing the CPU slows a run down: the load average
        # at its end (over 1, 5 and 15 minutes) says whether it had the
        # machine to itself (about 1 to 2 on 2 cores) or not.
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "seed": args.seed,
        "limit": args.limit,
        "devices": args.devices,
        "data": info,
        "history": history,
        "model_file": f"{stem}.keras",
        "versions": {
            "keras_gnap": keras_gnap.__version__,
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            keras.backend.backend(): _backend_version(),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "machine": machine_info(),
    }


def machine_info():
    """Returns a description of this machine, from `platform` and `os`."""
    if hasattr(os, "sched_getaffinity"):
        usable = len(os.sched_getaffinity(0))
    else:
        usable = os.cpu_count()
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "gpus": _gpu_count(),
    }


# === Helpers ===


def _backend_version():
    name = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
    backend = keras.backend.backend()
    return importlib.metadata.version(name.get(backend, backend))


def _gpu_count():
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.device_count()
    return sum(
        device.startswith("gpu") for device in keras.distribution.list_devices()
    )


def _display_path(source):
    """`source` relative to the repository when it lies beside it, so that
    results do not record where this clone happens to be."""
    path = Path(source)
    if not path.exists():
        return str(source)
    # The path as given first: a shared folder beside the clone may be a
    # link to somewhere else.
    for candidate in (Path(os.path.abspath(path)), path.resolve()):
        if candidate.is_relative_to(REPO.parent):
            return os.path.relpath(candidate, REPO)
    return str(source)


def _evaluate(model, dataset):
    metrics = model.evaluate(dataset, verbose=0, return_dict=True)
    return float(metrics["accuracy"])


def _compact_count(model):
    try:
        return int(keras_gnap.compact(model).count_params()), None
    except Exception as error:  # Recorded, not fatal: the run is done.
        return None, f"{type(error).__name__}: {error}"


def _widths(model):
    return {layer.name: layer.width for layer in baselines.gated_layers(model)}


def _stem(recipe, variant, seed):
    return f"{recipe['name']}_{variant}_seed{seed}"


def _load_reference(out, recipe, args):
    path = out / f"{_stem(recipe, 'gnap', args.seed)}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"The {args.baseline} baseline is sized by the GNAP run, and "
            f"{path} does not exist. Run the GNAP recipe first (same "
            "--dataset, --seed, --epochs, --sparsity, --limit, --out), "
            "or use --baseline all."
        )
    reference = json.loads(path.read_text())
    theirs = _comparable(reference.get("recipe", {}), reference.get("limit"))
    ours = _comparable(recipe, args.limit)
    if theirs != ours:
        raise ValueError(
            f"The GNAP run in {path} used {theirs}; this run has {ours}. "
            "Baselines must use the same data, epochs and settings: rerun "
            "GNAP with these settings or use --baseline all."
        )
    return reference


def _comparable(recipe, limit):
    return {
        "epochs": recipe.get("settings", {}).get("epochs"),
        "sparsity": recipe.get("sparsity"),
        "limit": limit,
    }


def _reference_summary(reference, variant):
    if reference is None or variant not in NEEDS_REFERENCE:
        return None
    return {
        "effective_params": reference["effective_params"],
        "widest": reference["widest"],
        "command": reference.get("command"),
    }


def _variant_command(argv, variant):
    args = list(argv)
    if "--baseline" in args:
        index = args.index("--baseline")
        args[index + 1] = variant
    else:
        args = [a for a in args if not a.startswith("--baseline=")]
        args += ["--baseline", variant]
    return f"python {SCRIPT} {shlex.join(args)}"


def _write_json(path, record):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=_jsonable) + "\n")
    os.replace(tmp, path)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"Not JSON serializable: {type(value).__name__}")


def _print_result(result, path):
    compact = result["compact_params"]
    print(
        f"{result['recipe_name']} {result['variant']}: "
        f"{result['accuracy_split']} accuracy {result['accuracy']:.4f}, "
        f"{result['effective_params']:,} effective parameters (non-zero "
        "weights and biases of live units, batch norm folded), compacted "
        f"Keras model {compact if compact is None else f'{compact:,}'}, "
        f"widest dense {result['widest']['dense_params']:,}, "
        f"growth events: {len(result['growth_events'])}, "
        f"{result['epochs']} epochs, {result['train_seconds']:.0f} s "
        f"training, {result['wall_seconds']:.0f} s wall. Wrote {path}"
    )


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a positive integer. Received: {text!r}"
        )
    return value


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(
            f"must be a finite number >= 0. Received: {text!r}"
        )
    return value


if __name__ == "__main__":
    try:
        main()
    except (ValueError, FileNotFoundError) as error:
        sys.exit(f"reproduce.py: error: {error}")
