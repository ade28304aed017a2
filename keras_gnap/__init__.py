"""keras_gnap: Growing Networks with Autonomous Pruning for Keras 3."""

import sys

__version__ = "0.1.0"

# `python -m keras_gnap` imports this package before it runs the command
# line, with `sys.argv[0]` set to "-m" meanwhile (see `-m` in Python's
# documentation). Then nothing is imported here: the command line parses
# its arguments first, so that `--help` and mistakes are answered at once,
# quiets TensorFlow's start-up, and only then imports the package (see
# `keras_gnap.cli.main.load_package`).
if sys.argv[:1] != ["-m"]:
    from keras_gnap import data_parallel
    from keras_gnap import datasets
    from keras_gnap import layers
    from keras_gnap import recipes
    from keras_gnap import reports
    from keras_gnap import training
    from keras_gnap.callbacks.freeze_gates import FreezeGates
    from keras_gnap.callbacks.growth_callback import GrowthCallback
    from keras_gnap.export.compact import compact
    from keras_gnap.export.export_model import export
    from keras_gnap.export.strip import strip
    from keras_gnap.growth.grow import grow
    from keras_gnap.growth.growth_rule import plan_growth
    from keras_gnap.layers.gated_conv2d import GatedConv2D
    from keras_gnap.layers.gated_dense import GatedDense
    from keras_gnap.models.build_gnap import build_gnap
    from keras_gnap.models.gnap_model import GNAPModel
    from keras_gnap.reports.parameter_count import count_params
    from keras_gnap.reports.plots import plot_history
    from keras_gnap.reports.plots import plot_sparsity
    from keras_gnap.reports.summary import summary

__all__ = [
    "FreezeGates",
    "GNAPModel",
    "GatedConv2D",
    "GatedDense",
    "GrowthCallback",
    "build_gnap",
    "compact",
    "count_params",
    "data_parallel",
    "datasets",
    "export",
    "grow",
    "layers",
    "plan_growth",
    "plot_history",
    "plot_sparsity",
    "recipes",
    "reports",
    "strip",
    "summary",
    "training",
]
