"""Tests of `keras_gnap.datasets.load` on every kind of source."""

import dataclasses
import gzip
import os
import re
import tarfile
import time
from pathlib import Path

import data_helpers as helpers
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gnap.datasets import DatasetInfo
from keras_gnap.datasets import load
from keras_gnap.datasets import tfds_source

requires_mnist = pytest.mark.skipif(
    not (helpers.MNIST_DIR / "train-images-idx3-ubyte.gz").exists(),
    reason=f"shared MNIST data not found in {helpers.MNIST_DIR}",
)
requires_cifar10 = pytest.mark.skipif(
    not helpers.CIFAR10_TAR.exists(),
    reason=f"shared CIFAR-10 tarball not found at {helpers.CIFAR10_TAR}",
)
requires_fashion_mnist = pytest.mark.skipif(
    not (helpers.FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists(),
    reason="Fashion-MNIST not installed (Debian package "
    "dataset-fashion-mnist, in /usr/share/datasets/fashion-mnist)",
)


def collect(dataset):
    """All `(images, labels)` of a dataset as two NumPy arrays."""
    images, labels = [], []
    for x, y in dataset:
        images.append(x.numpy())
        labels.append(y.numpy())
    return np.concatenate(images), np.concatenate(labels)


def labels_of(dataset):
    return np.concatenate([y.numpy() for _, y in dataset])


def folder_ids(images):
    """(class pixel, index pixel) of images from `write_image_folder`."""
    pixels = np.round(images[:, 0, :2, 0] * 255).astype(int)
    return [tuple(p) for p in pixels]


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


# === NumPy arrays ===


def test_arrays_uint8_are_scaled_and_get_a_channel_axis():
    images, labels = helpers.digit_arrays(50)
    dataset, info = load(
        (images, labels), batch_size=16, validation_size=0, with_info=True
    )
    x, y = collect(
        load((images, labels), batch_size=16, validation_size=0, shuffle=False)
    )
    assert dataset.element_spec[0].dtype == tf.float32
    assert dataset.element_spec[1].dtype == tf.int32
    assert x.shape == (50, 28, 28, 1)
    np.testing.assert_allclose(x[..., 0], images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    assert info == DatasetInfo(
        input_shape=(28, 28, 1),
        classes=10,
        class_names=None,
        num_examples=50,
        split="train",
        source="arrays",
    )
    assert [len(b) for b, _ in dataset] == [16, 16, 16, 2]


def test_arrays_float_are_used_as_they_are():
    images = np.random.default_rng(0).random((20, 6, 6, 3)).astype("float64")
    labels = np.arange(20) % 2
    x, y = collect(
        load((images, labels), validation_size=0, shuffle=False, augment=False)
    )
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, images, atol=1e-6)
    np.testing.assert_array_equal(y, labels)


def test_arrays_in_load_data_layout_have_a_test_split():
    train = helpers.digit_arrays(30, seed=1)
    test = helpers.digit_arrays(12, seed=2)
    dataset, info = load((train, test), split="test", with_info=True)
    x, y = collect(dataset)
    assert info.num_examples == 12 and info.split == "test"
    np.testing.assert_allclose(x[..., 0], test[0] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, test[1])


def test_arrays_without_test_split_raise():
    with pytest.raises(ValueError, match="no test split.*split='test'"):
        load(helpers.digit_arrays(10), split="test")


def test_fit_runs_on_the_loaded_dataset():
    images, labels = helpers.digit_arrays(64, size=12)
    train, info = load((images, labels), batch_size=16, with_info=True)
    model = keras.Sequential(
        [
            keras.Input(info.input_shape),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(info.classes, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    # The dataset shuffles itself; fit(shuffle=True) would only warn.
    history = model.fit(train, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


def test_arrays_are_resized_and_keep_the_stored_size_split_rule():
    source = helpers.id_arrays(60)
    dataset, info = load(source, "validation", image_size=32, with_info=True)
    # 28x28 as stored: the 1/6 rule applies even though the model sees 32x32.
    assert info.num_examples == 10 and info.input_shape == (32, 32, 1)
    x, _ = collect(dataset)
    assert x.shape == (10, 32, 32, 1)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_dataset_info_is_frozen():
    _, info = load(helpers.digit_arrays(12), with_info=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.classes = 3


# === Validation split ===


@pytest.mark.parametrize(
    "shape,validation_size,expected",
    [
        ((28, 28), None, 100),  # 1/6 for 28x28 images
        ((32, 32, 3), None, 60),  # 1/10 otherwise
        ((28, 28), 37, 37),
        ((28, 28), 0.25, 150),
        ((28, 28), 0.0001, 1),  # a positive fraction holds out one at least
    ],
)
def test_validation_size(shape, validation_size, expected):
    source = helpers.id_arrays(600, shape)
    _, val_info = load(
        source, "validation", validation_size=validation_size, with_info=True
    )
    _, train_info = load(
        source, "train", validation_size=validation_size, with_info=True
    )
    assert val_info.num_examples == expected
    assert train_info.num_examples == 600 - expected


def test_validation_is_the_disjoint_tail_and_deterministic():
    source = helpers.id_arrays(120)
    train = labels_of(load(source, "train", batch_size=7, seed=1))
    train_other_seed = labels_of(load(source, "train", batch_size=7, seed=2))
    val = labels_of(load(source, "validation", batch_size=7))
    val_again = labels_of(load(source, "validation", batch_size=7, seed=5))
    np.testing.assert_array_equal(val, np.arange(100, 120))
    np.testing.assert_array_equal(val, val_again)
    np.testing.assert_array_equal(np.sort(train), np.arange(100))
    # The train split is shuffled, differently for another seed.
    assert not np.array_equal(train, np.arange(100))
    assert not np.array_equal(train, train_other_seed)


def test_validation_size_zero_keeps_all_and_has_no_validation():
    source = helpers.id_arrays(30)
    _, info = load(source, validation_size=0, with_info=True)
    assert info.num_examples == 30
    with pytest.raises(ValueError, match="validation_size=0"):
        load(source, "validation", validation_size=0)


@pytest.mark.parametrize("validation_size", [30, 31, 0.9999])
def test_validation_size_leaving_no_training_data_raises(validation_size):
    with pytest.raises(ValueError, match="Received: validation_size="):
        load(helpers.id_arrays(30), validation_size=validation_size)


# === Shuffling and augmentation ===


def test_train_reshuffles_every_epoch_and_eval_splits_keep_order():
    source = helpers.id_arrays(200)
    train = load(source, batch_size=50, validation_size=0)
    first, second = labels_of(train), labels_of(train)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))
    ordered = load(source, batch_size=50, validation_size=0, shuffle=False)
    np.testing.assert_array_equal(labels_of(ordered), np.arange(200))
    val = load(source, "validation", batch_size=8, shuffle=True)
    assert not np.array_equal(labels_of(val), np.arange(200 - 33, 200))


def _is_shift_or_flip(augmented, original, padding=4):
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


def _color_arrays(count=64, size=32):
    rng = np.random.default_rng(3)
    images = rng.integers(1, 256, (count, size, size, 3), dtype=np.uint8)
    return images, np.arange(count) % 10


def test_augmentation_crops_and_flips_each_image():
    images, labels = _color_arrays()
    dataset = load(
        (images, labels), validation_size=0, shuffle=False, augment=True
    )
    x, y = collect(dataset)
    originals = images / np.float32(255.0)
    changed = 0
    for i in range(len(x)):
        assert _is_shift_or_flip(x[i], originals[i].astype(np.float32))
        changed += not np.array_equal(x[i], originals[i])
    assert changed > len(x) // 2
    np.testing.assert_array_equal(y, labels)


def test_augmentation_is_seeded_and_varies_by_epoch():
    source = _color_arrays()

    def first_batch(dataset):
        return next(iter(dataset))[0].numpy()

    a = load(source, validation_size=0, shuffle=False, augment=True, seed=4)
    b = load(source, validation_size=0, shuffle=False, augment=True, seed=4)
    c = load(source, validation_size=0, shuffle=False, augment=True, seed=5)
    epoch_1 = first_batch(a)
    np.testing.assert_array_equal(epoch_1, first_batch(b))
    assert not np.array_equal(epoch_1, first_batch(c))
    assert not np.array_equal(epoch_1, first_batch(a))  # a's second epoch


def test_augment_auto_is_on_for_small_color_images_only():
    color = _color_arrays()
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


def test_augment_true_on_an_evaluation_split_raises():
    with pytest.raises(ValueError, match="augment=True with split='test'"):
        load(helpers.digit_arrays(10), "test", augment=True)


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
        dataset, info = load(directory, split, shuffle=False, with_info=True)
        x, y = collect(dataset)
        np.testing.assert_allclose(
            x[..., 0], pair[0][start:stop] / 255.0, atol=1e-6
        )
        np.testing.assert_array_equal(y, pair[1][start:stop])
        assert info.input_shape == (28, 28, 1)
        assert info.classes == 10
        assert info.source == str(directory)


def test_idx_dir_without_test_files_has_no_test_split(tmp_path):
    directory = helpers.write_idx_dir(tmp_path, helpers.digit_arrays(12))
    with pytest.raises(ValueError, match="no test split.*t10k-images"):
        load(directory, "test")


@requires_mnist
@pytest.mark.parametrize("gz", [True, False])
def test_mnist_subset_from_shared_data(tmp_path, gz):
    images = helpers.read_gz_idx_head(
        helpers.MNIST_DIR / "train-images-idx3-ubyte.gz", 600
    )
    labels = helpers.read_gz_idx_head(
        helpers.MNIST_DIR / "train-labels-idx1-ubyte.gz", 600
    )
    directory = helpers.write_idx_dir(tmp_path, (images, labels), gz=gz)
    val, info = load(directory, "validation", with_info=True)
    x, y = collect(val)
    assert info.num_examples == 100  # the last 1/6, as 10,000 of 60,000
    np.testing.assert_allclose(x[..., 0], images[500:] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(y, labels[500:])
    assert set(np.unique(y)) == set(range(10))
    train, info = load(directory, with_info=True)
    assert info.num_examples == 500
    np.testing.assert_array_equal(
        np.sort(labels_of(train)), np.sort(labels[:500])
    )


@requires_mnist
def test_full_shared_mnist_has_the_usual_validation_split():
    _, info = load(helpers.MNIST_DIR, "validation", with_info=True)
    assert (info.num_examples, info.input_shape) == (10_000, (28, 28, 1))


@requires_fashion_mnist
def test_fashion_mnist_from_the_debian_package():
    test, info = load(helpers.FASHION_MNIST_DIR, "test", with_info=True)
    assert info.num_examples == 10_000
    assert info.classes == 10 and info.input_shape == (28, 28, 1)
    x, y = next(iter(test))
    assert x.shape == (128, 28, 28, 1) and 0.0 <= x.numpy().min()
    assert x.numpy().max() <= 1.0
    _, info = load(helpers.FASHION_MNIST_DIR, "validation", with_info=True)
    assert info.num_examples == 10_000


# === Image folders and archives ===


def test_image_folder_labels_follow_sorted_class_names(tmp_path):
    root = helpers.write_image_folder(
        tmp_path / "folder", {"zebra": 6, "ant": 4, "mole": 5}
    )
    dataset, info = load(root, validation_size=0, shuffle=False, with_info=True)
    x, y = collect(dataset)
    assert info.class_names == ("ant", "mole", "zebra")
    assert info.input_shape == (8, 8, 1) and info.num_examples == 15
    class_pixels = np.array([cls for cls, _ in folder_ids(x)])
    np.testing.assert_array_equal(class_pixels, y * 20)
    np.testing.assert_array_equal(np.bincount(y), [4, 5, 6])


def test_image_folder_validation_is_stratified_and_fixed(tmp_path):
    counts = {"a": 20, "b": 10, "c": 30}
    root = helpers.write_image_folder(tmp_path / "one", counts)
    # Same files written in another order: the split must not change.
    other = tmp_path / "two"
    for name in reversed(sorted(counts)):
        for path in sorted((root / name).iterdir(), reverse=True):
            (other / name).mkdir(parents=True, exist_ok=True)
            (other / name / path.name).write_bytes(path.read_bytes())
    val, info = load(root, "validation", validation_size=12, with_info=True)
    val_ids = folder_ids(collect(val)[0])
    assert info.num_examples == 12
    assert (
        folder_ids(collect(load(other, "validation", validation_size=12))[0])
        == val_ids
    )
    np.testing.assert_array_equal(np.bincount(labels_of(val)), [4, 2, 6])
    train_ids = folder_ids(collect(load(root, validation_size=12))[0])
    assert len(train_ids) == 48
    assert not set(train_ids) & set(val_ids)


def test_image_folder_with_train_and_test_folders(tmp_path):
    helpers.write_image_folder(tmp_path / "train", {"x": 5, "y": 5})
    helpers.write_image_folder(tmp_path / "test", {"x": 2, "y": 3})
    test, info = load(tmp_path, "test", with_info=True)
    assert info.num_examples == 5 and info.class_names == ("x", "y")
    np.testing.assert_array_equal(np.sort(labels_of(test)), [0, 0, 1, 1, 1])
    _, info = load(tmp_path, "train", validation_size=0, with_info=True)
    assert info.num_examples == 10


def test_image_folder_channels_follow_the_first_training_image(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"a": 6, "b": 6})
    color = np.zeros((8, 8, 3), np.uint8)
    color[..., 0] = 255
    (root / "b" / "0005.png").write_bytes(tf.io.encode_png(color).numpy())
    for split in ("train", "validation"):
        dataset, info = load(root, split, validation_size=4, with_info=True)
        assert info.input_shape == (8, 8, 1)
        assert collect(dataset)[0].shape[-1] == 1


def test_test_folder_with_unknown_class_raises(tmp_path):
    helpers.write_image_folder(tmp_path / "train", {"x": 2, "y": 2})
    helpers.write_image_folder(tmp_path / "test", {"x": 1, "z": 1})
    with pytest.raises(ValueError, match=r"classes \['z'\]"):
        load(tmp_path, "test")


def test_image_folder_without_test_folder_has_no_test_split(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"x": 2, "y": 2})
    with pytest.raises(ValueError, match="no test split"):
        load(root, "test")


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
    assert collect(dataset)[0].shape == (6, 16, 16, 3)


def test_images_of_different_sizes_need_image_size(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"a": 3, "b": 3})
    odd = root / "b" / "0001.png"
    odd.write_bytes(tf.io.encode_png(np.zeros((9, 8, 1), np.uint8)).numpy())
    with pytest.raises(
        ValueError, match=f"{re.escape(str(odd))}.*image_size=None"
    ):
        load(root, validation_size=0)
    _, info = load(root, validation_size=0, image_size=8, with_info=True)
    assert info.input_shape == (8, 8, 1)


def test_archive_is_extracted_once(tmp_path, cache_dir, monkeypatch):
    folder = helpers.write_image_folder(tmp_path / "pets", {"cat": 4, "dog": 4})
    archive = helpers.make_tar(folder, tmp_path / "pets.tar.gz")
    _, info = load(
        archive, cache_dir=cache_dir, validation_size=0, with_info=True
    )
    assert info.class_names == ("cat", "dog") and info.num_examples == 8
    extracted = list((cache_dir / "extracted").iterdir())
    assert len(extracted) == 1 and extracted[0].name.startswith("pets-")

    def no_second_extraction(*args, **kwargs):
        raise AssertionError("the archive was opened again")

    monkeypatch.setattr(tarfile, "open", no_second_extraction)
    _, again = load(
        archive, cache_dir=cache_dir, validation_size=0, with_info=True
    )
    assert again == info
    assert list((cache_dir / "extracted").iterdir()) == extracted


def test_archive_with_train_folder_like_the_cifar_tarball(tmp_path, cache_dir):
    helpers.write_image_folder(
        tmp_path / "src" / "train", {"a": 3, "b": 3}, channels=3
    )
    archive = helpers.make_tar(
        tmp_path / "src" / "train", tmp_path / "t.tgz", arcname="train"
    )
    _, info = load(
        archive, cache_dir=cache_dir, validation_size=0, with_info=True
    )
    assert info.class_names == ("a", "b") and info.input_shape == (8, 8, 3)
    with pytest.raises(ValueError, match="no test split"):
        load(archive, "test", cache_dir=cache_dir)


def test_small_data_loads_quietly(tmp_path, cache_dir, capsys):
    folder = helpers.write_image_folder(tmp_path / "f", {"a": 2, "b": 2})
    load(helpers.make_tar(folder, tmp_path / "f.tar.gz"), cache_dir=cache_dir)
    load(helpers.digit_arrays(20))
    assert capsys.readouterr().out == ""


def test_corrupt_archive_leaves_nothing_behind(tmp_path, cache_dir):
    folder = helpers.write_image_folder(tmp_path / "f", {"a": 4, "b": 4})
    archive = helpers.make_tar(folder, tmp_path / "f.tar.gz")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError, match="Could not extract.*Received: source="
    ):
        load(archive, cache_dir=cache_dir)
    leftovers = list((cache_dir / "extracted").iterdir())
    assert leftovers == []


def test_archive_member_outside_the_folder_is_refused(tmp_path, cache_dir):
    archive = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload.png"
    payload.write_bytes(b"x")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(payload, arcname="../escaped.png")
    with pytest.raises(ValueError, match="escaped.png"):
        load(archive, cache_dir=cache_dir)
    assert list(cache_dir.rglob("*")) == [cache_dir / "extracted"]


@requires_cifar10
def test_cifar10_subset_from_shared_tarball(tmp_path, cache_dir):
    root = helpers.cifar10_subset_folder(tmp_path / "cifar", per_class=30)
    archive = helpers.make_tar(
        root / "train", tmp_path / "c.tar.gz", arcname="train"
    )
    val, info = load(archive, "validation", cache_dir=cache_dir, with_info=True)
    assert info.class_names == helpers.CIFAR10_CLASSES
    assert info.input_shape == (32, 32, 3)
    assert info.num_examples == 30  # 1/10 of 300
    x, y = collect(val)
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [3] * 10)
    assert 0.2 < x.mean() < 0.8  # real photos, not blank decodes
    train, info = load(
        archive, cache_dir=cache_dir, shuffle=False, with_info=True
    )
    assert info.num_examples == 270
    # Auto augmentation is on for CIFAR-like data: epochs differ.
    assert not np.array_equal(
        next(iter(train))[0].numpy(), next(iter(train))[0].numpy()
    )


