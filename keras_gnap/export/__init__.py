"""Exporting pruned networks: strip gates, compact, SavedModel and TFLite."""

from keras_gnap.export.compact import compact
from keras_gnap.export.export_model import export
from keras_gnap.export.export_report import ExportReport
from keras_gnap.export.strip import strip
from keras_gnap.export.tflite_runtime import custom_ops
from keras_gnap.export.tflite_runtime import measure_latency
from keras_gnap.export.tflite_runtime import tflite_predict

__all__ = [
    "ExportReport",
    "compact",
    "custom_ops",
    "export",
    "measure_latency",
    "strip",
    "tflite_predict",
]
