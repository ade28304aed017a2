"""Random shifts, flips, turns and zooms that compile with the model."""

import math
import numbers

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_gnap")
class RandomAugmentation(keras.layers.Layer):
    """Randomly turns, zooms, shifts and flips images while training.

    Every image of a batch gets its own random transform, in this order:
    a turn about the centre and a zoom (bilinear interpolation, zeros
    where the source falls outside the image), then a shift of up to
    `padding` pixels each way (zero padding and a random crop back to the
    original size), then a horizontal flip. These are the semantics of
    `keras_gnap.datasets.augment` (TensorFlow, in the input pipeline),
    written with `keras.ops` only, so the layer runs inside the compiled
    train step on every backend and device. Keras's `RandomTranslation`,
    `RandomRotation`, `RandomZoom` and `RandomCrop` declare no XLA
    support, so a model holding one of them loses `jit_compile=True` (on
    JAX, its whole train step runs uncompiled); this layer keeps it.

    The layer augments only when called with `training=True` (as in
    `fit`); otherwise, and when every option is off, it returns its input
    unchanged.

    On torch, `keras.random` runs outside the compiled graph (as in
    Keras's `GaussianNoise`), so torch.compile splits the train step and,
    in Keras 3.15 with torch 2.13, fails to recompile it for a partial
    last batch: train on whole batches.

    Args:
        padding: int. Largest shift in pixels, each way, filled with
            zeros. Defaults to `0` (no shift).
        flip: bool. Whether to flip half the images (each with
            probability 0.5) left to right. Defaults to `False`.
        rotation: float. Largest turn in degrees: each image turns by an
            angle drawn uniformly from `[-rotation, rotation]`. Defaults to
            `0.0` (no turn).
        zoom: float in `[0, 1)`. Largest relative change of scale: each
            image is scaled by a factor drawn uniformly from
            `[1 - zoom, 1 + zoom]`, a factor above 1 enlarging it.
            Defaults to `0.0` (no zoom).
        seed: int. Seed of the layer's random stream, for reproducible
            augmentation. Defaults to `None` (a random seed).
        **kwargs: base layer keyword arguments, such as `name`.

    Input shape:
        4D tensor with shape `(batch_size, height, width, channels)`
        (channels last), with known `height` and `width`.

    Output shape:
        Same shape and dtype as the input.

    Example:

    >>> layer = RandomAugmentation(padding=4, flip=True, seed=0)
    >>> images = np.random.rand(8, 32, 32, 3).astype("float32")
    >>> tuple(layer(images, training=True).shape)
    (8, 32, 32, 3)
    >>> outputs = keras.ops.convert_to_numpy(layer(images))  # Not training.
    >>> bool(np.array_equal(outputs, images))
    True

    In a model, first, so that it augments in `fit` and is skipped in
    `evaluate` and `predict`:

    >>> model = keras.Sequential(
    ...     [
    ...         keras.Input((28, 28, 1)),
    ...         RandomAugmentation(padding=2, rotation=10, zoom=0.1),
    ...         keras.layers.Flatten(),
    ...         keras.layers.Dense(10, activation="softmax"),
    ...     ]
    ... )
    """

    def __init__(
        self,
        padding=0,
        flip=False,
        rotation=0.0,
        zoom=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (
            not isinstance(padding, numbers.Integral)
            or isinstance(padding, bool)
            or padding < 0
        ):
            raise ValueError(
                "Argument `padding` must be an integer >= 0. "
                f"Received: padding={padding!r}"
            )
        if not isinstance(flip, bool):
            raise ValueError(
                f"Argument `flip` must be a bool. Received: flip={flip!r}"
            )
        if (
            not isinstance(rotation, numbers.Real)
            or isinstance(rotation, bool)
            or not 0 <= rotation < math.inf
        ):
            raise ValueError(
                "Argument `rotation` must be a number of degrees >= 0. "
                f"Received: rotation={rotation!r}"
            )
        if (
            not isinstance(zoom, numbers.Real)
            or isinstance(zoom, bool)
            or not 0 <= zoom < 1
        ):
            raise ValueError(
                f"Argument `zoom` must be in [0, 1). Received: zoom={zoom!r}"
            )
        if seed is not None and (
            not isinstance(seed, int) or isinstance(seed, bool)
        ):
            raise ValueError(
                "Argument `seed` must be an integer or None. "
                f"Received: seed={seed!r}"
            )
        self.padding = int(padding)
        self.flip = flip
        self.rotation = float(rotation)
        self.zoom = float(zoom)
        self.seed = seed
        # Created here, not in `build()`: its state is a layer variable
        # from the start, threaded through stateless (JAX) train steps.
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if len(input_shape) != 4 or None in input_shape[1:3]:
            raise ValueError(
                f"Layer {self.name} expects images of shape "
                "(batch_size, height, width, channels) with known height "
                f"and width. Received: input_shape={input_shape}"
            )

    def call(self, images, training=None):
        if not training:
            return images
        if not (self.padding or self.flip or self.rotation or self.zoom):
            return images
        # One draw for everything: on torch each draw breaks the compiled
        # graph (Keras seeds a `torch.Generator` outside it).
        draws = keras.random.uniform(
            (ops.shape(images)[0], 5), seed=self.seed_generator
        )
        if self.rotation or self.zoom:
            limit = math.radians(self.rotation)
            angle = (2 * draws[:, 0] - 1) * limit if self.rotation else None
            scale = 1 + (2 * draws[:, 1] - 1) * self.zoom if self.zoom else None
            images = _turn_and_zoom(images, angle, scale)
        if self.padding or self.flip:
            flipped = draws[:, 2] < 0.5 if self.flip else None
            shifts = None
            if self.padding:
                choices = 2 * self.padding + 1
                shifts = ops.floor(draws[:, 3:] * choices)
                shifts = ops.cast(ops.minimum(shifts, choices - 1), "int32")
                shifts = shifts - self.padding
            images = _shift_and_flip(images, shifts, flipped, self.padding)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = {
            "padding": self.padding,
            "flip": self.flip,
            "rotation": self.rotation,
            "zoom": self.zoom,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}


def _turn_and_zoom(images, angle=None, scale=None):
    """Turns and zooms each image about its centre, bilinearly.

    Args:
        images: tensor of shape `(batch, height, width, channels)`.
        angle: float tensor of shape `(batch,)`. Turns in radians, or
            `None` for none.
        scale: float tensor of shape `(batch,)`. Scale factors, above 1 to
            enlarge, or `None` for none.

    Returns:
        A tensor of the same shape and dtype as `images`, zero where the
        source falls outside the image.
    """
    images = ops.convert_to_tensor(images)
    dtype = keras.backend.standardize_dtype(images.dtype)
    if "float" not in dtype:
        images = ops.cast(images, "float32")
    batch = ops.shape(images)[0]
    height, width, channels = images.shape[1:]
    # Each output pixel samples the input at its offset from the centre,
    # turned by `angle` and shrunk by `scale` (so that a scale above 1
    # enlarges the image). This is the transform `keras.ops.image.
    # affine_transform` would apply, but XLA cannot compile its TensorFlow
    # kernel and its torch version loops over the images. Coordinates are
    # float32 whatever the image dtype: float16 is too coarse for them.
    cos = sin = None
    if angle is not None:
        angle = ops.convert_to_tensor(angle, "float32")
        cos, sin = ops.cos(angle), ops.sin(angle)
    if scale is not None:
        scale = ops.convert_to_tensor(scale, "float32")
        cos = 1.0 / scale if cos is None else cos / scale
        sin = None if sin is None else sin / scale
    cx, cy = (width - 1) / 2, (height - 1) / 2
    xs = ops.arange(width, dtype="float32")[None, None, :] - cx
    ys = ops.arange(height, dtype="float32")[None, :, None] - cy
    cos = cos[:, None, None]
    x = cos * xs + cx
    y = cos * ys + cy
    if sin is not None:
        sin = sin[:, None, None]
        x = x - sin * ys
        y = y + sin * xs

    # Bilinear interpolation by four gathers from the batch padded with a
    # ring of zeros: clipping the corners into that ring makes every
    # corner outside the image read 0.
    x0, y0 = ops.floor(x), ops.floor(y)
    wx = ops.cast(x - x0, images.dtype)[..., None]
    wy = ops.cast(y - y0, images.dtype)[..., None]
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    pixels = ops.reshape(
        ops.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]]), (-1, channels)
    )
    starts = ops.arange(batch, dtype="int32")[:, None, None]
    starts = starts * ((height + 2) * (width + 2))

    def corner(rows, columns):
        rows = ops.clip(rows, -1, height) + 1
        columns = ops.clip(columns, -1, width) + 1
        return ops.take(pixels, starts + rows * (width + 2) + columns, 0)

    top = (1 - wx) * corner(y0, x0) + wx * corner(y0, x0 + 1)
    bottom = (1 - wx) * corner(y0 + 1, x0) + wx * corner(y0 + 1, x0 + 1)
    images = (1 - wy) * top + wy * bottom
    if "float" not in dtype:
        images = ops.cast(ops.round(images), dtype)
    return images


