"""Tests of `keras_gnap.datasets.load` without TensorFlow.

Every test here runs the TensorFlow-free path, where `load` returns an
`ArraySequence`, by patching the one availability check, so they mean the
same whether or not TensorFlow is installed. Subprocesses hide TensorFlow
for real and train on the JAX and PyTorch backends. Tests marked
`requires_tensorflow` compare the results with TensorFlow's.
"""

import importlib.util
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import data_helpers as helpers
import keras
import numpy as np
import pytest

import keras_gnap
from keras_gnap.datasets import ArraySequence
from keras_gnap.datasets import image_folder
from keras_gnap.datasets import load
from keras_gnap.datasets import tensorflow_support
from keras_gnap.datasets.augment import random_crop_and_flip_array
from keras_gnap.datasets.resize import resize_images
from keras_gnap.export import tflite_predict

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_HINT = re.escape('pip install "keras-gnap[tensorflow]"')

requires_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None,
    reason="compares with TensorFlow, which is not installed",
)


@pytest.fixture(autouse=True)
def without_tensorflow(monkeypatch):
    monkeypatch.setattr(
        tensorflow_support, "tensorflow_available", lambda: False
    )


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


def collect(dataset):
    """One epoch of `(images, labels)` as two NumPy arrays."""
    if isinstance(dataset, keras.utils.PyDataset):
        batches = [dataset[i] for i in range(len(dataset))]
    else:  # a tf.data pipeline
        batches = [(x.numpy(), y.numpy()) for x, y in dataset]
    return (
        np.concatenate([x for x, _ in batches]),
        np.concatenate([y for _, y in batches]),
    )


def folder_ids(images):
    """(class pixel, index pixel) of images from `write_image_folder`."""
    pixels = np.round(images[:, 0, :2, 0] * 255).astype(int)
    return [tuple(p) for p in pixels]


def color_arrays(count=64, size=32, seed=3):
    rng = np.random.default_rng(seed)
    images = rng.integers(1, 256, (count, size, size, 3), dtype=np.uint8)
    return images, np.arange(count) % 10


def is_shift_or_flip(augmented, original, padding=4):
    height, width = original.shape[:2]
    padded = np.pad(original, ((padding, padding), (padding, padding), (0, 0)))
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded[dy : dy + height, dx : dx + width]
            if np.array_equal(crop, augmented) or np.array_equal(
                crop[:, ::-1], augmented
            ):
                return True
    return False


# === NumPy arrays ===


def test_arrays_give_a_py_dataset_of_scaled_batches():
    images, labels = helpers.digit_arrays(70, seed=5)
    dataset, info = load(
        (images, labels),
        batch_size=32,
        validation_size=0,
        shuffle=False,
        with_info=True,
    )
    assert isinstance(dataset, ArraySequence)
    assert isinstance(dataset, keras.utils.PyDataset)
    assert len(dataset) == 3 and info.num_examples == 70
    sizes = [len(dataset[i][1]) for i in range(len(dataset))]
    assert sizes == [32, 32, 6]
    x, y = collect(dataset)
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert x.shape == (70, 28, 28, 1)
    np.testing.assert_array_equal(
        x, images[..., None].astype(np.float32) / np.float32(255)
    )
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(IndexError, match="Received: index=3"):
        dataset[3]


def test_float_arrays_are_used_as_they_are():
    rng = np.random.default_rng(0)
    images = rng.random((12, 6, 6, 3))  # float64
    x, _ = collect(
        load((images, np.arange(12) % 2), validation_size=0, augment=False)
    )
    assert x.dtype == np.float32
    np.testing.assert_allclose(
        np.sort(x.ravel()), np.sort(images.astype(np.float32).ravel())
    )


def test_arrays_splits_match_the_arrays():
    train = helpers.digit_arrays(40, seed=1)
    test = helpers.digit_arrays(9, seed=2)
    source = (train, test)
    for split, expected in [
        ("train", (train[0][:30], train[1][:30])),
        ("validation", (train[0][30:], train[1][30:])),
        ("test", test),
    ]:
        x, y = collect(load(source, split, validation_size=10, shuffle=False))
        np.testing.assert_array_equal(
            np.round(x[..., 0] * 255).astype(np.uint8), expected[0]
        )
        np.testing.assert_array_equal(y, expected[1])


