"""Counting parameters and multiply-adds; tables and plots of pruning."""

from keras_gnap.reports.multiply_adds import count_multiply_adds
from keras_gnap.reports.parameter_count import count_params
from keras_gnap.reports.parameter_count import dense_params
from keras_gnap.reports.parameter_count import layer_counts
from keras_gnap.reports.parameter_count import live_units
from keras_gnap.reports.plots import plot_history
from keras_gnap.reports.plots import plot_sparsity
from keras_gnap.reports.summary import summary

__all__ = [
    "count_multiply_adds",
    "count_params",
    "dense_params",
    "layer_counts",
    "live_units",
    "plot_history",
    "plot_sparsity",
    "summary",
]
