"""Images for int8 calibration, from arrays, datasets or files."""

import math
import os
import pathlib
import sys

import numpy as np

# Enough images for stable activation ranges; calibration time grows
# linearly with it.
CALIBRATION_IMAGES = 500
LOAD_BATCH_SIZE = 128


def calibration_images(data, image_shape, limit=CALIBRATION_IMAGES):
    """Returns up to `limit` images from `data` as one float32 array.

    Args:
        data: a `tf.data.Dataset` (of images, of `(images, labels)` pairs,
            batched or not) or an array of images (or of one image).
        image_shape: tuple. Shape of one image as the model takes it,
            `None` where any size goes.
        limit: int. Most images to return. Defaults to 500.

    Returns:
        A float32 NumPy array of shape `(n, *image_shape)`, n >= 1.

    Raises:
        ValueError: if `data` is of another type, empty, or holds images
            of another shape.
    """
    image_shape = tuple(image_shape)
    if _is_tf_dataset(data):
        chunks, count = [], 0
        for element in data:
            if isinstance(element, (tuple, list)):
                element = element[0]
            chunk = _as_batch(np.asarray(element), image_shape)
            chunks.append(chunk[: limit - count])
            count += len(chunks[-1])
            if count >= limit:
                break
        images = (
            np.concatenate(chunks) if chunks else np.zeros((0, *image_shape))
        )
    elif isinstance(data, (np.ndarray, list, tuple)) or hasattr(
        data, "__array__"
    ):
        images = _as_batch(np.asarray(data), image_shape)[:limit]
    else:
        raise ValueError(
            "Argument `representative_data` must be a tf.data.Dataset or "
            "an array of images. Received: representative_data of type "
            f"{type(data).__name__}"
        )
    if len(images) == 0:
        raise ValueError(
            "Argument `representative_data` holds no image. Received: "
            "representative_data with 0 images"
        )
    return images.astype(np.float32)


def _is_tf_dataset(data):
    # Only an imported TensorFlow can have made one; TensorFlow is not
    # imported for arrays.
    if "tensorflow" not in sys.modules:
        return False
    import tensorflow as tf

    return isinstance(data, tf.data.Dataset)


def _as_batch(array, image_shape):
    if array.ndim == len(image_shape):
        array = array[None]
    matches = array.ndim == len(image_shape) + 1 and all(
        want is None or want == got
        for want, got in zip(image_shape, array.shape[1:], strict=True)
    )
    if not matches:
        raise ValueError(
            f"Argument `representative_data` must hold images of shape "
            f"{image_shape}. Received: representative_data with shape "
            f"{array.shape}"
        )
    return array


def load_images(source, limit=CALIBRATION_IMAGES):
    """Loads about `limit` calibration images from a file or a dataset.

    A `.npy` file holds images as the model takes them. Any other path
    goes through `keras_gnap.datasets.load` (training split): an IDX
    directory such as MNIST's, an image folder or an archive of one.

    Args:
        source: str or path. A `.npy` file or a dataset path.
        limit: int. Most images to use. Defaults to 500.

    Returns:
        A float32 NumPy array of images, or a `tf.data.Dataset` of
        `(images, labels)` batches (enough batches for `limit` images).

    Raises:
        ValueError: if `source` does not exist or cannot be loaded.
    """
    path = pathlib.Path(source)
    if path.is_file() and path.suffix == ".npy":
        return np.load(path)[:limit].astype(np.float32)
    if not path.exists():
        raise ValueError(
            "Representative data must be a dataset directory, archive or "
            f"a .npy file of images. Received: source={str(source)!r}"
        )
    # Imported here: only the command line needs the data pipeline.
    from keras_gnap.datasets import load
    from keras_gnap.datasets.tensorflow_support import require_tensorflow

    # Without TensorFlow, `load` gives no `tf.data` pipeline, and the
    # export these images are for is impossible anyway.
    require_tensorflow("Calibrating an int8 TFLite export")

    batches = math.ceil(limit / LOAD_BATCH_SIZE)
    dataset = load(os.fspath(path), split="train", batch_size=LOAD_BATCH_SIZE)
    return dataset.take(batches)
