"""Shared fixtures: seeding, and small real MNIST subsets when available."""

import gzip
from pathlib import Path

import keras
import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"


@pytest.fixture(autouse=True)
def seed_everything():
    keras.utils.set_random_seed(0)


def _read_idx(path, count):
    with gzip.open(path) as f:
        data = f.read()
    ndim = data[3]
    dims = [
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    ]
    array = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    return array.reshape(dims)[:count]


@pytest.fixture(scope="session")
def mnist_subset():
    """(x_train, y_train, x_val, y_val) from the shared MNIST training set.

    Train: the first 6,000 images; validation: the last 2,000 of the
    60,000 (inside the usual held-out 10,000), scaled to [0, 1].
    """
    images = MNIST_DIR / "train-images-idx3-ubyte.gz"
    labels = MNIST_DIR / "train-labels-idx1-ubyte.gz"
    if not (images.exists() and labels.exists()):
        pytest.skip(f"shared MNIST data not found in {MNIST_DIR}")
    x = _read_idx(images, None)[..., None].astype("float32") / 255.0
    y = _read_idx(labels, None).astype("int32")
    return x[:6000], y[:6000], x[-2000:], y[-2000:]
