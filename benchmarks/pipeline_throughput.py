"""Training speed with `keras_gnap.datasets.load` vs in-memory tensors.

Trains the same small CNN (batch 128) on MNIST-shaped and CIFAR-10-shaped
data, once fed by `keras_gnap.datasets.load(...)` and once from batches
already materialised in memory, and prints training steps per second and
their ratio (target: >= 0.9). Uses the real data in `--data-dir` when
present, else generated arrays of the same shape and size.

Usage:

    python benchmarks/pipeline_throughput.py --steps 100
"""

import argparse
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_gnap.datasets import load

BATCH_SIZE = 128
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def small_cnn(input_shape, classes):
    """A plain Keras CNN of three conv layers."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of each epoch."""

    def on_train_begin(self, logs=None):
        self.durations = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.durations.append(time.perf_counter() - self._start)


def steps_per_second(dataset, info, steps):
    """Steps per second of the second epoch (the first one compiles)."""
    keras.utils.set_random_seed(0)
    model = small_cnn(info.input_shape, info.classes)
    model.compile("adam", "sparse_categorical_crossentropy")
    timer = EpochTimer()
    model.fit(
        dataset.repeat(),
        epochs=2,
        steps_per_epoch=steps,
        callbacks=[timer],
        verbose=0,
        shuffle=False,  # The datasets shuffle themselves.
    )
    return steps / timer.durations[-1]


def in_memory(source, **kwargs):
    """The same training split, as cached float32 batches in memory."""
    plain, info = load(
        source, shuffle=False, augment=False, with_info=True, **kwargs
    )
    x = np.concatenate([images.numpy() for images, _ in plain])
    y = np.concatenate([labels.numpy() for _, labels in plain])
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH_SIZE)
    dataset = dataset.cache()
    for _ in dataset:  # Materialise the cache before timing.
        pass
    return dataset.prefetch(tf.data.AUTOTUNE), info


def sources(data_dir):
    """`(name, source)` pairs: the real data if present, else arrays."""
    rng = np.random.default_rng(0)
    mnist = data_dir / "mnist"
    if (mnist / "train-images-idx3-ubyte.gz").exists():
        yield "mnist", mnist
    else:
        yield (
            "mnist (generated)",
            (
                rng.integers(0, 256, (60_000, 28, 28), dtype=np.uint8),
                rng.integers(0, 10, 60_000),
            ),
        )
    cifar10 = data_dir / "cifar10" / "cifar10-train-jpg.tar.gz"
    if cifar10.exists():
        yield "cifar10", cifar10
    else:
        yield (
            "cifar10 (generated)",
            (
                rng.integers(0, 256, (50_000, 32, 32, 3), dtype=np.uint8),
                rng.integers(0, 10, 50_000),
            ),
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--steps", type=int, default=100, help="Timed steps per run."
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="Folder with mnist/ and cifar10/ (default: ../shared/data).",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="Where archives are extracted (default: ~/.keras/keras_gnap).",
    )
    parser.add_argument(
        "--trials", type=int, default=3, help="Runs per feed; best shown."
    )
    args = parser.parse_args()

    print(f"{'data':<22}{'feed':<32}{'steps/s':>9}{'ratio':>8}")
    for name, source in sources(args.data_dir):
        options = {"batch_size": BATCH_SIZE, "cache_dir": args.cache_dir}
        baseline, info = in_memory(source, **options)
        feeds = {"in-memory tensors": baseline}
        if info.input_shape[-1] == 3:
            feeds["load() (augments by default)"] = load(source, **options)
            feeds["load(augment=False)"] = load(
                source, augment=False, **options
            )
        else:
            feeds["load()"] = load(source, **options)
        # Interleave the feeds so that background load on the machine
        # affects them alike.
        rates = {feed: [] for feed in feeds}
        for _ in range(args.trials):
            for feed, dataset in feeds.items():
                rates[feed].append(steps_per_second(dataset, info, args.steps))
        # Best of the trials, as `timeit` advises: slower runs measure
        # other load on the machine, not the feed.
        reference = max(rates["in-memory tensors"])
        for feed in feeds:
            rate = max(rates[feed])
            print(f"{name:<22}{feed:<32}{rate:>9.1f}{rate / reference:>8.2f}")


if __name__ == "__main__":
    main()