# === TFDS ===


@pytest.fixture
def mock_tfds(monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    # Mocked data downloads nothing: no host to reach first.
    monkeypatch.setattr(tfds_source, "_download_host", lambda builder: None)
    with tfds.testing.mock_data(num_examples=40):
        yield tfds


def test_tfds_mnist_splits(mock_tfds):
    val, info = load("mnist", "validation", batch_size=8, with_info=True)
    assert info.input_shape == (28, 28, 1) and info.classes == 10
    assert info.num_examples == 7 and info.source == "mnist"  # 40 / 6
    x, y = collect(val)
    assert x.shape == (7, 28, 28, 1) and x.dtype == np.float32
    assert y.dtype == np.int32 and 0.0 <= x.min() and x.max() <= 1.0
    train, info = load("mnist", batch_size=8, with_info=True)
    assert info.num_examples == 33 and len(labels_of(train)) == 33
    _, info = load("mnist", "test", with_info=True)
    assert info.num_examples == 40


def test_tfds_cifar10_is_augmented_and_resizable(mock_tfds):
    train, info = load(
        "cifar10", batch_size=40, shuffle=False, with_info=True, cache=False
    )
    assert info.input_shape == (32, 32, 3) and info.num_examples == 36
    first, second = collect(train), collect(train)
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], second[0])
    plain = collect(load("cifar10", shuffle=False, augment=False))
    np.testing.assert_array_equal(plain[1], first[1])
    assert _is_shift_or_flip(first[0][0], plain[0][0])
    dataset, info = load(
        "cifar10", "validation", image_size=(20, 24), with_info=True
    )
    assert info.input_shape == (20, 24, 3)
    assert collect(dataset)[0].shape == (4, 20, 24, 3)


