"""`python -m keras_gnap train`: the whole GNAP schedule on one dataset."""

import argparse
import json
import math
import shutil
from pathlib import Path

from keras_gnap import recipes

# What --help shows, equal to the library's (a test checks it): the parser
# is built before Keras loads, so it cannot ask the modules that need it.
PRESET_NAMES = ("cifar", "cifar_small", "mnist")
DEFAULT_SPARSITY = 0.05
MIXED_PRECISION = ("bfloat16", "float16")
# The plots written beside the model.
PLOTS = {"history": "history.png", "sparsity": "sparsity.png"}
# The folder of the checkpoints, inside --output, while the run goes on.
CHECKPOINT = "checkpoint"
# Every file a run writes into --output.
OUTPUTS = ("model.keras", "plain_model.keras", "history.json", *PLOTS.values())


def add_parser(subparsers):
    """Adds the `train` subcommand to `subparsers`."""
    parser = subparsers.add_parser(
        "train",
        help="Train a GNAP classifier: prune, grow, prune, ...",
        description=(
            "Builds a small GNAP network for the dataset and trains it with "
            "GrowthCallback: it prunes itself while it trains and grows "
            "each time the validation loss saturates. Writes the final "
            "model (model.keras), the same as plain Keras layers that load "
            "without keras_gnap (plain_model.keras), the history with "
            "growth events (history.json) and two plots (history.png, "
            "sparsity.png) into --output. An --output that holds a run is "
            "replaced only with --overwrite."
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
        "--output",
        default=None,
        help="Output folder. Default: runs/<dataset name>.",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help=(
            "Go on with the unfinished run in --output, from its last "
            "checkpoint (written at the end of every epoch), with that "
            "run's own options."
        ),
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=(
            "Replace the run already in --output (once the new one is "
            "done: until then the old one stays)."
        ),
    )
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="Default: 40 for one-channel images, 200 for colour images.",
    )
    parser.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help=f"Default: {recipes.BATCH_SIZE}.",
    )
    parser.add_argument(
        "--preset",
        choices=PRESET_NAMES,
        default=None,
        help=(
            "Starting network. Default: mnist for one-channel images, "
            "cifar for colour images."
        ),
    )
    parser.add_argument(
        "--sparsity",
        type=_non_negative_float,
        default=DEFAULT_SPARSITY,
        help=(
            "Pruning pressure, as loss per 10,000 kept parameters: higher "
            "gives a smaller, less accurate model. "
            f"Default: {DEFAULT_SPARSITY}."
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
        "--limit",
        type=_positive_int,
        default=None,
        help="Use only the first N training and N validation images.",
    )
    parser.add_argument(
        "--data-dir", default=None, help="TFDS data directory (optional)."
    )
    parser.add_argument(
        "--tensorboard",
        default=None,
        metavar="DIR",
        help=(
            "Also log to TensorBoard in DIR: Keras's metrics, and per-layer "
            "sparsity, effective parameters and growth events."
        ),
    )
    parser.add_argument(
        "--devices",
        type=_positive_int,
        default=1,
        help=(
            "Train data parallel on N devices: the GPUs or TPUs, or on a "
            "machine without them the CPU split into N (JAX and "
            "TensorFlow backends; the batch size must divide by N). "
            "Default: 1."
        ),
    )
    parser.add_argument(
        "--mixed-precision",
        choices=MIXED_PRECISION,
        default=None,
        help=(
            "Compute in bfloat16 or float16 (with loss scaling), keeping "
            "weights and gate scores in float32. Default: float32 "
            "throughout."
        ),
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
    import keras

    from keras_gnap.callbacks.run_checkpoint import write_atomically
    from keras_gnap.export.strip import strip
    from keras_gnap.reports.plots import plot_history
    from keras_gnap.reports.plots import plot_sparsity
    from keras_gnap.reports.summary import summary
    from keras_gnap.training import train

    output = Path(args.output or Path("runs") / _dataset_name(args.dataset))
    checkpoint = output / CHECKPOINT
    # Checked, and the folder made, before training: a run must never end
    # with nowhere to write its model.
    state = _check_output(output, args)
    if state is not None:
        # The stopped run's own options; only how it shows, and on how
        # many devices it runs, may change.
        kept = {
            "verbose": args.verbose,
            "tensorboard": args.tensorboard,
            "devices": args.devices,
        }
        vars(args).update({**state["run"]["arguments"], **kept})
        print(
            f"Resuming the run in {output} after epoch {state['epoch']} "
            f"of {state['epochs']}."
        )
    callbacks = []
    if args.tensorboard is not None:
        _check_tensorboard()
        callbacks.append(keras.callbacks.TensorBoard(args.tensorboard))
    _make_folder(output)
    model, record = train(
        args.dataset,
        epochs=args.epochs,
        batch_size=args.batch_size,
        preset=args.preset,
        sparsity=args.sparsity,
        seed=args.seed,
        validation_size=args.validation_size,
        limit=args.limit,
        callbacks=callbacks,
        verbose=args.verbose,
        data_dir=args.data_dir,
        checkpoint_dir=checkpoint,
        resume=state is not None,
        run={"arguments": _arguments(args)},
        devices=args.devices,
        mixed_precision=args.mixed_precision,
    )
    test_accuracy = _test_accuracy(model, args, record)
    record["test_accuracy"] = test_accuracy
    record["arguments"] = _arguments(args)

    write_atomically(output / "model.keras", model.save)
    write_atomically(output / "plain_model.keras", strip(model).save)
    write_atomically(
        output / "history.json",
        lambda path: Path(path).write_text(json.dumps(record, indent=2)),
    )
    write_atomically(
        output / PLOTS["history"], lambda path: plot_history(record, path)
    )
    write_atomically(
        output / PLOTS["sparsity"],
        lambda path: plot_sparsity(model, path, layer=_widest(model)),
    )
    # The run is safely written: its checkpoint has done its job.
    shutil.rmtree(checkpoint, ignore_errors=True)
    print()
    summary(model)
    print(final_summary(record, output))
    return 0


def final_summary(record, output):
    """Returns the lines a person reads at the end of a run.

    Args:
        record: dict from `keras_gnap.training.train`, with
            `test_accuracy` (float or None).
        output: the output folder.

    Returns:
        A str of lines at most 80 characters wide.
    """
    events = record["growth_events"]
    lines = [
        "",
        "GNAP run finished",
        f"  Validation accuracy  {record['validation_accuracy']:.2%} "
        "(held out from the training data)",
    ]
    if record.get("test_accuracy") is not None:
        lines.append(
            f"  Test accuracy        {record['test_accuracy']:.2%} "
            "(official test split)"
        )
    lines += [
        f"  Effective params     {record['effective_params']:,}",
        f"  Widest dense params  {record['widest_dense_params']:,}",
    ]
    if events:
        growths = ", ".join(f"epoch {e['epoch']}" for e in events)
        lines.append(f"  Growths              {len(events)}: {growths}")
    else:
        why = (record.get("stopped_growing") or {}).get("reason")
        lines.append(
            "  Growths              none" + (f" ({why})" if why else "")
        )
    lines += [
        f"  Epochs               {record['epochs']} in "
        f"{record['train_seconds'] / 60:.1f} min",
        f"  Model                {output / 'model.keras'}",
        f"  Plain Keras model    {output / 'plain_model.keras'}",
        f"  History              {output / 'history.json'}",
        f"  Plots                {output / PLOTS['history']}, "
        f"{PLOTS['sparsity']}",
        "  Export it with",
        f"    python -m keras_gnap export {output / 'model.keras'} \\",
        f"      --format tflite --output {output / 'model.tflite'}",
    ]
    return "\n".join(lines)


def _check_output(output, args):
    """Checks --output against --resume and --overwrite.

    Returns:
        The checkpoint state to resume from, or `None`.
    """
    from keras_gnap.callbacks.run_checkpoint import read_checkpoint

    if output.exists() and not output.is_dir():
        raise ValueError(
            f"--output must be a folder. Received: {str(output)!r}, a file"
        )
    state = read_checkpoint(output / CHECKPOINT)
    if args.resume:
        if state is None:
            raise ValueError(
                f"--resume: {str(output)!r} holds no unfinished run to go "
                "on with"
            )
        return state
    if state is not None and not args.overwrite:
        raise ValueError(
            f"--output {str(output)!r} holds an unfinished run (stopped "
            f"after epoch {state['epoch']} of {state['epochs']}): pass "
            "--resume to go on with it, or --overwrite to start again"
        )
    held = [name for name in OUTPUTS if (output / name).exists()]
    if held and not args.overwrite:
        raise ValueError(
            f"--output {str(output)!r} already holds a run "
            f"({', '.join(held)}): pass --overwrite to replace it, or "
            "choose another --output"
        )
    if state is not None:
        shutil.rmtree(output / CHECKPOINT)  # --overwrite: start again
    return None


def _arguments(args):
    return {k: v for k, v in vars(args).items() if k != "run"}


def _make_folder(output):
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"--output {str(output)!r} cannot be made: {error.strerror}"
        ) from None


def _widest(model):
    # The layer whose mask the sparsity plot shows: the one with most
    # kernel weights, where pruning matters most.
    from keras_gnap.reports.parameter_count import layer_counts

    layers = [c for c in layer_counts(model) if c.kernel_shape is not None]
    return max(layers, key=lambda c: c.weights).name if layers else None


def _check_tensorboard():
    try:
        import tensorboard  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        raise ValueError(
            "--tensorboard needs TensorFlow and TensorBoard: pip install "
            '"keras-gnap[tensorflow]"'
        ) from None


def _accuracy(model, dataset):
    metrics = model.evaluate(dataset, verbose=0, return_dict=True)
    return float(metrics["accuracy"])


def _test_accuracy(model, args, record):
    from keras_gnap.datasets import load

    try:
        test = load(
            args.dataset,
            split="test",
            batch_size=record["settings"]["batch_size"],
            data_dir=args.data_dir,
        )
    except ValueError:
        # The source has no official test split; validation stands alone.
        return None
    return _accuracy(model, test)


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
_positive_float = _number(float, 0, True, "a positive number")
_non_negative_float = _number(float, 0, False, "a non-negative number")


def _size(text):
    value = _non_negative_float(text)
    return int(value) if value >= 1 else value
