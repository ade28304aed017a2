"""Train GNAP on your own images: a folder with one subfolder per class.

    my_images/
        cat/  0001.jpg 0002.jpg ...
        dog/  0001.jpg ...

Classes are the sorted subfolder names. A folder holding `train/` (and
optionally `test/`) such folders, or a `.tar.gz` of one, works too. The
images must all have the same size. The last images of each class (1/10
of them, 1/6 for 28x28 images) are held out for validation.

`keras_gnap.training.train` chooses from the images what the default
recipe chooses: the starting network, the epochs (40 for grey images,
200 for colour ones) and the augmentation. Writes the model
(`model.keras`), the class names (`classes.json`) and two plots
(`history.png`, `sparsity.png`) into `--output`:

    python examples/own_images.py my_images
    python examples/own_images.py my_images --epochs 30 --output runs/pets
"""

import argparse
import json
from pathlib import Path

import keras_gnap
from keras_gnap import training


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "folder",
        help="Image folder (one subfolder per class) or a .tar.gz of one.",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="Default: the recipe's, 40 for grey and 200 for colour images.",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="Quick try: use only the first N training and N validation "
        "images.",
    )
    parser.add_argument(
        "--output", default="runs/own_images", help="Output folder."
    )
    return parser.parse_args()


def main():
    args = parse_args()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    # The (smaller) validation split is enough to learn the class names.
    _, info = keras_gnap.datasets.load(
        args.folder, split="validation", with_info=True
    )
    print(f"{info.classes} classes: {', '.join(info.class_names)}")

    model, record = training.train(
        args.folder, epochs=args.epochs, limit=args.limit
    )

    keras_gnap.summary(model)
    print(f"Validation accuracy: {record['validation_accuracy']:.2%}")
    print(f"Effective parameters: {record['effective_params']:,}")

    model.save(output / "model.keras")
    # The model predicts class indices: keep the names they stand for.
    (output / "classes.json").write_text(json.dumps(info.class_names))
    keras_gnap.plot_history(record, path=output / "history.png")
    keras_gnap.plot_sparsity(model, path=output / "sparsity.png")
    print(f"Model, class names and plots written to {output}/")


if __name__ == "__main__":
    main()