@pytest.fixture(scope="module")
def tiny_tfds(tmp_path_factory):
    """Two tiny TFDS datasets prepared offline; returns their data_dir.

    Unlike `mock_data`, these honour split slicing, so they check which
    examples end up in which split. Pixel values are example ids.
    """
    tfds = pytest.importorskip("tensorflow_datasets")
    requests = pytest.importorskip("requests")

    class KerasGnapTinyDigits(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict(
                    {
                        "image": tfds.features.Image(shape=(8, 8, 1)),
                        "label": tfds.features.ClassLabel(
                            names=["a", "b", "c"]
                        ),
                    }
                ),
            )

        def _split_generators(self, dl_manager):
            return {
                "train": self._generate_examples(60, 0),
                "test": self._generate_examples(12, 100),
            }

        def _generate_examples(self, count, first_id):
            for i in range(count):
                image = np.full((8, 8, 1), first_id + i, np.uint8)
                yield i, {"image": image, "label": (first_id + i) % 3}

    class KerasGnapTinyNoTest(KerasGnapTinyDigits):
        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(20, 0)}

    class KerasGnapTinyOffline(KerasGnapTinyDigits):
        def _split_generators(self, dl_manager):
            # What TFDS's downloader raises when no host resolves.
            raise requests.exceptions.ConnectionError("Name resolution failed")

    # Registered by their definitions.
    del KerasGnapTinyNoTest, KerasGnapTinyOffline
    return tmp_path_factory.mktemp("tfds")