def test_arrays_are_resized():
    images, labels = color_arrays(count=10, size=20)
    dataset, info = load(
        (images, labels), validation_size=0, image_size=(12, 16), with_info=True
    )
    assert info.input_shape == (12, 16, 3)
    x, _ = collect(dataset)
    assert x.shape == (10, 12, 16, 3) and 0 <= x.min() and x.max() <= 1


# === IDX files ===


@pytest.mark.parametrize("gz", [True, False])
def test_idx_dir_matches_its_arrays(tmp_path, gz):
    train = helpers.digit_arrays(60, seed=1)
    test = helpers.digit_arrays(20, seed=2)
    directory = helpers.write_idx_dir(tmp_path / "idx", train, test, gz=gz)
    for split, (start, stop), pair in [
        ("train", (0, 50), train),
        ("validation", (50, 60), train),
        ("test", (0, 20), test),
    ]:
        dataset, info = load(
            directory, split, batch_size=16, shuffle=False, with_info=True
        )
        assert isinstance(dataset, ArraySequence)
        x, y = collect(dataset)
        np.testing.assert_array_equal(
            x[..., 0], pair[0][start:stop] / np.float32(255)
        )
        np.testing.assert_array_equal(y, pair[1][start:stop])
        assert info.num_examples == stop - start and info.classes == 10


# === Image folders and archives ===


def test_image_folder_labels_and_pixels(tmp_path):
    root = helpers.write_image_folder(
        tmp_path / "folder", {"zebra": 6, "ant": 4, "mole": 5}
    )
    dataset, info = load(root, validation_size=0, shuffle=False, with_info=True)
    assert isinstance(dataset, ArraySequence)
    assert info.class_names == ("ant", "mole", "zebra")
    assert info.input_shape == (8, 8, 1) and info.num_examples == 15
    x, y = collect(dataset)
    ids = folder_ids(x)
    np.testing.assert_array_equal([cls for cls, _ in ids], y * 20)
    assert sorted(ids) == sorted(
        (label * 20, i)
        for label, count in enumerate((4, 5, 6))
        for i in range(count)
    )
    # The rest of each image is the gray the helper wrote, exactly.
    np.testing.assert_array_equal(x[:, 1:], np.float32(128) / 255)


def test_image_folder_validation_is_stratified(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"a": 20, "b": 10, "c": 30})
    val = load(root, "validation", validation_size=12)
    train = load(root, validation_size=12)
    val_ids, train_ids = (
        folder_ids(collect(val)[0]),
        folder_ids(collect(train)[0]),
    )
    np.testing.assert_array_equal(np.bincount(collect(val)[1]), [4, 2, 6])
    assert len(train_ids) == 48 and not set(train_ids) & set(val_ids)


def test_image_folder_color_jpeg_and_resizing(tmp_path):
    root = helpers.write_image_folder(
        tmp_path, {"p": 3, "q": 3}, size=(10, 12), channels=3, ext="jpg"
    )
    _, info = load(root, validation_size=0, with_info=True)
    assert info.input_shape == (10, 12, 3)
    dataset, info = load(
        root, validation_size=0, image_size=(16, 16), with_info=True
    )
    assert info.input_shape == (16, 16, 3)
    x, _ = collect(dataset)
    assert x.shape == (6, 16, 16, 3)
    # Quality-100 JPEGs of flat gray images stay close to that gray.
    assert abs(float(np.median(x)) - 128 / 255) < 3 / 255


def test_grayscale_first_image_makes_every_image_gray(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"a": 3, "b": 3})
    color = np.zeros((8, 8, 3), np.uint8)
    color[..., 1] = 200
    (root / "b" / "0002.png").write_bytes(helpers.encode_image(color))
    x, _ = collect(load(root, validation_size=0, shuffle=False))
    assert x.shape[-1] == 1
    # libpng's luma of pure green 200: 200 * 19234 / 32768, truncated.
    assert round(float(x[-1, 4, 4, 0]) * 255) == 200 * 19234 // 32768


