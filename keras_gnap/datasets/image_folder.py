"""Image folders with one subfolder per class, decoded into memory."""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError

from keras_gnap.datasets.messages import announce
from keras_gnap.datasets.messages import describe_source
from keras_gnap.datasets.resize import resize_images

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")

# Decoding this many images or more announces the (slow) first pass.
_ANNOUNCE_IMAGES = 10_000
_DECODE_BATCH = 1024

# Pillow modes that TensorFlow decodes with a single channel.
_GRAY_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N")
# libpng's fixed-point weights for 0.299 and 0.587 (x 32768, truncated);
# blue gets the rest.
_LUMA_WEIGHTS = (9797, 19234, 32768 - 9797 - 19234)
# What Pillow raises on files it cannot read.
_DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
)
# libpng ignores a file gamma this close to 1.
_GAMMA_THRESHOLD = 0.05


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
    """Decodes image files into one uint8 array, in parallel threads.

    Images are decoded with Pillow, whether or not TensorFlow is
    installed, so the pixels never depend on it. They are exactly those
    `tf.io.decode_image` gives for 8-bit PNG, grayscale conversion
    included (16-bit color PNG converted to gray may differ by 1), and
    for GIF and BMP. JPEG pixels may differ from TensorFlow's by a few
    levels (about 1 of 255 on average on CIFAR-10): TensorFlow
    decodes with libjpeg's fast integer DCT, Pillow with the accurate
    one.

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
        channels = 1 if _is_grayscale(paths[0], source) else 3
    shape = _decode_one(paths[0], channels, source).shape
    if image_size is not None:
        shape = tuple(image_size) + shape[-1:]
    if len(paths) >= _ANNOUNCE_IMAGES:
        announce(f"Decoding {len(paths)} images into memory.")
    images = np.empty((len(paths),) + shape, dtype=np.uint8)

    def decode(path):
        return _decode_one(path, channels, source)

    # Pillow releases the GIL while it decodes. Chunks bound the memory
    # of images not resized yet, and a bad file stops the work soon.
    with ThreadPoolExecutor(_decode_threads()) as pool:
        for start in range(0, len(paths), _DECODE_BATCH):
            chunk = paths[start : start + _DECODE_BATCH]
            decoded = list(pool.map(decode, chunk))
            if image_size is not None:
                images[start : start + len(chunk)] = _resized(
                    decoded, image_size
                )
                continue
            for path, image in zip(chunk, decoded, strict=True):
                if image.shape != shape:
                    raise ValueError(
                        f"Image {path} has shape {image.shape} but "
                        f"{paths[0]} has {shape}; pass `image_size` to "
                        "resize all images to one size. "
                        "Received: image_size=None"
                    )
            images[start : start + len(chunk)] = decoded
    return images


def _decode_threads():
    return min(8, os.cpu_count() or 1)


def _resized(images, image_size):
    """Resizes a list of images, those of one size in one batch."""
    by_shape = {}
    for index, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(index)
    resized = np.empty(
        (len(images),) + tuple(image_size) + images[0].shape[-1:], np.uint8
    )
    for indices in by_shape.values():
        batch = np.stack([images[i] for i in indices])
        resized[indices] = resize_images(batch, image_size)
    return resized


def _decode_one(path, channels, source):
    with _reading(path, source), Image.open(path) as image:
        if channels == 1 and image.format == "JPEG" and image.mode == "RGB":
            # libjpeg's own grayscale output (the luma channel), which is
            # what TensorFlow asks libjpeg for.
            image.draft("L", image.size)
        image.load()
        return _to_uint8(image, channels)


def _is_grayscale(path, source):
    """Whether TensorFlow would decode the file with one channel."""
    with _reading(path, source), Image.open(path) as image:
        # TensorFlow decodes GIFs as RGB; palette images, and gray ones
        # with alpha (two channels), count as color too.
        return image.mode in _GRAY_MODES and image.format != "GIF"


@contextlib.contextmanager
def _reading(path, source):
    """Turns Pillow's errors into a ValueError that names the file."""
    try:
        yield
    except _DECODE_ERRORS as e:
        if isinstance(e, UnidentifiedImageError):
            reason = "not an image, or an unsupported or corrupt format"
        else:
            reason = str(e).strip().rstrip(".") or type(e).__name__
        raise ValueError(
            f"Could not read image file {path}: {reason}. "
            f"Received: {describe_source(source)}"
        ) from None


def _to_uint8(image, channels):
    """Pixels of a decoded image as `(height, width, channels)` uint8.

    Mirrors the transformations TensorFlow asks libpng for: 16-bit
    samples keep their high byte, palettes are expanded, alpha is dropped
    and color becomes gray with libpng's integer luma.
    """
    if image.mode.startswith("I"):
        # 16-bit grayscale PNG.
        gray = np.asarray(image).astype(np.int64) >> 8
        gray = np.clip(gray, 0, 255).astype(np.uint8)[..., None]
    elif image.mode in ("1", "L", "LA", "La"):
        gray = np.asarray(image.convert("L"))[..., None]
    else:
        rgb = np.asarray(image.convert("RGB"))
        if channels == 3:
            return rgb
        return _luma(rgb, _png_gamma(image))[..., None]
    return gray if channels == 1 else np.repeat(gray, 3, axis=-1)


def _png_gamma(image):
    """The encoding gamma libpng applies to a PNG, or None."""
    if image.format != "PNG":
        return None
    # An sRGB chunk stands for gamma 1/2.2, as libpng reads it.
    gamma = 0.45455 if "srgb" in image.info else image.info.get("gamma")
    if gamma is None or gamma <= 0 or abs(gamma - 1.0) <= _GAMMA_THRESHOLD:
        return None
    return gamma


def _luma(rgb, gamma=None):
    """libpng's RGB to gray: `png_set_rgb_to_gray(png, 1, 0.299, 0.587)`.

    15-bit fixed-point weights; with a significant file gamma, libpng
    mixes linear values through 8-bit gamma tables and keeps pure grays.
    """
    rgb = rgb.astype(np.uint32)
    if gamma is None:
        return (_mix(rgb) >> 15).astype(np.uint8)
    # libpng's gammas are fixed-point numbers in units of 1e-5; without a
    # screen gamma set, it takes the one that undoes the file's.
    to_linear = _reciprocal(round(gamma * 100_000))
    from_linear = _reciprocal(to_linear)
    levels = np.arange(256) / 255.0
    to_linear = np.floor(255.0 * levels ** (to_linear / 1e5) + 0.5)
    from_linear = np.floor(255.0 * levels ** (from_linear / 1e5) + 0.5)
    from_linear = from_linear.astype(np.uint8)
    linear = to_linear.astype(np.uint32)[rgb]
    gray = from_linear[(_mix(linear) + 2**14) >> 15]
    pure = (rgb[..., 0] == rgb[..., 1]) & (rgb[..., 0] == rgb[..., 2])
    return np.where(pure, rgb[..., 0], gray).astype(np.uint8)


def _reciprocal(fixed):
    # png_reciprocal: 1 / x in libpng's fixed point, rounded.
    return int(np.floor(1e10 / fixed + 0.5))


def _mix(rgb):
    return (
        _LUMA_WEIGHTS[0] * rgb[..., 0]
        + _LUMA_WEIGHTS[1] * rgb[..., 1]
        + _LUMA_WEIGHTS[2] * rgb[..., 2]
    )


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