def test_tfds_splits_of_a_prepared_dataset(tiny_tfds):
    def ids_and_labels(split, **kwargs):
        dataset, info = load(
            "keras_gnap_tiny_digits",
            split,
            data_dir=tiny_tfds,
            shuffle=False,
            with_info=True,
            **kwargs,
        )
        x, y = collect(dataset)
        ids = np.round(x[:, 0, 0, 0] * 255).astype(int)
        np.testing.assert_array_equal(y, ids % 3)  # pairs stay together
        return list(ids), info

    train, info = ids_and_labels("train")
    val, val_info = ids_and_labels("validation")
    assert info.class_names == ("a", "b", "c") and info.classes == 3
    assert (info.num_examples, val_info.num_examples) == (54, 6)  # 1/10
    assert sorted(train + val) == list(range(60))
    assert ids_and_labels("validation")[0] == val
    test, _ = ids_and_labels("test")
    assert sorted(test) == list(range(100, 112))
    all_train, info = ids_and_labels("train", validation_size=0)
    assert all_train[54:] == val and info.num_examples == 60


def test_tfds_dataset_without_test_split_raises(tiny_tfds):
    with pytest.raises(ValueError, match="no test split.*split='test'"):
        load("keras_gnap_tiny_no_test", "test", data_dir=tiny_tfds)


