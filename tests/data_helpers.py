"""Small fake and real data sets, and scripted metrics, for the tests."""

import gzip
import io
import tarfile
from pathlib import Path

import keras
import numpy as np
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
CIFAR10_TAR = SHARED_DATA / "cifar10" / "cifar10-train-jpg.tar.gz"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)


def idx_bytes(array):
    """The IDX encoding of a uint8 array."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + dims + array.tobytes()


def write_idx(path, array):
    """Writes `array` as an IDX file, gzipped if `path` ends in `.gz`."""
    data = idx_bytes(array)
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def write_idx_dir(directory, train, test=None, gz=True):
    """Writes MNIST-layout IDX files of `(images, labels)` pairs."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for prefix, pair in (("train", train), ("t10k", test)):
        if pair is None:
            continue
        write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", pair[0])
        write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", pair[1])
    return directory


def digit_arrays(count, classes=10, size=28, seed=0):
    """Random uint8 digit-like images with class-balanced labels."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
    labels = (np.arange(count) % classes).astype(np.uint8)
    return images, labels


def id_arrays(count, shape=(28, 28)):
    """Images whose first pixel is their index; labels are the index too.

    Lets a test tell which example ended up where.
    """
    images = np.zeros((count,) + shape, dtype=np.uint8)
    images.reshape(count, -1)[:, 0] = np.arange(count) % 256
    images.reshape(count, -1)[:, 1] = np.arange(count) // 256
    return images, np.arange(count, dtype=np.int64)


def write_image_folder(root, counts, size=(8, 8), channels=1, ext="png"):
    """Writes an image folder: `counts` maps class name to image count.

    Pixel (0, 0) of each image holds its class index times 20 and pixel
    (0, 1) its index within the class, so a test can check labels and
    identify images after loading (PNG keeps them exact).
    """
    root = Path(root)
    for label, (name, count) in enumerate(sorted(counts.items())):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image = np.full(size + (channels,), 128, dtype=np.uint8)
            image[0, 0] = label * 20
            image[0, 1] = i
            (folder / f"{i:04d}.{ext}").write_bytes(encode_image(image, ext))
    return root


def encode_image(image, ext="png"):
    """The bytes of a `(height, width, channels)` uint8 image file.

    Written with Pillow, so the tests need no TensorFlow; JPEG at quality
    100.
    """
    image = np.asarray(image, dtype=np.uint8)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    buffer = io.BytesIO()
    if ext == "png":
        Image.fromarray(image).save(buffer, "PNG")
    else:
        Image.fromarray(image).save(buffer, "JPEG", quality=100)
    return buffer.getvalue()


def make_tar(folder, tar_path, arcname=None):
    """Packs `folder` into a `.tar.gz` under `arcname` (its name)."""
    folder = Path(folder)
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(folder, arcname=arcname or folder.name)
    return Path(tar_path)


def read_gz_idx_head(path, count):
    """The first `count` entries of a gzipped IDX file, read lazily."""
    with gzip.open(path, "rb") as f:
        magic = f.read(4)
        ndim = magic[3]
        dims = [int.from_bytes(f.read(4), "big") for _ in range(ndim)]
        item = int(np.prod(dims[1:], dtype=np.int64))
        data = f.read(count * item)
    return np.frombuffer(data, np.uint8).reshape([count] + dims[1:])


def cifar10_subset_folder(root, per_class):
    """Copies `per_class` JPEGs of each class from the shared tarball.

    Streams the tarball and stops as soon as every class is complete, so
    the 50,000 images are never all extracted.
    """
    root = Path(root)
    taken = dict.fromkeys(CIFAR10_CLASSES, 0)
    with tarfile.open(CIFAR10_TAR, "r|gz") as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) != 3:
                continue
            name = parts[1]
            if taken.get(name, per_class) >= per_class:
                continue
            target = root / "train" / name / parts[2]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())
            taken[name] += 1
            if all(n >= per_class for n in taken.values()):
                break
    return root


class ScriptedValLoss(keras.callbacks.Callback):
    """Overwrites `val_loss` with a scripted sequence, one per epoch."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]