def test_images_of_different_sizes_need_image_size(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"a": 3, "b": 3})
    odd = root / "b" / "0001.png"
    odd.write_bytes(helpers.encode_image(np.zeros((9, 8, 1), np.uint8)))
    with pytest.raises(
        ValueError, match=f"{re.escape(str(odd))}.*image_size=None"
    ):
        load(root, validation_size=0)
    _, info = load(root, validation_size=0, image_size=8, with_info=True)
    assert info.input_shape == (8, 8, 1)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_image_is_named(tmp_path, damage):
    root = helpers.write_image_folder(tmp_path, {"a": 4, "b": 4}, channels=3)
    bad = root / "b" / "0002.png"
    data = bad.read_bytes()
    bad.write_bytes(
        {"garbage": b"not an image", "truncated": data[:60], "empty": b""}[
            damage
        ]
    )
    with pytest.raises(
        ValueError,
        match=f"Could not read image file {re.escape(str(bad))}.*Received:",
    ):
        load(root, validation_size=0)


def test_archive_is_extracted_once_and_loaded(tmp_path, cache_dir, monkeypatch):
    helpers.write_image_folder(
        tmp_path / "src" / "train", {"cat": 4, "dog": 5}, channels=3
    )
    archive = helpers.make_tar(
        tmp_path / "src" / "train", tmp_path / "pets.tar.gz", arcname="train"
    )
    dataset, info = load(
        archive,
        cache_dir=cache_dir,
        validation_size=0,
        shuffle=False,
        augment=False,
        with_info=True,
    )
    assert isinstance(dataset, ArraySequence)
    assert info.class_names == ("cat", "dog") and info.num_examples == 9
    assert info.input_shape == (8, 8, 3)
    np.testing.assert_array_equal(np.bincount(collect(dataset)[1]), [4, 5])

    def no_second_extraction(*args, **kwargs):
        raise AssertionError("the archive was opened again")

    monkeypatch.setattr(tarfile, "open", no_second_extraction)
    _, again = load(
        archive, cache_dir=cache_dir, validation_size=0, with_info=True
    )
    assert again == info


# === Shuffling ===


def test_train_reshuffles_every_epoch_and_eval_splits_keep_order():
    source = helpers.id_arrays(200)
    train = load(source, batch_size=50, validation_size=0)
    first = collect(train)[1]
    assert not np.array_equal(first, np.arange(200))
    np.testing.assert_array_equal(collect(train)[1], first)  # same epoch
    train.on_epoch_end()
    second = collect(train)[1]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.arange(200))
    np.testing.assert_array_equal(np.sort(second), np.arange(200))

    ordered = load(source, batch_size=50, validation_size=0, shuffle=False)
    val = load(source, "validation", batch_size=8, validation_size=40)
    for _ in range(2):
        np.testing.assert_array_equal(collect(ordered)[1], np.arange(200))
        np.testing.assert_array_equal(collect(val)[1], np.arange(160, 200))
        ordered.on_epoch_end()
        val.on_epoch_end()


def test_each_for_loop_is_a_new_epoch():
    train = load(helpers.id_arrays(60), batch_size=16, validation_size=0)
    passes = [np.concatenate([y for _, y in train]) for _ in range(3)]
    for labels in passes:
        np.testing.assert_array_equal(np.sort(labels), np.arange(60))
    assert not np.array_equal(passes[0], passes[1])
    assert not np.array_equal(passes[1], passes[2])


def test_same_seed_gives_the_same_epochs_and_another_seed_does_not():
    source = color_arrays()

    def epochs(seed, count=3):
        dataset = load(
            source, batch_size=16, validation_size=0, augment=True, seed=seed
        )
        result = []
        for _ in range(count):
            result.append(collect(dataset))
            dataset.on_epoch_end()
        return result

    a, b, c = epochs(4), epochs(4), epochs(5)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0][1], c[0][1])
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][0], a[1][0])
    # Negative and random seeds work too.
    for seed in (-7, None):
        labels = collect(load(source, validation_size=0, seed=seed))[1]
        np.testing.assert_array_equal(np.sort(labels), np.sort(source[1]))


# === Augmentation ===