def test_tfds_download_failure_says_how_to_load_offline(tiny_tfds):
    with pytest.raises(
        ConnectionError,
        match="could not download 'keras_gnap_tiny_offline'.*Name resolution"
        ".*local copy.*source='keras_gnap_tiny_offline'",
    ):
        load("keras_gnap_tiny_offline", data_dir=tiny_tfds)


def test_unknown_tfds_name_raises(mock_tfds):
    with pytest.raises(ValueError, match="list_builders.*source='no_such_ds'"):
        load("no_such_ds")


def test_tfds_dataset_without_image_label_features_raises(mock_tfds):
    with pytest.raises(ValueError, match="not an image classification"):
        load("imdb_reviews")


# === Bad input ===


@pytest.mark.parametrize(
    "source,match",
    [
        (Path("does/not/exist"), "does not exist.*source='does/not/exist'"),
        ("./missing_folder", "does not exist.*source='./missing_folder'"),
        ("/no/such/data.tar.gz", "does not exist"),
        (42, "source of type int"),
    ],
)
def test_bad_source_raises(source, match):
    with pytest.raises(ValueError, match=match):
        load(source)


def test_plain_file_source_raises(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hi")
    with pytest.raises(ValueError, match="not a folder or a .tar.gz"):
        load(path)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"split": "valid"}, "Received: split='valid'"),
        ({"batch_size": 0}, "Received: batch_size=0"),
        ({"batch_size": 2.5}, "Received: batch_size=2.5"),
        ({"batch_size": True}, "Received: batch_size=True"),
        ({"validation_size": -1}, "Received: validation_size=-1"),
        ({"validation_size": 1.0}, "Received: validation_size=1.0"),
        ({"validation_size": "10"}, "Received: validation_size='10'"),
        ({"validation_size": True}, "Received: validation_size=True"),
        ({"augment": "yes"}, "Received: augment='yes'"),
        ({"shuffle": 1}, "Received: shuffle=1"),
        ({"seed": 1.5}, "Received: seed=1.5"),
        ({"image_size": (0, 4)}, r"Received: image_size=\(0, 4\)"),
        ({"image_size": (4, 4, 3)}, r"Received: image_size=\(4, 4, 3\)"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load(helpers.digit_arrays(12), **kwargs)


def test_wrong_idx_magic_number_raises(tmp_path):
    directory = helpers.write_idx_dir(tmp_path, helpers.digit_arrays(12))
    # A labels file where the images file should be.
    images = directory / "train-images-idx3-ubyte.gz"
    images.write_bytes((directory / "train-labels-idx1-ubyte.gz").read_bytes())
    with pytest.raises(ValueError, match="magic number is 0x00000801"):
        load(directory)


@pytest.mark.parametrize("gz", [True, False])
def test_truncated_idx_file_raises(tmp_path, gz):
    directory = helpers.write_idx_dir(tmp_path, helpers.digit_arrays(12), gz=gz)
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    path = directory / name
    if gz:
        data = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(data[:-100]))
    else:
        path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match=f"{name} is truncated"):
        load(directory)


