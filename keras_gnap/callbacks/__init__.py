"""Callbacks that drive GNAP's policy over the epochs of `fit`."""

from keras_gnap.callbacks.freeze_gates import FreezeGates
from keras_gnap.callbacks.growth_callback import GrowthCallback
from keras_gnap.callbacks.progress_logger import ProgressLogger
from keras_gnap.callbacks.run_checkpoint import RunCheckpoint
from keras_gnap.callbacks.tensorboard_logger import TensorBoardLogger

__all__ = [
    "FreezeGates",
    "GrowthCallback",
    "ProgressLogger",
    "RunCheckpoint",
    "TensorBoardLogger",
]
