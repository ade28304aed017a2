"""`load`: one call from a data source to a dataset ready for `fit`."""

import numbers
import os
from pathlib import Path

from keras_gnap.datasets import arrays as arrays_lib
from keras_gnap.datasets import idx
from keras_gnap.datasets import image_folder
from keras_gnap.datasets import pipeline
from keras_gnap.datasets import splits
from keras_gnap.datasets import tensorflow_support
from keras_gnap.datasets import tfds_source
from keras_gnap.datasets.archive import extract_archive
from keras_gnap.datasets.archive import is_archive
from keras_gnap.datasets.array_sequence import ArraySequence
from keras_gnap.datasets.augment import wants_augmentation
from keras_gnap.datasets.dataset_info import DatasetInfo
from keras_gnap.datasets.messages import describe_source
from keras_gnap.datasets.resize import resize_images


def load(
    source,
    split="train",
    batch_size=128,
    *,
    validation_size=None,
    augment=None,
    shuffle=None,
    seed=0,
    data_dir=None,
    image_size=None,
    cache=True,
    with_info=False,
    cache_dir=None,
):
    """Loads an image classification split as a dataset ready for `fit`.

    The dataset yields `(images, labels)` batches: float32 images scaled to
    [0, 1] of shape `(batch, height, width, channels)` and int32 class
    indices. With TensorFlow installed it is a `tf.data.Dataset`; without
    it, an `ArraySequence` (a `keras.utils.PyDataset`) with the same
    batches, shuffling and augmentation, for any Keras backend.

    Pipeline: images are decoded once and kept in memory as uint8 (4x
    smaller than float32; float arrays stay float32), then every epoch
    shuffled, batched, scaled to [0, 1] and, for training, augmented, and
    prefetched. Scaling and augmenting whole batches, with vectorised ops,
    rather than single images keeps the pipeline well ahead of the model
    on a CPU.

    Sources:

    - A TensorFlow Datasets name (`"mnist"`, `"fashion_mnist"`,
      `"cifar10"`, or any TFDS dataset with `image` and `label`
      features). Needs TensorFlow and TensorFlow Datasets:
      `pip install "keras-gnap[tensorflow]"`.
    - A folder of IDX files in the MNIST layout:
      `train-images-idx3-ubyte`, `train-labels-idx1-ubyte` and, for the
      test split, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`,
      each optionally gzipped (`.gz`).
    - An image folder with one subfolder of images per class (classes are
      the sorted subfolder names), or a folder holding `train/` and
      optionally `test/` such folders. Images (PNG, JPEG, GIF, BMP) are
      decoded with Pillow.
    - A `.tar.gz`, `.tgz` or `.tar` archive of an image folder, extracted
      once into `cache_dir`.
    - NumPy arrays `(images, labels)`, or `((x_train, y_train), (x_test,
      y_test))` as returned by `keras.datasets.*.load_data()`. Images
      have shape `(N, H, W)` or `(N, H, W, C)` and are uint8 (scaled by
      1/255) or float (used as they are); labels are class indices.

    A string that names an existing path is read as a path, any other
    string as a TFDS name.

    Splits: `"test"` is the source's official test split. `"validation"`
    is held out from the end of the training data and `"train"` is the
    rest, so the two never overlap. "The end" is the stored order for
    TFDS, IDX files and arrays; for image folders it is an order that
    interleaves the classes in proportion to their sizes (files sorted by
    name within each class), so the held-out part is the same on every
    machine and stratified by class. TFDS datasets with their own
    validation split are split the same way, for consistency.

    Args:
        source: str, path-like or tuple. The data, see above.
        split: str. `"train"`, `"validation"` or `"test"`. Defaults to
            `"train"`.
        batch_size: int. Examples per batch. Defaults to 128.
        validation_size: int or float. Number (int) or fraction (float in
            [0, 1)) of the training examples held out as the validation
            split; 0 keeps them all for training. Defaults to `None`: 1/6
            for 28x28 images (MNIST's 10,000 of 60,000) and 1/10 otherwise
            (CIFAR-10's 5,000 of 50,000), judged by the stored size, so
            `image_size` does not change the split.
        augment: bool or None. Whether to augment the training split with
            random crops of the 4-pixel zero-padded image and random
            horizontal flips. Only the `"train"` split can be augmented.
            Defaults to `None`: augment color images of at most 64x64
            pixels (CIFAR-like), not grayscale ones (digits and letters
            change meaning when flipped).
        shuffle: bool or None. Whether to reshuffle the examples every
            epoch. Defaults to `None`: shuffle the `"train"` split only.
        seed: int. Seed of the shuffling and the augmentation, for
            reproducible runs. The validation split does not depend on
            it. Defaults to 0.
        data_dir: str. TFDS data folder, passed to TFDS; other sources
            ignore it. Defaults to `None` (TFDS's default).
        image_size: int or tuple `(height, width)`. Size to resize all
            images to. Needed when the images' sizes differ. Defaults to
            `None` (keep the source's size).
        cache: bool. Whether to keep a streamed (TFDS) split in memory
            after the first epoch. Other sources are read into memory
            anyway. Defaults to `True`.
        with_info: bool. Whether to also return a `DatasetInfo`.
            Defaults to `False`.
        cache_dir: str or path-like. Where archives are extracted.
            Defaults to `None`: `~/.keras/keras_gnap` (or
            `$KERAS_HOME/keras_gnap`).

    Returns:
        A `tf.data.Dataset`, or without TensorFlow an `ArraySequence`;
        `(dataset, info)` with a `DatasetInfo` when `with_info=True`.

    Raises:
        ValueError: on an argument out of range, a missing path, an
            unknown TFDS name, a split the source does not have, malformed
            IDX files, unreadable images, image and label counts that
            differ, or labels outside `[0, classes)`.
        ConnectionError: if TFDS has to download a dataset and cannot.
        ImportError: for a TFDS name without TensorFlow or TensorFlow
            Datasets installed.

    Example:

    >>> train = keras_gnap.datasets.load("mnist")
    >>> val, info = keras_gnap.datasets.load(
    ...     "mnist", split="validation", with_info=True
    ... )
    >>> info.num_examples
    10000
    >>> model.fit(train, validation_data=val, epochs=5)
    """
    splits.check_split(split)
    if (
        not isinstance(batch_size, numbers.Integral)
        or isinstance(batch_size, bool)
        or batch_size <= 0
    ):
        raise ValueError(
            "Argument `batch_size` must be a positive integer. "
            f"Received: batch_size={batch_size!r}"
        )
    splits.check_validation_size(validation_size)
    for name, value in (("augment", augment), ("shuffle", shuffle)):
        if value is not None and not isinstance(value, bool):
            raise ValueError(
                f"Argument `{name}` must be True, False or None. "
                f"Received: {name}={value!r}"
            )
    if augment and split != "train":
        raise ValueError(
            "Only the training split can be augmented; evaluation data "
            "should be left as it is. "
            f"Received: augment=True with split={split!r}"
        )
    if seed is not None and (
        not isinstance(seed, numbers.Integral) or isinstance(seed, bool)
    ):
        raise ValueError(
            f"Argument `seed` must be an integer. Received: seed={seed!r}"
        )
    image_size = _check_image_size(image_size)

    kind, location = _resolve_source(source)
    if kind == "tfds":
        examples, meta = _load_tfds(
            location, split, validation_size, data_dir, image_size
        )
    elif kind == "arrays":
        data, meta = _load_arrays(source, split, validation_size, image_size)
    elif kind == "idx":
        data, meta = _load_idx(
            location, source, split, validation_size, image_size
        )
    else:
        if kind == "archive":
            location = extract_archive(location, cache_dir, source=source)
        data, meta = _load_image_folder(
            location,
            source,
            split,
            validation_size,
            image_size,
            descend=kind == "archive",
        )

    input_shape, classes, class_names, num_examples = meta
    if augment is None:
        augment = split == "train" and wants_augmentation(input_shape)
    if shuffle is None:
        shuffle = split == "train"
    options = dict(
        batch_size=int(batch_size), shuffle=shuffle, augment=augment, seed=seed
    )
    if kind == "tfds":
        dataset = pipeline.from_examples(
            examples, num_examples=num_examples, cache=cache, **options
        )
    elif tensorflow_support.tensorflow_available():
        dataset = pipeline.from_arrays(*data, **options)
    else:
        dataset = ArraySequence(*data, **options)
    if not with_info:
        return dataset
    info = DatasetInfo(
        input_shape=tuple(int(d) for d in input_shape),
        classes=int(classes),
        class_names=class_names,
        num_examples=int(num_examples),
        split=split,
        source="arrays" if kind == "arrays" else os.fspath(source),
    )
    return dataset, info


