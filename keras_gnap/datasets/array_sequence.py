"""`ArraySequence`: in-memory batches for `fit`, without TensorFlow."""

import math
import numbers

import keras
import numpy as np

from keras_gnap.datasets.augment import random_crop_and_flip_array


class ArraySequence(keras.utils.PyDataset):
    """Batches of in-memory images, what `load` returns without TensorFlow.

    Yields `(images, labels)` batches as `load`'s `tf.data` pipeline
    does: float32 images (uint8 ones scaled by 1/255) and int32 labels.
    The order of the examples, and the augmentation, are a function of
    `seed`, the epoch and the batch index only, so a run is reproducible
    whatever the Keras backend, and the same with several `workers`.

    Keras calls `on_epoch_end()` after every epoch, which starts the next
    one: a new order (if `shuffle`) and new augmentations (if `augment`).
    A `for` loop over the batches after the first starts a new epoch too,
    as it would over a `tf.data` pipeline. `fit` also shuffles the order of a
    `PyDataset`'s batches unless it gets `shuffle=False`; that order
    follows Python's `random` (seeded by `keras.utils.set_random_seed`).

    Args:
        images: uint8 or float32 array of shape `(N, H, W, C)`.
        labels: int array of shape `(N,)`.
        batch_size: int. Examples per batch; the last batch may be
            smaller.
        shuffle: bool. Whether to reshuffle the examples every epoch.
            Defaults to `False`.
        augment: bool. Whether to apply random crops of the zero-padded
            image and random horizontal flips, as `load` does. Defaults
            to `False`.
        seed: int or None. Seed of the shuffling and augmentation.
            Defaults to 0; `None` draws one at random.
        **kwargs: `workers`, `use_multiprocessing` and `max_queue_size`,
            passed to `keras.utils.PyDataset`.

    Attributes:
        images: the `images` array, in its stored order, not scaled.
        labels: the labels as an int32 array, in the same order.

    Raises:
        ValueError: if `images` and `labels` differ in length, or
            `batch_size` is not a positive integer.

    Example:

    >>> train = ArraySequence(x_train, y_train, 128, shuffle=True)
    >>> model.fit(train, epochs=5)
    """

    def __init__(
        self,
        images,
        labels,
        batch_size,
        *,
        shuffle=False,
        augment=False,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if len(images) != len(labels):
            raise ValueError(
                "Arguments `images` and `labels` must have the same length. "
                f"Received: {len(images)} images and {len(labels)} labels"
            )
        if isinstance(batch_size, bool) or not (
            isinstance(batch_size, numbers.Integral) and batch_size > 0
        ):
            raise ValueError(
                "Argument `batch_size` must be a positive integer. "
                f"Received: batch_size={batch_size!r}"
            )
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int32)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.augment = augment
        if seed is None:
            seed = np.random.SeedSequence().entropy
        # SeedSequence takes non-negative integers only.
        self._seed = int(seed) % 2**64
        self._epoch = 0
        self._used = False
        self._order = self._epoch_order()

    def __len__(self):
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(
                f"Batch index out of range [0, {len(self)}). "
                f"Received: index={index}"
            )
        self._used = True
        batch = self._order[
            index * self.batch_size : (index + 1) * self.batch_size
        ]
        images = self.images[batch]
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / np.float32(255.0)
        else:
            images = images.astype(np.float32)
        if self.augment:
            rng = np.random.default_rng([self._seed, self._epoch, 1, index])
            images = random_crop_and_flip_array(images, rng)
        return images, self.labels[batch]

    def __iter__(self):
        # Keras indexes the batches itself and calls `on_epoch_end`; a
        # plain loop starts a new epoch on every pass instead.
        if self._used:
            self.on_epoch_end()
        for index in range(len(self)):
            yield self[index]

    def on_epoch_end(self):
        """Starts the next epoch: a new order and new augmentations."""
        self._epoch += 1
        self._used = False
        self._order = self._epoch_order()

    def _epoch_order(self):
        if not self.shuffle:
            return np.arange(len(self.labels))
        rng = np.random.default_rng([self._seed, self._epoch, 0])
        return rng.permutation(len(self.labels))
