"""Image folders with one subfolder per class, decoded into memory."""

import os
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_gnap.datasets.messages import announce
from keras_gnap.datasets.messages import describe_source

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

# Decoding this many images or more announces the (slow) first pass.
_ANNOUNCE_IMAGES = 10_000
_DECODE_BATCH = 1024


def split_folders(root, descend=False):
    """Finds the class folder of each split under `root`.

    `root` is either a class folder itself (one subfolder per class) or
    holds `train/` (and optionally `test/`) class folders, the layout of
    most image-folder releases.

    Args:
        root: path-like. The image folder.
        descend: bool. Whether to step into a single wrapping folder, as
            archives often have one. Defaults to `False`.

    Returns:
        A dict from split name (`"train"`, and `"test"` if present) to the
        `Path` of its class folder.
    """
    root = Path(root)
    while True:
        subdirs = _subdirs(root)
        names = {d.name for d in subdirs}
        if "train" in names and _subdirs(root / "train"):
            folders = {"train": root / "train"}
            if "test" in names:
                folders["test"] = root / "test"
            return folders
        if descend and len(subdirs) == 1 and not _files(root):
            root = subdirs[0]
            continue
        return {"train": root}


def list_images(class_root, source, class_names=None):
    """Lists the image files of a class folder in a fixed order.

    Classes are the sorted subfolder names; files within a class are sorted
    by path, so the order never depends on the file system.

    Args:
        class_root: path-like. Folder with one subfolder per class.
        source: the `source` argument of `load`, for error messages.
        class_names: tuple of str. Classes to use, e.g. the training
            classes when listing the test folder. Defaults to the
            subfolder names.

    Returns:
        `(paths, labels, class_names)`: a list of str, an int32 array and a
        tuple of str.

    Raises:
        ValueError: if there are fewer than two classes, a class has no
            image, or a class is not among `class_names`.
    """
    class_root = Path(class_root)
    found = tuple(d.name for d in _subdirs(class_root))
    if not found:
        raise ValueError(
            f"Image folder {class_root} has no class subfolders; expected "
            "one subfolder of images per class. "
            f"Received: {describe_source(source)}"
        )
    if class_names is None:
        if len(found) < 2:
            raise ValueError(
                f"Image folder {class_root} has a single class subfolder "
                f"({found[0]!r}); classification needs at least two. "
                f"Received: {describe_source(source)}"
            )
        class_names = found
    unknown = sorted(set(found) - set(class_names))
    if unknown:
        raise ValueError(
            f"Image folder {class_root} has classes {unknown} that the "
            f"training folder does not have. "
            f"Received: {describe_source(source)}"
        )
    paths, labels = [], []
    for label, name in enumerate(class_names):
        files = _image_files(class_root / name)
        if not files and name in found:
            raise ValueError(
                f"Class folder {class_root / name} has no images with "
                f"extension {'/'.join(IMAGE_EXTENSIONS)}. "
                f"Received: {describe_source(source)}"
            )
        paths.extend(files)
        labels.extend([label] * len(files))
    return paths, np.asarray(labels, dtype=np.int32), tuple(class_names)


def decode_images(paths, source, image_size=None, channels=None):
    """Decodes image files into one uint8 array, in parallel.

    Resized images are rounded back to uint8 so that the in-memory copy
    stays 4x smaller than float32.

    Args:
        paths: list of str. Image files.
        source: the `source` argument of `load`, for error messages.
        image_size: tuple `(height, width)`. Size to resize every image
            to. Defaults to `None`: all images must have the first
            image's size.
        channels: int. 1 or 3: grayscale images are converted to color
            or the other way round. Defaults to `None`: 1 if the first
            image is grayscale, else 3.

    Returns:
        A uint8 array of shape `(len(paths), height, width, channels)`.

    Raises:
        ValueError: naming the first file that cannot be read or decoded,
            or whose size differs while `image_size` is None.
    """
    if channels is None:
        first = _decode_one(paths[0], 0, image_size, source)
        channels = 1 if first.shape[-1] == 1 else 3
    first = _decode_one(paths[0], channels, image_size, source)
    shape = tuple(first.shape)
    if len(paths) >= _ANNOUNCE_IMAGES:
        announce(f"Decoding {len(paths)} images into memory.")

    def decode(path):
        image = _decode_tensor(path, channels, image_size)
        # A size mismatch fails here; the slow scan below names the file.
        return tf.ensure_shape(image, shape)

    dataset = (
        tf.data.Dataset.from_tensor_slices(paths)
        .map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(_DECODE_BATCH)
        .prefetch(1)
    )
    images = np.empty((len(paths),) + shape, dtype=np.uint8)
    try:
        start = 0
        for batch in dataset:
            images[start : start + len(batch)] = batch.numpy()
            start += len(batch)
    except tf.errors.OpError:
        # tf.data does not say which element failed; find it one by one.
        for path in paths:
            image = _decode_one(path, channels, image_size, source)
            if tuple(image.shape) != shape:
                raise ValueError(
                    f"Image {path} has shape {tuple(image.shape)} but "
                    f"{paths[0]} has {shape}; pass `image_size` to resize "
                    f"all images to one size. Received: image_size=None"
                ) from None
        raise
    return images


def _decode_tensor(path, channels, image_size):
    image = tf.io.decode_image(
        tf.io.read_file(path), channels=channels, expand_animations=False
    )
    if image_size is not None:
        image = tf.image.resize(image, image_size, antialias=True)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return image


def _decode_one(path, channels, image_size, source):
    try:
        return _decode_tensor(path, channels, image_size)
    except tf.errors.OpError as e:
        raise ValueError(
            f"Could not read image file {path}: {_clean(e.message)}. "
            f"Received: {describe_source(source)}"
        ) from None


def _clean(message):
    """Strips TensorFlow's op and function names from an error message."""
    message = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", message)
    return message.strip().rstrip(".")


def _subdirs(folder):
    return sorted(
        (
            entry
            for entry in Path(folder).iterdir()
            if entry.is_dir() and not entry.name.startswith(".")
        ),
        key=lambda entry: entry.name,
    )


def _files(folder):
    return [entry for entry in Path(folder).iterdir() if entry.is_file()]


def _image_files(folder):
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        # Skip hidden folders such as .ipynb_checkpoints.
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(
            os.path.join(dirpath, name)
            for name in filenames
            if name.lower().endswith(IMAGE_EXTENSIONS)
            and not name.startswith(".")
        )
    return sorted(found)
