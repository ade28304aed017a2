"""The one GNAP policy: what differs by dataset, chosen by rules from the data.

Everything that decides how GNAP grows and prunes is the same for every
dataset: `keras_gnap.GrowthCallback()` with no arguments, `build_gnap`'s
sparsity and Adam from 0.01 with cosine decay. What may differ is chosen
from the data alone, by `settings_for`:

- Starting preset: `"mnist"` (8-8 / 16-16 / 16) for one-channel images,
  `"cifar"` (32-32 / 64-64 / 128-128) for colour images (the rule of
  `build_gnap(preset="auto")`).
- Epochs: 40 for one-channel images, 200 for colour images: colour photos
  need several times more passes before the validation loss saturates.
- Batch size: 128.
- Augmentation (`keras_gnap.layers.RandomAugmentation`, inside the
  compiled training step): one-channel images (digits, glyphs, garments)
  are turned by up to 10 degrees, zoomed by up to 10% and shifted by up to
  7% of their side (2 pixels at 28), never flipped, since a flipped glyph
  is another glyph or none; colour photos are shifted by up to 1/8 of
  their side (4 pixels at 32) and flipped left to right.

`BENCHMARKS` names the data of each benchmark: one short entry each. The
reduced CIFAR-10 protocol is the one exception to the rules: a starting
preset and epochs that fit a 2-core CPU in under an hour.
"""

import copy

# Adam's initial learning rate, decayed to 0 by a cosine over all the steps.
LEARNING_RATE = 0.01
BATCH_SIZE = 128

# Benchmarks: where their data is and, for the reduced protocol, what it
# overrides. `shared_path` is relative to the shared data folder beside
# the repository; `system_path` is a package's install folder.
BENCHMARKS = {
    "mnist": {"shared_path": "mnist"},
    "fashion_mnist": {
        "shared_path": "fashion_mnist",
        "system_path": "/usr/share/datasets/fashion-mnist",
    },
    "cifar10": {"shared_path": "cifar10/cifar10-train-jpg.tar.gz"},
    "cifar10_reduced": {
        "shared_path": "cifar10/cifar10-train-jpg.tar.gz",
        "preset": "cifar_small",
        "epochs": 18,
    },
}

# Targets from the paper's abstract (see the method's documentation).
TARGETS = {
    "mnist": {"accuracy": 0.9944, "effective_params": 6200},
    "cifar10": {"accuracy": 0.922, "effective_params": 157800},
    "cifar10_reduced": {"accuracy": 0.922, "effective_params": 157800},
}


def settings_for(input_shape):
    """Returns the settings the rules choose for images of `input_shape`.

    Args:
        input_shape: tuple of 3 ints `(height, width, channels)`.

    Returns:
        A dict with `preset`, `epochs`, `batch_size`, `learning_rate` and
        `augmentation` (the keyword arguments of `RandomAugmentation`).

    Raises:
        ValueError: if `input_shape` is not 3 positive integers.
    """
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(isinstance(d, int) and d > 0 for d in input_shape)
    ):
        raise ValueError(
            "Argument `input_shape` must be 3 positive integers (height, "
            f"width, channels). Received: input_shape={input_shape!r}"
        )
    side = min(input_shape[:2])
    if input_shape[-1] == 1:
        augmentation = {
            "padding": max(1, round(0.07 * side)),
            "flip": False,
            "rotation": 10.0,
            "zoom": 0.1,
        }
        preset, epochs = "mnist", 40
    else:
        augmentation = {
            "padding": max(1, round(side / 8)),
            "flip": True,
            "rotation": 0.0,
            "zoom": 0.0,
        }
        preset, epochs = "cifar", 200
    return {
        "preset": preset,
        "epochs": epochs,
        "batch_size": BATCH_SIZE,
        "learning_rate": LEARNING_RATE,
        "augmentation": augmentation,
    }


def benchmark(name):
    """Returns a copy of the entry of benchmark `name`.

    Args:
        name: str. One of `BENCHMARKS`.

    Returns:
        A dict, safe to modify, with `name` added.

    Raises:
        ValueError: if `name` is not a benchmark.
    """
    if name not in BENCHMARKS:
        raise ValueError(
            f"Argument `name` must be one of {sorted(BENCHMARKS)}. "
            f"Received: name={name!r}"
        )
    entry = copy.deepcopy(BENCHMARKS[name])
    entry["name"] = name
    return entry
