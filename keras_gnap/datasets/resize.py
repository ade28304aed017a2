"""Antialiased bilinear resizing of in-memory images."""

import functools

import numpy as np
from PIL import Image

from keras_gnap.datasets import tensorflow_support

# Images resized at a time.
_CHUNK = 4096


def resize_images(images, image_size):
    """Resizes a batch of images with an antialiased bilinear filter.

    With TensorFlow installed this is `tf.image.resize(...,
    antialias=True)`. Without it, the same triangle filter, with the
    weights Pillow's bilinear resize computes: the float results agree
    with TensorFlow's to rounding error, so uint8 results differ by at
    most 1, in few pixels (values that land on a .5).

    Args:
        images: uint8 or float32 array of shape `(N, H, W, C)`.
        image_size: tuple `(height, width)`. The new size.

    Returns:
        An array of shape `(N, height, width, C)` and the dtype of
        `images`; uint8 results are rounded, not truncated.
    """
    if tuple(images.shape[1:3]) == tuple(image_size):
        return images
    if tensorflow_support.tensorflow_available():
        resize = _resize_with_tensorflow
    else:
        resize = _resize_with_pillow
    uint8 = images.dtype == np.uint8
    resized = np.empty(
        (len(images),) + tuple(image_size) + images.shape[3:],
        dtype=np.uint8 if uint8 else np.float32,
    )
    # Chunks bound the float32 copy in memory.
    for start in range(0, len(images), _CHUNK):
        chunk = resize(images[start : start + _CHUNK], image_size)
        if uint8:
            chunk = np.clip(np.round(chunk), 0, 255)
        resized[start : start + _CHUNK] = chunk
    return resized


def _resize_with_tensorflow(images, image_size):
    import tensorflow as tf

    return tf.image.resize(images, image_size, antialias=True).numpy()


def _resize_with_pillow(images, image_size):
    # Resizing is linear and separable: one matrix per axis, applied to
    # all the images at once.
    rows = _pillow_weights(images.shape[1], image_size[0])
    columns = _pillow_weights(images.shape[2], image_size[1])
    images = images.astype(np.float32)
    resized = np.tensordot(rows, images, axes=(1, 1))  # (h, n, W, c)
    resized = np.tensordot(columns, resized, axes=(1, 2))  # (w, h, n, c)
    return resized.transpose(2, 1, 0, 3)


@functools.lru_cache(maxsize=16)
def _pillow_weights(size, new_size):
    """Pillow's bilinear weights from `size` pixels to `new_size` ones.

    Row `i` of the `(new_size, size)` matrix holds the weights of output
    pixel `i`: Pillow's resize of the identity matrix, one unit pixel per
    row, along that row.
    """
    identity = Image.fromarray(np.eye(size, dtype=np.float32), "F")
    resized = identity.resize((new_size, size), Image.Resampling.BILINEAR)
    return np.asarray(resized).T.copy()
