"""Image classification data as `tf.data` pipelines ready for `fit`."""

from keras_gnap.datasets.dataset_info import DatasetInfo
from keras_gnap.datasets.load import load

__all__ = ["DatasetInfo", "load"]