def test_cut_gzip_stream_raises(tmp_path):
    directory = helpers.write_idx_dir(tmp_path, helpers.digit_arrays(12))
    path = directory / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(ValueError, match="Could not read IDX file"):
        load(directory)


def test_idx_count_mismatch_raises(tmp_path):
    images, labels = helpers.digit_arrays(12)
    directory = helpers.write_idx_dir(tmp_path, (images, labels[:11]))
    with pytest.raises(ValueError, match="12 images but 11 labels"):
        load(directory)


def test_array_count_mismatch_raises():
    images, labels = helpers.digit_arrays(12)
    with pytest.raises(ValueError, match="12 images but 10 labels"):
        load((images, labels[:10]))


def test_test_labels_outside_training_classes_raise(tmp_path):
    train = helpers.digit_arrays(20, classes=5)
    test_images, test_labels = helpers.digit_arrays(6, classes=5)
    test_labels[3] = 7
    directory = helpers.write_idx_dir(
        tmp_path, train, (test_images, test_labels)
    )
    with pytest.raises(ValueError, match=r"in \[0, 5\).*label 7"):
        load(directory, "test")
    with pytest.raises(ValueError, match=r"in \[0, 5\).*label 7"):
        load((train, (test_images, test_labels)), "test")


@pytest.mark.parametrize(
    "labels,match",
    [
        (np.array([0, 1, -1, 2]), "label -1"),
        (np.array([0.0, 1.5, 1.0, 0.0]), "integer class indices"),
        (np.eye(4), "not one-hot"),
    ],
)
def test_bad_array_labels_raise(labels, match):
    images = np.zeros((4, 5, 5), np.uint8)
    with pytest.raises(ValueError, match=match):
        load((images, labels))


