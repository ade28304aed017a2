"""Runs a documented GNAP recipe and its baselines, and records the results.

Usage (from the repository root, keras_gnap importable, e.g. after
`pip install -e .`):

    python benchmarks/reproduce.py --dataset mnist
    python benchmarks/reproduce.py --dataset mnist --baseline all
    python benchmarks/reproduce.py --dataset cifar10 --reduced --baseline all
    python benchmarks/reproduce.py --dataset mnist --limit 512 --epochs 1 \\
        --out runs/smoke --baseline all

The recipes are in `benchmarks/recipes.py`. Variants (`--baseline`):

- `gnap`: the recipe: growth and autonomous pruning.
- `dense`: a dense CNN of the same shape as GNAP's widest network, scaled
  down to GNAP's final effective parameter count.
- `gmp`: GNAP's widest network, pruned by gradual magnitude pruning
  (polynomial schedule) down to GNAP's final effective parameter count.
- `growth_off`: GNAP's widest network from the start, pruning, no growth.
- `prune_off`: the recipe with sparsity 0: growth, no pruning pressure.
- `all`: `gnap`, then the four others, in one process.

Every variant trains on the same data, for the same epochs, with the same
optimizer and schedule. `dense`, `gmp` and `growth_off` need the GNAP run of
the same recipe, seed, epochs and `--limit`: from the same command, or
from its JSON file in `--out`.

Each run writes `<out>/<recipe>_<variant>_seed<seed>.json` and the final
model `<out>/<recipe>_<variant>_seed<seed>.keras`; with a `--sparsity S`
other than the recipe's, `<recipe>` becomes `<recipe>_sparsity<S>`.
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
import recipes

import keras_gnap
from keras_gnap.datasets import load
from keras_gnap.layers.random_augmentation import RandomAugmentation
from keras_gnap.reports.parameter_count import dense_params

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
SCRIPT = "benchmarks/reproduce.py"
VARIANTS = ("gnap", "prune_off", "growth_off", "dense", "gmp")
# Variants whose size is set by the GNAP run they are compared with.
NEEDS_REFERENCE = ("growth_off", "dense", "gmp")


def build_parser():
    """Returns the argument parser of the script."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/reproduce.py",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("--dataset", required=True, choices=recipes.DATASETS)
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
            "Override the recipe's pruning pressure. Runs with another "
            "value than the recipe's are named <recipe>_sparsity<S>."
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
        "--reduced",
        action="store_true",
        help="The reduced CPU protocol (CIFAR-10 only).",
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
    recipe = recipes.get_recipe(args.dataset, reduced=args.reduced)
    if args.epochs is not None:
        recipe["training"]["epochs"] = args.epochs
    if args.sparsity is not None:
        recipes.with_sparsity(recipe, args.sparsity)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = f"python {SCRIPT} {shlex.join(argv)}"

    data = prepare_data(recipe, args)
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


def default_source(recipe):
    """Returns the default training data of a recipe.

    The dataset's folder in the shared data folder beside the repository
    (`../shared/data`) when it exists, else its system location (a
    package's install folder) when that exists, else its TFDS name.

    Args:
        recipe: dict from `recipes.get_recipe`.

    Returns:
        A str: a path or a TFDS name.
    """
    shared = SHARED_DATA / recipe["data"]["shared_path"]
    if shared.exists():
        return str(shared)
    system = recipe["data"].get("system_path")
    if system and Path(system).exists():
        return system
    return recipe["dataset"]


def prepare_data(recipe, args):
    """Loads the training, validation and (optional) test splits.

    Args:
        recipe: dict from `recipes.get_recipe`.
        args: parsed arguments (`data_dir`, `test_data_dir`, `limit`,
            `seed`).

    Returns:
        A dict with `train`, `validation` and `test` (or None) datasets,
        and `info`: source, input shape, classes and split sizes.

    Raises:
        ValueError: if a source cannot be read (see `load`).
    """
    source = args.data_dir or default_source(recipe)
    batch_size = recipe["training"]["batch_size"]
    common = {
        "validation_size": recipe["data"]["validation_size"],
        "seed": args.seed,
    }
    train, train_info = load(
        source,
        split="train",
        batch_size=batch_size,
        augment=False,
        with_info=True,
        **common,
    )
    validation, val_info = load(
        source,
        split="validation",
        batch_size=batch_size,
        with_info=True,
        **common,
    )
    num_train, num_val = train_info.num_examples, val_info.num_examples
    if args.limit is not None and args.limit < num_train:
        # The first N training images, reshuffled every epoch.
        train = _head(source, "train", args.limit, batch_size, common)
        num_train = args.limit
    if args.limit is not None and args.limit < num_val:
        validation = _head(source, "validation", args.limit, batch_size, common)
        num_val = args.limit
    test, num_test = None, None
    if args.test_data_dir:
        test, test_info = load(
            args.test_data_dir,
            split="test",
            batch_size=batch_size,
            with_info=True,
            **common,
        )
        num_test = test_info.num_examples
    print(
        f"Data: {_display_path(source)}: {num_train:,} training and "
        f"{num_val:,} validation images of shape {train_info.input_shape}, "
        f"{train_info.classes} classes"
        + (f"; {num_test:,} test images" if test else "")
        + "."
    )
    return {
        "train": train,
        "validation": validation,
        "test": test,
        "info": {
            "source": _display_path(source),
            "test_source": args.test_data_dir,
            "input_shape": list(train_info.input_shape),
            "classes": train_info.classes,
            "train_examples": num_train,
            "validation_examples": num_val,
            "test_examples": num_test,
        },
    }