def test_augmentation_crops_and_flips_each_image():
    images, labels = color_arrays()
    dataset = load(
        (images, labels), validation_size=0, shuffle=False, augment=True
    )
    x, y = collect(dataset)
    originals = (images / np.float32(255.0)).astype(np.float32)
    changed = 0
    for i in range(len(x)):
        assert is_shift_or_flip(x[i], originals[i])
        changed += not np.array_equal(x[i], originals[i])
    assert changed > len(x) // 2
    np.testing.assert_array_equal(y, labels)
    dataset.on_epoch_end()
    assert not np.array_equal(collect(dataset)[0], x)


def test_random_crop_and_flip_array_matches_a_plain_loop():
    images = np.random.default_rng(1).random((20, 7, 9, 2), dtype=np.float32)
    result = random_crop_and_flip_array(images, np.random.default_rng(8), 3)
    assert result.shape == images.shape and result.dtype == images.dtype
    # Replays the generator's draws: shifts for rows then columns, then
    # flips.
    rng = np.random.default_rng(8)
    shifts = rng.integers(0, 7, size=(2, 20, 1))
    flips = rng.random((20, 1)) < 0.5
    padded = np.pad(images, ((0, 0), (3, 3), (3, 3), (0, 0)))
    for i in range(20):
        dy, dx = int(shifts[0, i, 0]), int(shifts[1, i, 0])
        crop = padded[i, dy : dy + 7, dx : dx + 9]
        if flips[i, 0]:
            crop = crop[:, ::-1]
        np.testing.assert_array_equal(result[i], crop)
    assert 0 < flips.sum() < 20


def test_augment_auto_is_on_for_small_color_images_only():
    color = color_arrays()
    originals = color[0] / np.float32(255.0)

    def unchanged(source, split="train"):
        x, _ = collect(load(source, split, shuffle=False, validation_size=8))
        start = 0 if split == "train" else len(source[0]) - 8
        reference = source[0][start : start + len(x)].astype(np.float32)
        if reference.ndim == 3:
            reference = reference[..., None]
        return np.allclose(x, reference / 255.0)

    assert not unchanged(color)
    assert unchanged(color, "validation")
    assert unchanged(helpers.digit_arrays(40))
    x, _ = collect(load(color, shuffle=False, validation_size=0, augment=False))
    np.testing.assert_allclose(x, originals, atol=1e-6)


# === Training ===