def _check_image_size(image_size):
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral) and not isinstance(
        image_size, bool
    ):
        image_size = (image_size, image_size)
    valid = (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(
            isinstance(d, numbers.Integral)
            and not isinstance(d, bool)
            and d > 0
            for d in image_size
        )
    )
    if not valid:
        raise ValueError(
            "Argument `image_size` must be None, a positive int or a tuple "
            f"(height, width) of them. Received: image_size={image_size!r}"
        )
    return tuple(int(d) for d in image_size)


def _resolve_source(source):
    """Returns `(kind, location)` for a `source` argument."""
    if isinstance(source, (tuple, list)):
        return "arrays", None
    if not isinstance(source, (str, os.PathLike)):
        raise ValueError(
            "Argument `source` must be a TFDS name, a path, or a tuple "
            "(images, labels) of arrays. "
            f"Received: source of type {type(source).__name__}"
        )
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_dir():
        return ("idx" if idx.is_idx_dir(path) else "folder"), path
    if path.is_file():
        if is_archive(path):
            return "archive", path
        raise ValueError(
            f"File {path} is not a folder or a .tar.gz/.tgz/.tar archive of "
            f"an image folder. Received: {describe_source(source)}"
        )
    looks_like_path = (
        isinstance(source, os.PathLike)
        or os.path.isabs(text)
        or text.startswith(("~", "./", "../", ".\\", "..\\"))
        or is_archive(text)
    )
    if looks_like_path:
        raise ValueError(
            f"Path {path} does not exist. Received: {describe_source(source)}"
        )
    return "tfds", text


