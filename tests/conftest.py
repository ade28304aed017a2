"""Shared fixtures: seeding, and small real MNIST subsets when available."""

from pathlib import Path

import keras
import pytest

from keras_gnap.datasets.idx import read_idx_split

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"


@pytest.fixture(autouse=True)
def seed_everything():
    keras.utils.set_random_seed(0)


@pytest.fixture(scope="session")
def mnist_subset():
    """(x_train, y_train, x_val, y_val) from the shared MNIST training set.

    Train: the first 6,000 images; validation: the last 2,000 of the
    60,000 (inside the usual held-out 10,000), scaled to [0, 1].
    """
    if not MNIST_DIR.exists():
        pytest.skip(f"shared MNIST data not found in {MNIST_DIR}")
    images, labels = read_idx_split(MNIST_DIR, "train", str(MNIST_DIR))
    x = images[..., None].astype("float32") / 255.0
    y = labels.astype("int32")
    return x[:6000], y[:6000], x[-2000:], y[-2000:]
