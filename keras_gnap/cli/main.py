"""Entry point of `python -m keras_gnap`: one subcommand per job."""

import argparse
import contextlib
import importlib
import importlib.util
import os
import sys

from keras_gnap.cli import export_command
from keras_gnap.cli import train_command

COMMANDS = (train_command, export_command)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, as the commands' own:
    `python -m keras_gnap train: error: ...`, without the usage."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    """Returns the argument parser of `python -m keras_gnap`."""
    parser = _Parser(
        prog="python -m keras_gnap",
        description="Growing Networks with Autonomous Pruning for Keras 3.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv=None):
    """Runs the command line with `argv` (defaults to `sys.argv[1:]`).

    Returns:
        The process exit code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        load_package(
            quiet=getattr(args, "verbose", 1) < 2,
            devices=getattr(args, "devices", 1),
        )
        return args.run(args)
    except (ValueError, TypeError, OSError) as error:
        # Bad input the library rejected, or data it could not download:
        # say why, without a traceback.
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")


def load_package(quiet=True, devices=1):
    """Imports keras_gnap whole, if `python -m keras_gnap` has not yet.

    Run as `python -m keras_gnap`, the package imports nothing at first
    (see `keras_gnap/__init__.py`), so that arguments are parsed before
    Keras and its backend load. This imports it, with what TensorFlow
    prints to the standard error as it starts (`oneDNN custom operations
    are on`, `Could not find cuda drivers`, ...) hidden when `quiet`.

    Args:
        quiet: bool. Whether to hide the backend's start-up messages.
        devices: int. Devices to make visible before the backend starts
            (see `keras_gnap.data_parallel.prepare_devices`).

    Raises:
        ValueError: if `devices` is above 1 on a backend without data
            parallelism.
    """
    import keras_gnap

    if hasattr(keras_gnap, "build_gnap"):
        keras_gnap.data_parallel.prepare_devices(devices)
        return
    silenced = _stderr_silenced() if quiet else contextlib.nullcontext()
    with silenced:
        importlib.reload(keras_gnap)
        import keras

        keras_gnap.data_parallel.prepare_devices(devices)

        # The backend looks for its devices at its first tensor, and says
        # so (`failed call to cuInit` on a machine without a GPU).
        keras.ops.zeros(())
        if importlib.util.find_spec("tensorflow") is not None:
            # On JAX and PyTorch too, tf.data feeds the data when there.
            import tensorflow

            tensorflow.zeros(())


@contextlib.contextmanager
def _stderr_silenced():
    # TensorFlow's C++ start-up logging bypasses Python and
    # TF_CPP_MIN_LOG_LEVEL: silence the file descriptor itself.
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


if __name__ == "__main__":
    sys.exit(main())
