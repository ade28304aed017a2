"""Train GNAP on MNIST with the plain Keras flow: load, build, fit, save.

The network starts small, prunes its own weights while it trains and grows
wider each time the validation loss stops improving (`GrowthCallback`).
Writes the model (`model.keras`) and two plots (`history.png`,
`sparsity.png`) into `--output`:

    python examples/mnist.py                             # MNIST from TFDS
    python examples/mnist.py --data ../shared/data/mnist # local IDX files
    python examples/mnist.py --limit 1000 --epochs 2     # a quick try

The 40 epochs take about an hour on a 2-core CPU, minutes on a GPU.
"""

import argparse
import math
from pathlib import Path

import keras

import keras_gnap
from keras_gnap import training

BATCH_SIZE = 128


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default="mnist",
        help="TFDS name (needs network) or a folder of MNIST IDX files. "
        "Default: mnist.",
    )
    parser.add_argument("--epochs", type=int, default=40, help="Default: 40.")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="Quick try: use only the first N training and N validation "
        "images.",
    )
    parser.add_argument(
        "--output", default="runs/mnist_example", help="Output folder."
    )
    return parser.parse_args()


def load_splits(data, limit):
    """Returns `(train, validation, input_shape, classes, train_examples)`."""
    if limit:
        train, val, info = training.load_data(data, BATCH_SIZE, limit=limit)
        shape, classes = tuple(info["input_shape"]), info["classes"]
        return train, val, shape, classes, info["train_examples"]
    train, info = keras_gnap.datasets.load(
        data, split="train", batch_size=BATCH_SIZE, with_info=True
    )
    val = keras_gnap.datasets.load(
        data, split="validation", batch_size=BATCH_SIZE
    )
    return train, val, info.input_shape, info.classes, info.num_examples


def main():
    args = parse_args()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    train, val, input_shape, classes, examples = load_splits(
        args.data, args.limit
    )

    # Digits are turned, zoomed and shifted a little, never flipped. The
    # augmentation runs in the training step only, not in the saved network.
    augmentation = keras_gnap.layers.RandomAugmentation(
        padding=2, rotation=10.0, zoom=0.1
    )
    model = keras_gnap.build_gnap(
        input_shape, classes, augmentation=augmentation
    )

    # Adam from 0.01, decayed to 0 by a cosine over the whole run; at each
    # growth, GrowthCallback restarts the schedule over the steps left.
    steps = args.epochs * math.ceil(examples / BATCH_SIZE)
    schedule = keras.optimizers.schedules.CosineDecay(0.01, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    growth = keras_gnap.GrowthCallback()
    history = model.fit(
        train,
        validation_data=val,
        epochs=args.epochs,
        callbacks=[growth],
        shuffle=False,  # The dataset shuffles itself.
    )

    # The model you hold is the grown and pruned one.
    keras_gnap.summary(model)
    accuracy = model.evaluate(val, verbose=0, return_dict=True)["accuracy"]
    print(f"Validation accuracy: {accuracy:.2%}")
    print(f"Effective parameters: {keras_gnap.count_params(model):,}")
    print(f"Growths at epochs: {[e['epoch'] for e in growth.growth_events]}")

    model.save(output / "model.keras")
    keras_gnap.plot_history(history, path=output / "history.png")
    keras_gnap.plot_sparsity(model, path=output / "sparsity.png")
    print(f"Model and plots written to {output}/")


if __name__ == "__main__":
    main()
