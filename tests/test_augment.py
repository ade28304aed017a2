"""Tests of the seeded rotate-and-zoom augmentation."""

import numpy as np
import pytest
import tensorflow as tf

from keras_gnap.datasets.augment import random_rotate_and_zoom


def _bars(batch=4, size=28):
    """A batch of images, each a vertical bar through the centre."""
    images = np.zeros((batch, size, size, 1), np.float32)
    images[:, 4 : size - 4, size // 2 - 1 : size // 2 + 1, 0] = 1.0
    return tf.constant(images)


def _column_spread(image):
    """Standard deviation of the columns of an image's bright pixels."""
    _, columns = np.nonzero(image[..., 0] > 0.5)
    return columns.std()


def test_no_rotation_and_no_zoom_is_the_identity():
    images = _bars()
    result = random_rotate_and_zoom(images, tf.constant([3, 4]), 0.0, 0.0)
    np.testing.assert_array_equal(result.numpy(), images.numpy())


def test_rotation_turns_each_image_by_its_own_angle():
    images = _bars(batch=8)
    result = random_rotate_and_zoom(
        images, tf.constant([1, 2]), 45.0, 0.0
    ).numpy()
    spreads = [_column_spread(image) for image in result]
    # An upright bar two pixels wide spreads over two columns; a turned one
    # over more, and by a different amount for each angle.
    assert min(spreads) >= _column_spread(images[0].numpy())
    assert max(spreads) > 2.0
    assert len({round(s, 3) for s in spreads}) > 1
    # A turn about the centre keeps the ink about where it was.
    np.testing.assert_allclose(
        result.sum(axis=(1, 2, 3)), images.numpy().sum(axis=(1, 2, 3)), rtol=0.2
    )


def test_zoom_scales_the_ink_within_its_range():
    images = _bars(batch=16)
    result = random_rotate_and_zoom(images, tf.constant([5, 6]), 0.0, 0.2)
    ratio = result.numpy().sum(axis=(1, 2, 3)) / images.numpy().sum(
        axis=(1, 2, 3)
    )
    # The bar's length and width scale together: ink by the square of the
    # factor, which is in [0.8, 1.2] (a little more for interpolation).
    assert ratio.min() >= 0.8**2 - 0.05
    assert ratio.max() <= 1.2**2 + 0.05
    assert ratio.max() - ratio.min() > 0.1


def test_same_seed_same_result_and_other_seed_other_result():
    images = _bars()
    first = random_rotate_and_zoom(images, tf.constant([7, 8]), 10.0, 0.1)
    again = random_rotate_and_zoom(images, tf.constant([7, 8]), 10.0, 0.1)
    other = random_rotate_and_zoom(images, tf.constant([7, 9]), 10.0, 0.1)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert not np.array_equal(first.numpy(), other.numpy())
    assert first.shape == images.shape and first.dtype == images.dtype


@pytest.mark.parametrize(
    "rotation, zoom, match",
    [
        (-1.0, 0.0, "Received: rotation=-1.0"),
        (float("nan"), 0.0, "Received: rotation=nan"),
        (0.0, 1.0, "Received: zoom=1.0"),
        (0.0, -0.1, "Received: zoom=-0.1"),
    ],
)
def test_out_of_range_arguments_raise(rotation, zoom, match):
    with pytest.raises(ValueError, match=match):
        random_rotate_and_zoom(_bars(), tf.constant([0, 0]), rotation, zoom)