def test_bad_array_images_raise():
    with pytest.raises(ValueError, match=r"shape=\(4, 5\)"):
        load((np.zeros((4, 5), np.uint8), np.zeros(4)))
    with pytest.raises(ValueError, match="uint8.*dtype=int64"):
        load((np.zeros((4, 5, 5), np.int64), np.zeros(4)))


def test_empty_image_folder_raises(tmp_path):
    with pytest.raises(ValueError, match="no class subfolders"):
        load(tmp_path)


def test_single_class_image_folder_raises(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"only": 3})
    with pytest.raises(ValueError, match="single class subfolder.*'only'"):
        load(root)


def test_class_folder_without_images_raises(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"a": 3, "b": 3})
    (root / "c").mkdir()
    (root / "c" / "readme.txt").write_text("no images here")
    with pytest.raises(ValueError, match="has no images"):
        load(root)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_image_is_named(tmp_path, damage):
    root = helpers.write_image_folder(
        tmp_path, {"a": 12, "b": 12}, channels=3, ext="jpg"
    )
    bad = root / "b" / "0007.jpg"
    data = bad.read_bytes()
    bad.write_bytes(
        {"garbage": b"not an image", "truncated": data[:40], "empty": b""}[
            damage
        ]
    )
    with pytest.raises(
        ValueError, match=f"Could not read image file {re.escape(str(bad))}"
    ):
        load(root, validation_size=0)


