"""Reading MNIST-style IDX files with NumPy."""

import gzip
import zlib
from pathlib import Path

import numpy as np

from keras_gnap.datasets.messages import describe_source

# Magic numbers of the MNIST layout: two zero bytes, 0x08 (unsigned byte
# data), then the number of dimensions.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

# File stems by split, as in the MNIST and Fashion-MNIST releases.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def find_idx_file(directory, stem):
    """Returns the path of `stem` or `stem.gz` in `directory`, or None."""
    for name in (stem, stem + ".gz"):
        path = Path(directory) / name
        if path.is_file():
            return path
    return None


def is_idx_dir(directory):
    """Whether `directory` holds MNIST-style training IDX files."""
    return all(
        find_idx_file(directory, stem) is not None
        for stem in IDX_FILES["train"]
    )


def read_idx(path, magic, source):
    """Reads one IDX file of unsigned bytes, gzipped or not.

    Args:
        path: path-like. The file; a `.gz` suffix means gzip.
        magic: int. Expected magic number, `IMAGES_MAGIC` or `LABELS_MAGIC`.
        source: the `source` argument of `load`, for error messages.

    Returns:
        A read-only uint8 NumPy array of the dimensions in the header.

    Raises:
        ValueError: if the file is not gzip when named `.gz`, has another
            magic number, or is shorter or longer than its header says.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, zlib.error) as e:
        # gzip raises BadGzipFile (an OSError) or EOFError when truncated.
        raise ValueError(
            f"Could not read IDX file {path}: {e}. "
            f"Received: {describe_source(source)}"
        ) from e
    if len(data) < 4:
        raise ValueError(
            f"IDX file {path} is truncated: it has {len(data)} bytes, fewer "
            f"than the 4-byte magic number. Received: {describe_source(source)}"
        )
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(
            f"File {path} is not an IDX file of the expected kind: its magic "
            f"number is 0x{found:08X}, expected 0x{magic:08X}. "
            f"Received: {describe_source(source)}"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"IDX file {path} is truncated inside its header. "
            f"Received: {describe_source(source)}"
        )
    dims = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        problem = "truncated" if len(data) < expected else "too long"
        raise ValueError(
            f"IDX file {path} is {problem}: its header announces dimensions "
            f"{dims}, i.e. {expected} bytes, but it has {len(data)} bytes. "
            f"Received: {describe_source(source)}"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def read_idx_split(directory, split, source):
    """Reads the images and labels of one split of an IDX directory.

    Args:
        directory: path-like. Folder with the IDX files.
        split: str. `"train"` or `"test"` (the `t10k-*` files).
        source: the `source` argument of `load`, for error messages.

    Returns:
        `(images, labels)`: uint8 arrays of shapes `(N, H, W)` and `(N,)`.

    Raises:
        ValueError: if the split's files are missing or malformed, or the
            image and label counts differ.
    """
    paths = [find_idx_file(directory, stem) for stem in IDX_FILES[split]]
    if None in paths:
        missing = [
            stem
            for stem, p in zip(IDX_FILES[split], paths, strict=True)
            if p is None
        ]
        raise ValueError(
            f"IDX directory {directory} has no {split} split: "
            f"{' and '.join(missing)}[.gz] not found. "
            f"Received: {describe_source(source)}, split={split!r}"
        )
    images = read_idx(paths[0], IMAGES_MAGIC, source)
    labels = read_idx(paths[1], LABELS_MAGIC, source)
    if len(images) != len(labels):
        raise ValueError(
            f"IDX files {paths[0].name} and {paths[1].name} disagree: "
            f"{len(images)} images but {len(labels)} labels. "
            f"Received: {describe_source(source)}"
        )
    return images, labels