def _load_arrays(source, split, validation_size, image_size):
    nested = len(source) == 2 and all(
        isinstance(part, (tuple, list)) and len(part) == 2 for part in source
    )
    if len(source) != 2:
        raise ValueError(
            "Arrays must be given as (images, labels) or ((x_train, "
            f"y_train), (x_test, y_test)). Received: {describe_source(source)}"
        )
    train, test = (source[0], source[1]) if nested else (source, None)
    images, labels = _checked_arrays(train, train)
    classes = int(labels.max()) + 1
    if split == "test":
        if test is None:
            raise ValueError(
                "Arrays (images, labels) have no test split; pass "
                "((x_train, y_train), (x_test, y_test)) to have one. "
                f"Received: split='test', {describe_source(source)}"
            )
        images, labels = _checked_arrays(test, test)
        arrays_lib.check_label_range(labels, classes, test)
    else:
        images, labels = _holdout(images, labels, split, validation_size)
    images = _resize_arrays(images, image_size)
    return (images, labels), _meta(images, classes, None)


def _load_idx(directory, source, split, validation_size, image_size):
    if split == "test":
        stem = idx.IDX_FILES["train"][1]
        train_labels = idx.read_idx(
            idx.find_idx_file(directory, stem), idx.LABELS_MAGIC, source
        )
        images, labels = idx.read_idx_split(directory, "test", source)
        classes = int(train_labels.max()) + 1
        images, labels = _checked_arrays((images, labels), source)
        arrays_lib.check_label_range(labels, classes, source)
    else:
        images, labels = _checked_arrays(
            idx.read_idx_split(directory, "train", source), source
        )
        classes = int(labels.max()) + 1
        images, labels = _holdout(images, labels, split, validation_size)
    images = _resize_arrays(images, image_size)
    return (images, labels), _meta(images, classes, None)