def test_first_image_corrupt_is_named(tmp_path):
    root = helpers.write_image_folder(tmp_path, {"a": 2, "b": 2})
    bad = root / "a" / "0000.png"
    bad.write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        load(root)


def test_unreadable_image_is_named(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root can read files without read permission")
    root = helpers.write_image_folder(tmp_path, {"a": 3, "b": 3})
    bad = root / "b" / "0002.png"
    bad.chmod(0)
    with pytest.raises(ValueError, match=re.escape(str(bad))):
        load(root, validation_size=0)


def test_nan_or_inf_in_arrays_is_caught_when_loaded():
    images = np.zeros((6, 4, 4, 1), "float32")
    images[4, 1, 2, 0] = np.nan
    labels = np.arange(6) % 2
    with pytest.raises(ValueError, match="image 4 holds NaN or Inf"):
        load((images, labels), validation_size=0)
    images[4] = 0.0
    images[2, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="image 2 holds NaN or Inf"):
        load((images, labels), validation_size=0)
    images[2] = 0.0
    bad_labels = labels.astype("float32")
    bad_labels[3] = np.nan
    with pytest.raises(ValueError, match="label 3 is nan"):
        load((images, bad_labels), validation_size=0)


def test_an_offline_tfds_name_fails_at_once_and_writes_nothing(
    tmp_path, monkeypatch
):
    pytest.importorskip("tensorflow_datasets")

    def unreachable(address, timeout=None):
        raise OSError("Name or service not known")

    # As on a machine without network, whatever this one has.
    monkeypatch.setattr(tfds_source.socket, "create_connection", unreachable)
    started = time.perf_counter()
    with pytest.raises(ConnectionError) as raised:
        load("mnist", data_dir=tmp_path / "tfds")
    assert time.perf_counter() - started < 30
    message = str(raised.value)
    assert "storage.googleapis.com" in message and "local copy" in message
    assert not [p for p in (tmp_path / "tfds").rglob("*") if p.is_file()]
