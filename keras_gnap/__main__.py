"""Runs the keras_gnap command line: `python -m keras_gnap --help`."""

import sys

from keras_gnap.cli.main import main

sys.exit(main())
