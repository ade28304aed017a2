"""TensorFlow Datasets (TFDS) image-classification datasets.

TensorFlow and TFDS are optional: they are imported when a dataset is
loaded by name, with an actionable error if either is missing.
"""

import socket
import urllib.parse

from keras_gnap.datasets import tensorflow_support
from keras_gnap.datasets.messages import describe_source

# Seconds to reach the host of a dataset's download before giving up: an
# offline machine then fails at once, not after minutes of retries.
NETWORK_TIMEOUT = 5


def import_tfds(name):
    """Imports `tensorflow_datasets`, with an actionable error if absent.

    Args:
        name: str. The TFDS name being loaded, for the message.

    Returns:
        The `tensorflow_datasets` module.

    Raises:
        ImportError: if TensorFlow or TensorFlow Datasets is not
            installed; the message says what to install.
    """
    # A typo in a path also lands here, hence the first half of the
    # message.
    feature = (
        f"{name!r} is not an existing path, so it is read as a TensorFlow "
        "Datasets name. Loading a dataset by name"
    )
    if not tensorflow_support.tensorflow_available():
        raise tensorflow_support.missing_dependency_error(feature)
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise tensorflow_support.missing_dependency_error(
            feature, "tensorflow_datasets"
        ) from e
    return tfds


def tfds_builder(name, data_dir):
    """Returns the TFDS builder of `name` after checking its features.

    Args:
        name: str. TFDS name, optionally with config and version
            (`"cifar10"`, `"mnist:3.*.*"`).
        data_dir: str or None. TFDS data folder, passed through to TFDS.

    Returns:
        A `tfds.core.DatasetBuilder`.

    Raises:
        ValueError: if TFDS does not know `name`, or the dataset has no
            `image` feature and `label` class feature.
    """
    tfds = import_tfds(name)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        # TFDS's own message lists every dataset it knows, hundreds of
        # lines; point to the catalog instead.
        raise ValueError(
            f"{name!r} is neither an existing path nor a TensorFlow Datasets "
            "name. List the names with `tfds.list_builders()` or see "
            "https://www.tensorflow.org/datasets/catalog/overview "
            "(image classification). Received: "
            f"{describe_source(name)}"
        ) from None
    features = builder.info.features
    label = features["label"] if "label" in features else None
    if "image" not in features or not isinstance(
        label, tfds.features.ClassLabel
    ):
        raise ValueError(
            f"TFDS dataset {name!r} is not an image classification dataset "
            "with `image` and `label` features; its features are "
            f"{list(features)}. Received: {describe_source(name)}"
        )
    return builder


def download_and_prepare(builder, name):
    """Downloads and prepares a TFDS dataset, if not done yet.

    Args:
        builder: a `tfds.core.DatasetBuilder`.
        name: str. The TFDS name it was built from, for the message.

    Raises:
        ConnectionError: if the download fails (no network, host
            unreachable); the message says how to load a local copy.
    """
    # requests comes with TFDS; its errors are not all builtin
    # ConnectionErrors (timeouts, too many retries).
    import requests

    host = None if _is_prepared(builder) else _download_host(builder)
    if host is not None:
        # TFDS retries an unreachable host for minutes and leaves partial
        # files behind: find out at once, before anything is written.
        _check_reachable(host, name)
    try:
        builder.download_and_prepare()
    except (ConnectionError, requests.exceptions.RequestException) as e:
        raise ConnectionError(
            f"TensorFlow Datasets could not download {name!r}: {e}. Without "
            "network access, pass the path of a local copy instead of the "
            "name (an IDX folder, an image folder or an archive of one), or "
            "the `data_dir` of an already prepared TFDS copy. Received: "
            f"{describe_source(name)}"
        ) from e


def _is_prepared(builder):
    is_prepared = getattr(builder, "is_prepared", None)
    return bool(is_prepared()) if callable(is_prepared) else False


def _download_host(builder):
    # The (host, port) of the first file the builder downloads, or None
    # for a builder that downloads nothing (it makes its data itself).
    for url in getattr(builder, "url_infos", None) or {}:
        parts = urllib.parse.urlsplit(url)
        if parts.hostname:
            default = 443 if parts.scheme == "https" else 80
            return parts.hostname, parts.port or default
    return None


def _check_reachable(host, name):
    try:
        socket.create_connection(host, timeout=NETWORK_TIMEOUT).close()
    except OSError as e:
        raise ConnectionError(
            f"TensorFlow Datasets would download {name!r} from {host[0]}, "
            f"which cannot be reached ({e}). Without network access, pass "
            "the path of a local copy instead of the name (an IDX folder, "
            "an image folder or an archive of one), or the `data_dir` of an "
            "already prepared TFDS copy. Received: "
            f"{describe_source(name)}"
        ) from None


def num_split_examples(builder, split):
    """Number of examples of a split, or None if TFDS has no such split."""
    splits = builder.info.splits
    if split in splits:
        return splits[split].num_examples
    if splits:
        return None
    # Split metadata is missing when TFDS is mocked in tests; count what
    # the builder yields instead.
    cardinality = int(builder.as_dataset(split=split).cardinality())
    if cardinality < 0:
        raise ValueError(f"Cannot count the examples of split {split!r}.")
    return cardinality


def tfds_examples(builder, tfds_split, count, image_size):
    """Examples of a split as `(uint8 image, int32 label)` pairs.

    Args:
        builder: a prepared `tfds.core.DatasetBuilder`.
        tfds_split: str. TFDS split, possibly sliced (`"train[:50000]"`).
        count: int. Examples expected in the split; the stream is cut to
            it, which only matters when TFDS is mocked.
        image_size: tuple `(height, width)` or None. Size to resize to;
            resized images are rounded back to uint8.

    Returns:
        An unbatched `tf.data.Dataset`.
    """
    import tensorflow as tf

    # Fixed file order makes the held-out tail the same on every call.
    dataset = builder.as_dataset(split=tfds_split, shuffle_files=False)

    def prepare(example):
        image = example["image"]
        if image_size is not None:
            image = tf.image.resize(image, image_size, antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        return image, tf.cast(example["label"], tf.int32)

    return dataset.take(count).map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