def _load_image_folder(
    root, source, split, validation_size, image_size, descend
):
    folders = image_folder.split_folders(root, descend=descend)
    paths, labels, class_names = image_folder.list_images(
        folders["train"], source
    )
    # The first training image fixes the channels of every split, and its
    # stored size the default validation size.
    first = image_folder.decode_images(paths[:1], source)
    channels = first.shape[-1]
    if split == "test":
        if "test" not in folders:
            raise ValueError(
                f"Image folder {root} has no test split; a `test/` folder "
                "next to `train/` would be used. "
                f"Received: split='test', {describe_source(source)}"
            )
        paths, labels, _ = image_folder.list_images(
            folders["test"], source, class_names=class_names
        )
        order = splits.interleave_classes(labels)
    else:
        order = splits.interleave_classes(labels)
        count = splits.validation_count(
            validation_size, len(paths), first.shape[1:]
        )
        start, stop = splits.holdout_range(
            split, len(paths), count, validation_size
        )
        order = order[start:stop]
    images = image_folder.decode_images(
        [paths[i] for i in order], source, image_size, channels=channels
    )
    return (images, labels[order]), _meta(images, len(class_names), class_names)


def _load_tfds(name, split, validation_size, data_dir, image_size):
    builder = tfds_source.tfds_builder(name, data_dir)
    tfds_source.download_and_prepare(builder, name)
    features = builder.info.features
    stored_shape = tuple(features["image"].shape)
    shape = stored_shape
    if image_size is not None:
        shape = tuple(image_size) + shape[-1:]
    elif None in shape:
        raise ValueError(
            f"Images of TFDS dataset {name!r} vary in size {shape}; pass "
            "`image_size` to resize them. Received: image_size=None"
        )
    if split == "test":
        count = tfds_source.num_split_examples(builder, "test")
        if count is None:
            raise ValueError(
                f"TFDS dataset {name!r} has no test split; its splits are "
                f"{list(builder.info.splits)}. Received: split='test'"
            )
        tfds_split = "test"
    else:
        num_train = tfds_source.num_split_examples(builder, "train")
        if num_train is None:
            raise ValueError(
                f"TFDS dataset {name!r} has no train split; its splits are "
                f"{list(builder.info.splits)}. Received: split={split!r}"
            )
        held_out = splits.validation_count(
            validation_size, num_train, stored_shape
        )
        start, stop = splits.holdout_range(
            split, num_train, held_out, validation_size
        )
        count = stop - start
        tfds_split = f"train[{start}:{stop}]"
    examples = tfds_source.tfds_examples(builder, tfds_split, count, image_size)
    label = features["label"]
    meta = (shape, label.num_classes, tuple(label.names), count)
    return examples, meta


def _checked_arrays(pair, source):
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise ValueError(
            "Arrays must be given as (images, labels). "
            f"Received: {describe_source(source)}"
        )
    images = arrays_lib.standardize_images(pair[0], source)
    labels = arrays_lib.standardize_labels(pair[1], len(images), source)
    return images, labels


def _holdout(images, labels, split, validation_size):
    """Slices the train or validation part off training arrays."""
    count = splits.validation_count(
        validation_size, len(images), images.shape[1:]
    )
    start, stop = splits.holdout_range(
        split, len(images), count, validation_size
    )
    return images[start:stop], labels[start:stop]


def _resize_arrays(images, image_size):
    """Resizes in-memory images once, so batches need no resizing."""
    if image_size is None:
        return images
    return resize_images(images, image_size)


def _meta(images, classes, class_names):
    return tuple(images.shape[1:]), classes, class_names, len(images)