def _head(source, split, limit, batch_size, common):
    """The first `limit` examples of a split, batched, shuffled for training.

    Args:
        source: the data source given to `load`.
        split: str. `"train"` or `"validation"`.
        limit: int. Number of examples to keep.
        batch_size: int. Examples per batch of the returned dataset.
        common: dict of the other `load` arguments (validation size, seed).

    Returns:
        What `load` returns for arrays.
    """
    head = load(
        source,
        split=split,
        batch_size=limit,
        shuffle=False,
        augment=False,
        **common,
    )
    # A PyDataset (without TensorFlow) is indexed; a tf.data one iterated.
    if isinstance(head, keras.utils.PyDataset):
        images, labels = head[0]
    else:
        images, labels = next(iter(head))
    return load(
        (np.asarray(images), np.asarray(labels)),
        split="train",
        batch_size=batch_size,
        validation_size=0,
        shuffle=split == "train",
        augment=False,
        seed=common["seed"],
    )


def augmentation_for(recipe):
    """Returns the recipe's augmentation layer, or None.

    The layer runs inside the compiled training step (see
    `keras_gnap.layers.RandomAugmentation`), on every backend: turns and
    zooms first, then shifts of up to `padding` pixels, then flips.

    Args:
        recipe: dict from `recipes.get_recipe`.

    Returns:
        A `RandomAugmentation` layer, or None when the recipe has none.
    """
    augment = recipe["augment"]
    if not augment:
        return None
    return RandomAugmentation(
        padding=augment["padding"],
        flip=augment["flip"],
        rotation=augment.get("rotation", 0.0),
        zoom=augment.get("zoom", 0.0),
    )


# === Variants ===


def build_variant(variant, recipe, info, reference, total_steps):
    """Builds the model and callbacks of one variant.

    Args:
        variant: str. One of `VARIANTS`.
        recipe: dict from `recipes.get_recipe`.
        info: the `info` dict of `prepare_data`.
        reference: result dict of the GNAP run, needed by `growth_off`,
            `dense` and `gmp`; else ignored.
        total_steps: int. Training steps of the whole run.

    Returns:
        `(model, callbacks, growth, details)`: a `GNAPModel`, the list of
        callbacks for `fit`, the `GrowthCallback` among them or None, and a
        dict describing the variant's own settings.
    """
    shape, classes = tuple(info["input_shape"]), info["classes"]
    model_settings = recipe["model"]
    start = model_settings["stages"]
    sparsity = model_settings["sparsity"]
    gating = model_settings["gating"]
    if variant in NEEDS_REFERENCE:
        widest = baselines.stages_from_widths(
            reference["widest"]["widths"], start
        )
        budget = reference["effective_params"]
    growth, details = None, {}
    callbacks = []
    # Every variant trains on the same augmented images.
    augmentation = augmentation_for(recipe)
    if variant in ("gnap", "prune_off"):
        if variant == "prune_off":
            sparsity = 0.0
        model = keras_gnap.build_gnap(
            shape,
            classes,
            stages=start,
            sparsity=sparsity,
            gating=gating,
            augmentation=augmentation,
        )
        growth = keras_gnap.GrowthCallback(verbose=1, **recipe["growth"])
        callbacks.append(growth)
        details = {"stages": start, "sparsity": sparsity}
    elif variant == "growth_off":
        model = keras_gnap.build_gnap(
            shape,
            classes,
            stages=widest,
            sparsity=sparsity,
            gating=gating,
            augmentation=augmentation,
        )
        details = {"stages": widest, "sparsity": sparsity}
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
        settings = recipe["gmp"]
        final = baselines.sparsity_for_budget(model, budget)
        schedule = baselines.PolynomialDecay(
            final,
            begin_step=round(settings["begin_fraction"] * total_steps),
            end_step=round(settings["end_fraction"] * total_steps),
            initial_sparsity=settings["initial_sparsity"],
            power=settings["power"],
            frequency=settings["frequency"],
        )
        pruning = baselines.GradualMagnitudePruning(
            schedule, scope=settings["scope"]
        )
        callbacks.append(pruning)
        details = {
            "stages": widest,
            "budget": budget,
            "schedule": schedule.get_config(),
            "scope": settings["scope"],
        }
    else:
        raise ValueError(
            f"Argument `variant` must be one of {VARIANTS}. "
            f"Received: variant={variant!r}"
        )
    freeze = recipe.get("freeze_gates")
    if freeze and variant in ("gnap", "growth_off"):
        callbacks.append(keras_gnap.FreezeGates(verbose=1, **freeze))
        details["freeze_gates"] = dict(freeze)
    if growth is None:
        callbacks.append(EffectiveParamsLogger())
    return model, callbacks, growth, details


