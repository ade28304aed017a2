"""Checking NumPy image and label arrays before they enter a pipeline."""

import numpy as np

from keras_gnap.datasets.messages import describe_source


def standardize_images(images, source):
    """Returns `images` as a `(N, H, W, C)` uint8 or float32 array.

    uint8 stays uint8 (the pipeline scales it by 1/255 per batch, which
    keeps the in-memory copy 4x smaller than float32); floats become
    float32 and are taken to be in [0, 1] already.

    Args:
        images: array-like of shape `(N, H, W)` or `(N, H, W, C)`.
        source: the `source` argument of `load`, for error messages.

    Returns:
        A NumPy array with a channel axis.

    Raises:
        ValueError: on another rank or dtype, no images, or NaN or Inf
            in float images.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4:
        raise ValueError(
            "Images must have shape (N, H, W) or (N, H, W, C). "
            f"Received: {describe_source(source)}"
        )
    if len(images) == 0:
        raise ValueError(
            f"There are no images. Received: {describe_source(source)}"
        )
    if images.dtype == np.uint8:
        return images
    if np.issubdtype(images.dtype, np.floating):
        finite = np.isfinite(images).reshape(len(images), -1).all(axis=1)
        if not finite.all():
            raise ValueError(
                "Images must be finite numbers: image "
                f"{int(np.argmin(finite))} holds NaN or Inf "
                f"({int((~finite).sum())} such images). "
                f"Received: {describe_source(source)}"
            )
        return images.astype(np.float32, copy=False)
    raise ValueError(
        "Images must be uint8 (0 to 255) or float (0 to 1). "
        f"Received: {describe_source(source)}"
    )


def standardize_labels(labels, num_images, source):
    """Returns `labels` as a 1D int32 array of class indices.

    Args:
        labels: array-like of shape `(N,)` or `(N, 1)`, integer valued.
        num_images: int. Number of images the labels belong to.
        source: the `source` argument of `load`, for error messages.

    Returns:
        A 1D int32 NumPy array.

    Raises:
        ValueError: on a count different from `num_images`, another shape,
            NaN or Inf, non-integer values or negative labels.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            "Labels must be class indices of shape (N,) or (N, 1), not "
            f"one-hot vectors. Received: {describe_source(source)}"
        )
    if len(labels) != num_images:
        raise ValueError(
            f"Image and label counts differ: {num_images} images but "
            f"{len(labels)} labels. Received: {describe_source(source)}"
        )
    if np.issubdtype(labels.dtype, np.floating) and not (
        np.isfinite(labels).all()
    ):
        index = int(np.argmin(np.isfinite(labels)))
        raise ValueError(
            f"Labels must be finite class indices: label {index} is "
            f"{labels[index]}. Received: {describe_source(source)}"
        )
    if not np.issubdtype(labels.dtype, np.integer) and not (
        np.issubdtype(labels.dtype, np.floating)
        and np.all(np.mod(labels, 1) == 0)
    ):
        raise ValueError(
            "Labels must be integer class indices. "
            f"Received: {describe_source(source)}"
        )
    if labels.min() < 0:
        raise ValueError(
            f"Labels must be class indices in [0, classes); found label "
            f"{labels.min()}. Received: {describe_source(source)}"
        )
    return labels.astype(np.int32)


def check_label_range(labels, classes, source):
    """Raises a ValueError if a label is outside `[0, classes)`.

    Args:
        labels: 1D integer array.
        classes: int. Number of classes.
        source: the `source` argument of `load`, for error messages.

    Raises:
        ValueError: naming the first label out of range.
    """
    bad = labels[(labels < 0) | (labels >= classes)]
    if bad.size:
        raise ValueError(
            f"Labels must be class indices in [0, {classes}), the classes "
            f"of the training data; found label {bad[0]}. "
            f"Received: {describe_source(source)}"
        )
