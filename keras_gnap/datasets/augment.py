"""Batch-wise, seeded image augmentation, with TensorFlow ops or NumPy.

The TensorFlow versions run inside `tf.data` pipelines and import
TensorFlow when called, so that this module imports without it.
"""

import math

import numpy as np

# CIFAR-style augmentation: 4-pixel zero padding, then a random crop back
# to the original size (a shift of up to 4 pixels each way).
PADDING = 4


def wants_augmentation(input_shape):
    """Whether `augment=None` ("auto") augments images of this shape.

    Small color images (CIFAR-like, both sides at most 64 pixels) get
    random crops and flips; grayscale digit-like data does not, since
    flipping changes what a digit or letter means.

    Args:
        input_shape: tuple. `(height, width, channels)`.

    Returns:
        A bool.
    """
    height, width, channels = input_shape
    return channels == 3 and max(height, width) <= 64


def random_crop_and_flip(images, seed, padding=PADDING):
    """Pads, randomly crops and randomly flips a batch of images.

    Every image gets its own shift and flip. Stateless random ops make the
    result a function of `seed`, so a pipeline that passes a new seed per
    batch is reproducible.

    Args:
        images: float tensor of shape `(batch, height, width, channels)`.
        seed: int tensor of shape `(2,)`.
        padding: int. Largest shift in pixels, filled with zeros.
            Defaults to 4.

    Returns:
        A tensor of the same shape and dtype as `images`.
    """
    import tensorflow as tf

    shape = tf.shape(images)
    batch, height, width = shape[0], shape[1], shape[2]
    seeds = tf.random.experimental.stateless_split(seed, num=3)
    padded = tf.pad(
        images, [[0, 0], [padding, padding], [padding, padding], [0, 0]]
    )
    shifts = [
        tf.random.stateless_uniform(
            [batch, 1], seeds[i], maxval=2 * padding + 1, dtype=tf.int32
        )
        for i in range(2)
    ]
    flip = tf.random.stateless_uniform([batch, 1], seeds[2]) < 0.5
    # Cropping and flipping are two gathers of shifted (and, to flip,
    # reversed) row and column indices: a few vectorised ops per batch,
    # several times faster than per-image crops or a broadcast `tf.where`.
    rows = shifts[0] + tf.range(height)[None, :]
    columns = tf.range(width)[None, :]
    columns = shifts[1] + tf.where(flip, width - 1 - columns, columns)
    cropped = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(cropped, columns, axis=2, batch_dims=1)


def random_crop_and_flip_array(images, rng, padding=PADDING):
    """NumPy version of `random_crop_and_flip`, for data without TensorFlow.

    Every image gets its own shift and flip, drawn from `rng`; the same
    distribution as `random_crop_and_flip`, though not the same draws.

    Args:
        images: array of shape `(batch, height, width, channels)`.
        rng: a `numpy.random.Generator`.
        padding: int. Largest shift in pixels, filled with zeros.
            Defaults to 4.

    Returns:
        A new array of the same shape and dtype as `images`.
    """
    batch, height, width = images.shape[:3]
    padded = np.pad(
        images, [(0, 0), (padding, padding), (padding, padding), (0, 0)]
    )
    shifts = rng.integers(0, 2 * padding + 1, size=(2, batch, 1))
    flip = rng.random((batch, 1)) < 0.5
    # One fancy-indexing gather of shifted (and, to flip, reversed) rows
    # and columns, as the TensorFlow version does.
    rows = shifts[0] + np.arange(height)[None, :]
    columns = np.arange(width)[None, :]
    columns = shifts[1] + np.where(flip, width - 1 - columns, columns)
    index = np.arange(batch)[:, None, None]
    return padded[index, rows[:, :, None], columns[:, None, :]]


def random_rotate_and_zoom(images, seed, rotation, zoom):
    """Rotates and zooms every image of a batch by its own random amount.

    Each image turns about its centre by an angle drawn uniformly from
    `[-rotation, rotation]` degrees and is scaled by a factor drawn
    uniformly from `[1 - zoom, 1 + zoom]`, with bilinear interpolation and
    zeros where the source falls outside the image. Stateless random ops
    make the result a function of `seed`.

    Args:
        images: float tensor of shape `(batch, height, width, channels)`.
        seed: int tensor of shape `(2,)`.
        rotation: float. Largest angle in degrees, at least 0.
        zoom: float. Largest relative change of scale, in `[0, 1)`.

    Returns:
        A tensor of the same shape and dtype as `images`.

    Raises:
        ValueError: if `rotation` or `zoom` is out of range.
    """
    if not rotation >= 0:
        raise ValueError(
            "Argument `rotation` must be a number of degrees >= 0. "
            f"Received: rotation={rotation!r}"
        )
    if not 0 <= zoom < 1:
        raise ValueError(
            f"Argument `zoom` must be in [0, 1). Received: zoom={zoom!r}"
        )
    import tensorflow as tf

    shape = tf.shape(images)
    batch = shape[0]
    height = tf.cast(shape[1], tf.float32)
    width = tf.cast(shape[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, num=2)
    limit = math.radians(rotation)
    angle = tf.random.stateless_uniform(
        [batch], seeds[0], minval=-limit, maxval=limit
    )
    scale = tf.random.stateless_uniform(
        [batch], seeds[1], minval=1.0 - zoom, maxval=1.0 + zoom
    )
    # The transform maps each output pixel to the input pixel it samples:
    # the centre plus the offset turned by `angle` and shrunk by `scale`,
    # so that a scale above 1 enlarges the image.
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    zeros = tf.zeros_like(cos)
    transforms = tf.stack(
        [
            cos,
            -sin,
            cx - cos * cx + sin * cy,
            sin,
            cos,
            cy - sin * cx - cos * cy,
            zeros,
            zeros,
        ],
        axis=1,
    )
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=shape[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
