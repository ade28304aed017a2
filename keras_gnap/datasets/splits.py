"""Which training examples are held out for validation."""

import numbers

import numpy as np

SPLITS = ("train", "validation", "test")

# MNIST holds out 10,000 of 60,000 images (1/6) by convention, CIFAR-10
# 5,000 of 50,000 (1/10); the image size tells the two families apart.
MNIST_LIKE_FRACTION = 1 / 6
DEFAULT_FRACTION = 1 / 10


def check_split(split):
    """Raises a ValueError unless `split` is a known split name."""
    if split not in SPLITS:
        raise ValueError(
            f"Argument `split` must be one of {SPLITS}. "
            f"Received: split={split!r}"
        )


def check_validation_size(validation_size):
    """Raises a ValueError unless `validation_size` has a usable type."""
    if validation_size is None:
        return
    if isinstance(validation_size, bool) or not isinstance(
        validation_size, numbers.Real
    ):
        raise ValueError(
            "Argument `validation_size` must be None, an int count or a "
            "float fraction in [0, 1). "
            f"Received: validation_size={validation_size!r}"
        )
    if isinstance(validation_size, numbers.Integral):
        if validation_size < 0:
            raise ValueError(
                "Argument `validation_size` must not be negative. "
                f"Received: validation_size={validation_size!r}"
            )
    elif not 0 <= validation_size < 1:
        raise ValueError(
            "A float `validation_size` is a fraction and must be in [0, 1). "
            f"Received: validation_size={validation_size!r}"
        )


def validation_count(validation_size, num_train, image_shape):
    """Number of training examples held out for validation.

    Args:
        validation_size: int, float or None. Count, fraction, or `None` for
            the default: 1/6 of the training data for 28x28 images, 1/10
            otherwise.
        num_train: int. Number of examples in the full training data.
        image_shape: tuple. `(height, width, channels)` of one image.

    Returns:
        An int in `[0, num_train)`.

    Raises:
        ValueError: if the count leaves no training example.
    """
    if validation_size is None:
        square_28 = tuple(image_shape[:2]) == (28, 28)
        fraction = MNIST_LIKE_FRACTION if square_28 else DEFAULT_FRACTION
        count = round(num_train * fraction)
    elif isinstance(validation_size, numbers.Integral):
        count = int(validation_size)
    else:
        # A positive fraction always holds out at least one example.
        count = round(num_train * validation_size)
        if validation_size > 0:
            count = max(count, 1)
    if count >= num_train:
        raise ValueError(
            f"Argument `validation_size` leaves no training examples: it "
            f"holds out {count} of the {num_train} training examples. "
            f"Received: validation_size={validation_size!r}"
        )
    return count


def holdout_range(split, num_train, count, validation_size):
    """Index range `(start, stop)` of `split` in the ordered training data.

    The validation split is the last `count` examples, the train split
    everything before it, so the two never overlap.

    Args:
        split: str. `"train"` or `"validation"`.
        num_train: int. Number of examples in the full training data.
        count: int. Result of `validation_count`.
        validation_size: the user's argument, for error messages.

    Returns:
        A `(start, stop)` tuple of ints.

    Raises:
        ValueError: if `split` is `"validation"` and `count` is 0.
    """
    if split == "validation":
        if count == 0:
            raise ValueError(
                "There is no validation split when `validation_size` is 0. "
                "Pass a positive `validation_size` or use split='train'. "
                f"Received: validation_size={validation_size!r}"
            )
        return num_train - count, num_train
    return 0, num_train - count


def interleave_classes(labels):
    """Order that spreads every class evenly from start to end.

    Example `k` of the `n_c` examples of class `c` goes to relative position
    `(k + 0.5) / n_c`, so any tail of the order (the validation split) holds
    each class in proportion to its size. Ties are broken by class, which
    makes the order depend only on the labels and the order within each
    class (sorted file names for image folders), never on the file system.

    Args:
        labels: 1D integer array, in a deterministic order.

    Returns:
        An int64 array of indices into `labels`.
    """
    labels = np.asarray(labels)
    positions = np.empty(len(labels), dtype=np.float64)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        positions[members] = (np.arange(len(members)) + 0.5) / len(members)
    return np.lexsort((labels, positions)).astype(np.int64)
