"""`python -m keras_gnap train`: the whole GNAP schedule on one dataset."""

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import keras

from keras_gnap.callbacks.freeze_gates import FreezeGates
from keras_gnap.callbacks.growth_callback import GrowthCallback
from keras_gnap.datasets import load
from keras_gnap.growth.unit_split import NEW_UNITS
from keras_gnap.growth.unit_split import SPLIT_NOISE
from keras_gnap.layers.gated_layer import DEFAULT_SPARSITY
from keras_gnap.models.build_gnap import build_gnap
from keras_gnap.reports.parameter_count import count_params
from keras_gnap.reports.parameter_count import dense_params
from keras_gnap.reports.summary import summary

AUGMENT_CHOICES = {"auto": None, "on": True, "off": False}


def add_parser(subparsers):
    """Adds the `train` subcommand to `subparsers`."""
    parser = subparsers.add_parser(
        "train",
        help="Train a GNAP classifier: prune, grow, prune, ...",
        description=(
            "Builds a small GNAP network for the dataset and trains it with "
            "GrowthCallback: it prunes itself while it trains and grows "
            "each time the validation loss saturates. Writes the final "
            "model (model.keras) and the history with growth events "
            "(history.json) into --output."
        ),
    )
    parser.add_argument(
        "--dataset",
        required=True,
        help=(
            "A TFDS name (mnist, fashion_mnist, cifar10, ...), a directory "
            "of IDX files, an image folder with one subfolder per class, or "
            "a .tar.gz of one."
        ),
    )
    parser.add_argument(
        "--data-dir", default=None, help="TFDS data directory (optional)."
    )
    parser.add_argument(
        "--epochs", type=_positive_int, default=30, help="Default: 30."
    )
    parser.add_argument(
        "--output",
        default=None,
        help="Output folder. Default: runs/<dataset name>.",
    )
    parser.add_argument(
        "--batch-size", type=_positive_int, default=128, help="Default: 128."
    )
    parser.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=0.01,
        help="Initial Adam learning rate, cosine-decayed. Default: 0.01.",
    )
    parser.add_argument(
        "--sparsity",
        type=_non_negative_float,
        default=DEFAULT_SPARSITY,
        help=(
            "Pruning pressure, as loss per 10,000 kept parameters. "
            f"Default: {DEFAULT_SPARSITY}."
        ),
    )
    parser.add_argument(
        "--gating",
        choices=("weight", "channel"),
        default="weight",
        help="One gate per weight or per output channel. Default: weight.",
    )
    parser.add_argument(
        "--patience",
        type=_non_negative_int,
        default=3,
        help="Epochs without improvement before growing. Default: 3.",
    )
    parser.add_argument(
        "--max-growths", type=_non_negative_int, default=5, help="Default: 5."
    )
    parser.add_argument(
        "--growth-factor",
        type=_positive_float,
        default=0.5,
        help="Relative growth of the most open layer. Default: 0.5.",
    )
    parser.add_argument(
        "--growth-until",
        type=_fraction,
        default=0.75,
        help=(
            "Fraction of the epochs after which the network no longer "
            "grows, leaving the rest to pruning. Default: 0.75."
        ),
    )
    parser.add_argument(
        "--new-units",
        choices=NEW_UNITS,
        default="split",
        help=(
            "How the units a growth adds start: splits of the most used "
            "units, or zero outgoing weights (keras_gnap.grow). "
            "Default: split."
        ),
    )
    parser.add_argument(
        "--split-noise",
        type=_non_negative_float,
        default=SPLIT_NOISE,
        help=(
            "Spread of the noise on a split unit's incoming weights, "
            f"relative to its source's. Default: {SPLIT_NOISE}."
        ),
    )
    parser.add_argument(
        "--reopen-pruned",
        action="store_true",
        help=(
            "Reopen every closed gate over a zero weight at each growth, so "
            "pruning decides afresh what the wider network keeps."
        ),
    )
    parser.add_argument(
        "--reopen-until",
        type=_fraction,
        default=0.5,
        help=(
            "With --reopen-pruned, the fraction of the epochs after which "
            "growths no longer reopen gates. Default: 0.5."
        ),
    )
    parser.add_argument(
        "--restart-schedule",
        action="store_true",
        help=(
            "Restart the cosine learning-rate schedule at each growth, "
            "compressed into the steps that remain."
        ),
    )
    parser.add_argument(
        "--warm-second-moment",
        action="store_true",
        help=(
            "Start the new weights' Adam second moments at the mean of the "
            "old weights' at each growth, so that their first steps are not "
            "about three times the learning rate."
        ),
    )
    parser.add_argument(
        "--rescale-weights",
        action="store_true",
        help=(
            "Scale the batch-normalised kernels back down to the He scale "
            "of a fresh layer at each growth (outputs unchanged), so the "
            "grown network learns as fast as a new one. Needs "
            "--reset-optimizer."
        ),
    )
    parser.add_argument(
        "--reset-optimizer",
        action="store_true",
        help=(
            "Start the optimizer afresh at each growth (moments at zero, "
            "step count at 0), its cosine schedule over the steps that "
            "remain. Needs --restart-schedule."
        ),
    )
    parser.add_argument(
        "--freeze-gates-at",
        type=_open_fraction,
        default=None,
        help=(
            "Fraction of the epochs after which the gates stop training, so "
            "the last epochs fine-tune the pruned network "
            "(keras_gnap.FreezeGates). Default: never."
        ),
    )
    parser.add_argument(
        "--validation-size",
        type=_size,
        default=None,
        help=(
            "Held-out validation images: a count, or a fraction below 1. "
            "Default: the loader's rule (10,000 of MNIST's 60,000)."
        ),
    )
    parser.add_argument(
        "--augment",
        choices=sorted(AUGMENT_CHOICES),
        default="auto",
        help="Data augmentation: auto suits it to the data. Default: auto.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Default: 0.")
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        help="Keras verbosity: 1 progress bar, 2 one line per epoch.",
    )
    parser.set_defaults(run=run)
    return parser


