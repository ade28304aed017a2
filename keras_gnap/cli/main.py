"""Entry point of `python -m keras_gnap`: one subcommand per job."""

import argparse
import sys

from keras_gnap.cli import export_command
from keras_gnap.cli import train_command

COMMANDS = (train_command, export_command)


def build_parser():
    """Returns the argument parser of `python -m keras_gnap`."""
    parser = argparse.ArgumentParser(
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
        return args.run(args)
    except (ValueError, TypeError, OSError) as error:
        # Bad input the library rejected, or data it could not download:
        # say why, without a traceback.
        parser.exit(2, f"{parser.prog} {args.command}: error: {error}\n")


if __name__ == "__main__":
    sys.exit(main())
