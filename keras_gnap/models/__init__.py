"""The GNAP model container and its starting networks."""

from keras_gnap.models.build_gnap import build_gnap
from keras_gnap.models.gnap_model import GNAPModel

__all__ = ["GNAPModel", "build_gnap"]