def run(args):
    """Trains as `args` say and writes the results.

    Returns:
        The exit code: 0 on success.
    """
    keras.utils.set_random_seed(args.seed)
    output = Path(args.output or Path("runs") / _dataset_name(args.dataset))
    common = {
        "batch_size": args.batch_size,
        "validation_size": args.validation_size,
        "data_dir": args.data_dir,
        "seed": args.seed,
    }
    train, info = load(
        args.dataset,
        split="train",
        augment=AUGMENT_CHOICES[args.augment],
        with_info=True,
        **common,
    )
    validation, val_info = load(
        args.dataset, split="validation", with_info=True, **common
    )
    print(
        f"Data: {info.num_examples:,} training and {val_info.num_examples:,} "
        f"validation images of shape {info.input_shape}, "
        f"{info.classes} classes."
    )
    model = build_gnap(
        info.input_shape,
        info.classes,
        sparsity=args.sparsity,
        gating=args.gating,
    )
    steps = args.epochs * -(-info.num_examples // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.learning_rate, decay_steps=steps
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    growth = GrowthCallback(
        patience=args.patience,
        max_growths=args.max_growths,
        growth_factor=args.growth_factor,
        growth_until=args.growth_until,
        new_units=args.new_units,
        split_noise=args.split_noise,
        reopen_pruned=args.reopen_pruned,
        reopen_until=args.reopen_until,
        restart_schedule=args.restart_schedule,
        warm_second_moment=args.warm_second_moment,
        rescale_weights=args.rescale_weights,
        reset_optimizer=args.reset_optimizer,
        verbose=1,
    )
    freeze = None
    if args.freeze_gates_at is not None:
        freeze = FreezeGates(at=args.freeze_gates_at, verbose=1)
    callbacks = [growth] + ([freeze] if freeze else [])
    start = time.time()
    history = model.fit(
        train,
        validation_data=validation,
        epochs=args.epochs,
        callbacks=callbacks,
        verbose=args.verbose,
        shuffle=False,  # the pipeline shuffles
    )
    seconds = time.time() - start

    results = {
        "dataset": args.dataset,
        "validation_accuracy": _accuracy(model, validation),
        "effective_params": count_params(model),
        "dense_params": dense_params(model),
        "epochs": len(history.history.get("loss", [])),
        "train_seconds": round(seconds, 1),
    }
    test_accuracy = _test_accuracy(model, args, common)
    if test_accuracy is not None:
        results["test_accuracy"] = test_accuracy

    summary(model)
    output.mkdir(parents=True, exist_ok=True)
    _write_atomically(output / "model.keras", model.save)
    record = {
        "results": results,
        "arguments": {k: v for k, v in vars(args).items() if k != "run"},
        "history": {
            k: [float(v) for v in values]
            for k, values in history.history.items()
        },
        "growth_events": growth.growth_events,
        "stopped_growing": growth.stopped_growing,
        "gates_frozen_at_epoch": freeze.frozen_at_epoch if freeze else None,
    }
    _write_atomically(
        output / "history.json",
        lambda path: Path(path).write_text(json.dumps(record, indent=2)),
    )
    print(
        f"Validation accuracy: {results['validation_accuracy']:.4f} "
        "(held out from the training data)"
    )
    if test_accuracy is not None:
        print(f"Test accuracy: {test_accuracy:.4f} (official test split)")
    print(
        f"Effective parameters: {results['effective_params']:,} (non-zero "
        "weights and biases of live units, batch norm folded); dense "
        f"network: {results['dense_params']:,}"
    )
    print(
        f"Growth events: {len(growth.growth_events)}; trained "
        f"{results['epochs']} epochs in {seconds:.0f} s"
    )
    print(f"Wrote {output / 'model.keras'} and {output / 'history.json'}")
    return 0


def _accuracy(model, dataset):
    metrics = model.evaluate(dataset, verbose=0, return_dict=True)
    return float(metrics["accuracy"])


def _test_accuracy(model, args, common):
    try:
        test = load(args.dataset, split="test", **common)
    except ValueError:
        # The source has no official test split; validation stands alone.
        return None
    return _accuracy(model, test)


def _write_atomically(path, write):
    """Writes through `write(tmp_path)` then renames, so that an interrupted
    run never leaves a half-written file at `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix
    )
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _dataset_name(dataset):
    name = Path(dataset.rstrip("/")).name
    for suffix in (".tar.gz", ".tgz"):
        name = name.removesuffix(suffix)
    return name or "dataset"


def _number(parse, minimum, strict, description):
    def check(text):
        try:
            value = parse(text)
        except ValueError:
            value = None
        if (
            value is None
            or not math.isfinite(value)
            or value < minimum
            or (strict and value == minimum)
        ):
            raise argparse.ArgumentTypeError(
                f"must be {description}. Received: {text!r}"
            )
        return value

    check.__name__ = description
    return check


_positive_int = _number(int, 0, True, "a positive integer")
_non_negative_int = _number(int, 0, False, "a non-negative integer")
_positive_float = _number(float, 0, True, "a positive number")
_non_negative_float = _number(float, 0, False, "a non-negative number")


def _fraction(text):
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(
            f"must be a fraction in (0, 1]. Received: {text!r}"
        )
    return value


def _open_fraction(text):
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(
            f"must be a fraction in (0, 1). Received: {text!r}"
        )
    return value


def _size(text):
    value = _non_negative_float(text)
    return int(value) if value >= 1 else value
