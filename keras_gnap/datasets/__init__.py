"""Image classification data ready for `fit`, with or without TensorFlow."""

from keras_gnap.datasets.array_sequence import ArraySequence
from keras_gnap.datasets.dataset_info import DatasetInfo
from keras_gnap.datasets.load import load

__all__ = ["ArraySequence", "DatasetInfo", "load"]