def test_fit_takes_the_dataset_and_validation_data(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"a": 10, "b": 10}, channels=3)
    train, info = load(root, batch_size=4, validation_size=4, with_info=True)
    val = load(root, "validation", batch_size=4, validation_size=4)
    model = keras.Sequential(
        [
            keras.Input(info.input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(info.classes, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(train, validation_data=val, epochs=2, verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))


def test_array_sequence_checks_its_arguments():
    images = np.zeros((4, 2, 2, 1), np.uint8)
    with pytest.raises(ValueError, match="4 images and 3 labels"):
        ArraySequence(images, np.arange(3), 2)
    with pytest.raises(ValueError, match="Received: batch_size=0"):
        ArraySequence(images, np.arange(4), 0)


# A script run with TensorFlow hidden (as if not installed) on a given
# Keras backend. argv: an image folder.
WITHOUT_TENSORFLOW = """
import sys

for name in ("tensorflow", "tensorflow_datasets"):
    sys.modules[name] = None  # `import` fails, `find_spec` finds nothing

import importlib
import pathlib
import pkgutil

import keras
import numpy as np

import keras_gnap
from keras_gnap.datasets import ArraySequence
from keras_gnap.datasets import load

# (`keras_gnap.export` is also a function, hence the names.)
for name in ("keras_gnap.datasets", "keras_gnap.export"):
    package = importlib.import_module(name)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{name}.{module.name}")


class Recording(ArraySequence):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epochs = [[]]

    def __getitem__(self, index):
        batch = super().__getitem__(index)
        self.epochs[-1].extend(batch[1].tolist())
        return batch

    def on_epoch_end(self):
        super().on_epoch_end()
        self.epochs.append([])


def classifier(input_shape, classes):
    model = keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


folder = sys.argv[1]
train, info = load(
    folder, batch_size=4, validation_size=4, augment=True, with_info=True
)
val = load(folder, "validation", batch_size=4, validation_size=4)
assert isinstance(train, ArraySequence) and isinstance(val, ArraySequence)
history = classifier(info.input_shape, info.classes).fit(
    train, validation_data=val, epochs=2, verbose=0
)
assert len(history.history["val_loss"]) == 2, history.history
assert np.all(np.isfinite(history.history["loss"])), history.history

# Every epoch of `fit` sees every example once, in a new order.
images = np.random.default_rng(0).integers(0, 256, (30, 6, 6, 3), np.uint8)
labels = np.arange(30)
recording = Recording(images, labels, 8, shuffle=True, augment=True, seed=2)
classifier((6, 6, 3), 30).fit(
    recording, validation_data=Recording(images, labels, 8), epochs=3,
    verbose=0,
)
# Keras may read a batch to build the model before the first epoch.
epochs = [seen for seen in recording.epochs if seen][-3:]
assert len(epochs) == 3, recording.epochs
for seen in epochs:
    assert sorted(seen) == list(range(30)), seen
assert epochs[0] != epochs[1] != epochs[2], epochs

for call in (
    lambda: load("mnist"),
    lambda: keras_gnap.export(
        classifier((6, 6, 3), 2),
        pathlib.Path(folder).parent / "model.tflite",
        format="tflite",
    ),
):
    try:
        call()
    except ImportError as e:
        assert 'pip install "keras-gnap[tensorflow]"' in str(e), e
    else:
        raise AssertionError("no ImportError")
assert sys.modules.get("tensorflow") is None, "TensorFlow was imported"
print("no tensorflow: ok")
"""


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_load_and_fit_with_tensorflow_hidden(tmp_path, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    root = helpers.write_image_folder(
        tmp_path / "folder", {"a": 10, "b": 10}, channels=3
    )
    env = dict(os.environ, KERAS_BACKEND=backend)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT), env.get("PYTHONPATH", "")]
    )
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TENSORFLOW, str(root)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no tensorflow: ok" in result.stdout


# === Errors that name what to install ===


def test_tfds_name_without_tensorflow_says_what_to_install():
    with pytest.raises(
        ImportError, match=f"'mnist' is not an existing path.*{INSTALL_HINT}"
    ):
        load("mnist")


def test_tfds_name_without_tensorflow_datasets_says_what_to_install(
    monkeypatch,
):
    monkeypatch.setattr(
        tensorflow_support, "tensorflow_available", lambda: True
    )
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(
        ImportError, match=f"`tensorflow_datasets`.*{INSTALL_HINT}"
    ):
        load("cifar10")


@pytest.mark.parametrize("format", ["tflite", "saved_model"])
def test_export_without_tensorflow_says_what_to_install(tmp_path, format):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path / ("model.tflite" if format == "tflite" else "model")
    with pytest.raises(ImportError, match=f"format='{format}'.*{INSTALL_HINT}"):
        keras_gnap.export(model, path, format=format, verbose=False)
    assert not path.exists()


def test_tflite_without_litert_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    with pytest.raises(ImportError, match=f"`ai_edge_litert`.*{INSTALL_HINT}"):
        tflite_predict(b"", np.zeros((1, 4), np.float32))


# === Agreement with TensorFlow ===


def _png_variants():
    """PNG files of every kind libpng treats differently."""
    from PIL import Image
    from PIL import PngImagePlugin

    rng = np.random.default_rng(7)
    # Large enough for rare rounding differences to show.
    shape = (48, 64)
    rgb = rng.integers(0, 256, shape + (3,), dtype=np.uint8)
    gamma = PngImagePlugin.PngInfo()
    gamma.add(b"gAMA", (45455).to_bytes(4, "big"))
    srgb = PngImagePlugin.PngInfo()
    srgb.add(b"sRGB", b"\x00")
    palette = Image.fromarray(rgb).quantize(40)
    return {
        "gray": (Image.fromarray(rng.integers(0, 256, shape, np.uint8)), {}),
        "rgb": (Image.fromarray(rgb), {}),
        "rgba": (
            Image.fromarray(rng.integers(0, 256, shape + (4,), np.uint8)),
            {},
        ),
        "gray_alpha": (
            Image.fromarray(rng.integers(0, 256, shape + (2,), np.uint8), "LA"),
            {},
        ),
        "palette": (palette, {}),
        "palette_transparency": (palette, {"transparency": 3}),
        "gray16": (
            Image.fromarray(rng.integers(0, 2**16, shape, np.uint16)),
            {},
        ),
        "bilevel": (Image.fromarray(rng.random(shape) < 0.5), {}),
        "rgb_gamma": (Image.fromarray(rgb), {"pnginfo": gamma}),
        "rgb_srgb": (Image.fromarray(rgb), {"pnginfo": srgb}),
    }


@requires_tensorflow
def test_png_pixels_are_exactly_tensorflows(tmp_path):
    import tensorflow as tf

    for name, (image, options) in _png_variants().items():
        path = tmp_path / f"{name}.png"
        image.save(path, "PNG", **options)
        data = path.read_bytes()
        natural = tf.io.decode_image(data, expand_animations=False)
        decoded = image_folder.decode_images([str(path)], "s")[0]
        assert (decoded.shape[-1] == 1) == (natural.shape[-1] == 1), name
        for channels in (1, 3):
            expected = tf.io.decode_image(
                data, channels=channels, expand_animations=False
            ).numpy()
            received = image_folder.decode_images(
                [str(path)], "s", channels=channels
            )[0]
            np.testing.assert_array_equal(
                received, expected, err_msg=f"{name}, channels={channels}"
            )


@requires_tensorflow
def test_jpeg_pixels_are_close_to_tensorflows(tmp_path):
    import tensorflow as tf

    # A smooth image, as photos are; noise would exaggerate the
    # difference between the two DCTs.
    rows, columns = np.mgrid[0:32, 0:32]
    image = np.stack(
        [rows * 3 + 40, columns * 5, (rows + columns) * 2 + 60], axis=-1
    ).astype(np.uint8)
    path = tmp_path / "smooth.jpg"
    path.write_bytes(helpers.encode_image(image, "jpg"))
    for channels in (1, 3):
        expected = tf.io.decode_image(path.read_bytes(), channels=channels)
        received = image_folder.decode_images(
            [str(path)], "s", channels=channels
        )[0]
        difference = np.abs(received.astype(int) - expected.numpy())
        assert difference.max() <= 6 and difference.mean() < 2


@requires_tensorflow
@pytest.mark.parametrize(
    "size,new_size",
    [((32, 32), (16, 16)), ((28, 28), (20, 24)), ((10, 12), (16, 16))],
)
def test_resizing_is_close_to_tensorflows(monkeypatch, size, new_size):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6,) + size + (3,), dtype=np.uint8)
    floats = images.astype(np.float32) / 255
    pillow = resize_images(images, new_size), resize_images(floats, new_size)
    monkeypatch.setattr(
        tensorflow_support, "tensorflow_available", lambda: True
    )
    tensorflow = (
        resize_images(images, new_size),
        resize_images(floats, new_size),
    )
    assert pillow[0].dtype == np.uint8 and pillow[1].dtype == np.float32
    difference = np.abs(pillow[0].astype(int) - tensorflow[0])
    assert difference.max() <= 1 and (difference == 0).mean() > 0.99
    np.testing.assert_allclose(pillow[1], tensorflow[1], atol=1e-5)


@requires_tensorflow
def test_load_agrees_with_the_tensorflow_pipeline(tmp_path, monkeypatch):
    root = helpers.write_image_folder(
        tmp_path, {"a": 5, "b": 7}, size=(10, 10), channels=3
    )
    arrays = color_arrays(count=20, size=12)

    def both(source, **kwargs):
        options = dict(validation_size=0, shuffle=False, augment=False)
        sequence = collect(load(source, **options, **kwargs))
        monkeypatch.setattr(
            tensorflow_support, "tensorflow_available", lambda: True
        )
        pipeline = collect(load(source, **options, **kwargs))
        monkeypatch.setattr(
            tensorflow_support, "tensorflow_available", lambda: False
        )
        np.testing.assert_array_equal(sequence[1], pipeline[1])
        return sequence[0], pipeline[0]

    for source in (root, arrays):
        sequence, pipeline = both(source)
        np.testing.assert_array_equal(sequence, pipeline)
        sequence, pipeline = both(source, image_size=(7, 9))
        np.testing.assert_allclose(sequence, pipeline, atol=1.01 / 255)