def _shift_and_flip(images, shifts=None, flipped=None, padding=0):
    """Shifts each image with zeros coming in, then flips it.

    Args:
        images: tensor of shape `(batch, height, width, channels)`.
        shifts: int tensor of shape `(batch, 2)`. Offsets `(rows,
            columns)` in `[-padding, padding]`: output pixel `(i, j)` is
            input pixel `(i + rows, j + columns)` before the flip, or
            `None` for none.
        flipped: bool tensor of shape `(batch,)`. Which images to flip
            left to right, or `None` for none.
        padding: int. Largest shift.

    Returns:
        A tensor of the same shape and dtype as `images`.
    """
    images = ops.convert_to_tensor(images)
    batch = ops.shape(images)[0]
    height, width, channels = images.shape[1:]
    # One gather of shifted (and, to flip, reversed) rows and columns of
    # the zero-padded batch: a few vectorised ops, no per-image slicing.
    rows = ops.arange(height, dtype="int32")[None, :]
    columns = ops.arange(width, dtype="int32")[None, :]
    if flipped is not None:
        columns = ops.where(flipped[:, None], width - 1 - columns, columns)
    if shifts is not None:
        rows = rows + shifts[:, :1]
        columns = columns + shifts[:, 1:]
    if padding:
        images = ops.pad(
            images, [[0, 0], [padding, padding], [padding, padding], [0, 0]]
        )
    padded_height, padded_width = height + 2 * padding, width + 2 * padding
    starts = ops.arange(batch, dtype="int32")[:, None, None]
    indices = (
        starts * (padded_height * padded_width)
        + (rows[:, :, None] + padding) * padded_width
        + (columns[:, None, :] + padding)
    )
    return ops.take(ops.reshape(images, (-1, channels)), indices, 0)