class EffectiveParamsLogger(keras.callbacks.Callback):
    """Adds `effective_params` to every epoch's logs, as GrowthCallback."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["effective_params"] = keras_gnap.count_params(self.model)


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch, validation included."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)


def run_variant(variant, recipe, data, args, reference):
    """Trains one variant, saves its model and returns its results.

    Args:
        variant: str. One of `VARIANTS`.
        recipe: dict from `recipes.get_recipe`.
        data: dict from `prepare_data`.
        args: parsed arguments.
        reference: result dict of the GNAP run, or None.

    Returns:
        The result dict (see the module docstring), also saved as JSON by
        `main`.
    """
    started = time.time()
    keras.utils.set_random_seed(args.seed)
    info = data["info"]
    training = recipe["training"]
    steps_per_epoch = math.ceil(info["train_examples"] / training["batch_size"])
    total_steps = training["epochs"] * steps_per_epoch
    model, callbacks, growth, details = build_variant(
        variant, recipe, info, reference, total_steps
    )
    schedule = keras.optimizers.schedules.CosineDecay(
        recipe["optimizer"]["learning_rate"], decay_steps=total_steps
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    dense_start = dense_params(model)
    timer = EpochTimer()
    fit_started = time.time()
    history = model.fit(
        data["train"],
        validation_data=data["validation"],
        epochs=training["epochs"],
        callbacks=[*callbacks, timer],
        verbose=args.verbose,
        shuffle=False,  # the pipeline shuffles
    )
    train_seconds = time.time() - fit_started
    for callback in callbacks:
        if isinstance(callback, baselines.GradualMagnitudePruning):
            details["mask_updates"] = callback.updates
        if isinstance(callback, keras_gnap.FreezeGates):
            details["gates_frozen_at_epoch"] = callback.frozen_at_epoch

    validation_accuracy = _evaluate(model, data["validation"])
    test_accuracy = None
    if data["test"] is not None:
        # The official test split, once, after every choice was made.
        test_accuracy = _evaluate(model, data["test"])
    compact_params, compact_error = _compact_count(model)
    widths = _widths(model)
    growth_events = growth.growth_events if growth else []
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
        "stopped_growing": growth.stopped_growing if growth else None,
        "epochs": len(history.history.get("loss", [])),
        "steps_per_epoch": steps_per_epoch,
        "train_seconds": round(train_seconds, 1),
        # Each epoch with its validation; the first and those after a
        # growth include compiling the training step.
        "epoch_seconds": [round(t, 3) for t in timer.seconds],
        "wall_seconds": round(time.time() - started, 1),
        # Other work sharing the CPU slows a run down: the load average
        # at its end (over 1, 5 and 15 minutes) says whether it had the
        # machine to itself (about 1 to 2 on 2 cores) or not.
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "seed": args.seed,
        "limit": args.limit,
        "data": info,
        "history": {
            key: [float(v) for v in values]
            for key, values in history.history.items()
        },
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
            "--dataset, --reduced, --seed, --epochs, --limit, --out), "
            "or use --baseline all."
        )
    reference = json.loads(path.read_text())
    theirs = _comparable(reference["recipe"], reference.get("limit"))
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
        "epochs": recipe["training"]["epochs"],
        "sparsity": recipe["model"]["sparsity"],
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
