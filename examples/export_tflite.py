"""Export a trained GNAP model to TFLite and check it in LiteRT.

Takes a `.keras` model saved by the other examples (or by `python -m
keras_gnap train`), removes its dead units, folds batch normalisation,
writes a TFLite file (float32, or quantized with `--quantize`) and prints
its size and latency. Then it runs the TFLite model in the LiteRT
interpreter and compares its predictions with the Keras model's: on the
validation images of `--data` (accuracy of both), or on random images.

    python examples/export_tflite.py runs/mnist_example/model.keras
    python examples/export_tflite.py runs/mnist_example/model.keras \\
        --quantize int8 --data ../shared/data/mnist

int8 quantization calibrates activation ranges on training images of
`--data`, which it therefore needs. Needs TensorFlow and ai-edge-litert
(`pip install "keras-gnap[tensorflow]"`).
"""

import argparse
from pathlib import Path

import keras
import numpy as np

import keras_gnap
from keras_gnap.export import tflite_predict


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="A saved GNAP model (.keras).")
    parser.add_argument(
        "--output", help="TFLite file. Default: the model's path, .tflite."
    )
    parser.add_argument(
        "--quantize",
        choices=("dynamic", "int8"),
        help="dynamic: int8 weights; int8: int8 weights and activations. "
        "Default: float32.",
    )
    parser.add_argument(
        "--data",
        help="The model's data, as keras_gnap.datasets.load reads it (TFDS "
        "name, IDX folder, image folder): calibrates int8 and checks "
        "accuracy on its validation split.",
    )
    parser.add_argument(
        "--check-images",
        type=int,
        default=1000,
        help="Images to compare Keras and LiteRT on. Default: 1000.",
    )
    args = parser.parse_args()
    if args.quantize == "int8" and args.data is None:
        parser.error("--quantize int8 needs --data to calibrate on")
    return args


def main():
    args = parse_args()
    model = keras.saving.load_model(args.model)
    output = Path(args.output or Path(args.model).with_suffix(".tflite"))

    representative = None
    if args.quantize == "int8":
        representative = keras_gnap.datasets.load(
            args.data, split="train", augment=False
        )
    report = keras_gnap.export(
        model,
        output,
        format="tflite",
        quantize=args.quantize,
        representative_data=representative,
    )

    if args.data is not None:
        validation = keras_gnap.datasets.load(
            args.data,
            split="validation",
            batch_size=args.check_images,
            shuffle=False,
        )
        images, labels = (np.asarray(a) for a in next(iter(validation)))
    else:
        labels = None
        shape = (args.check_images, *model.input_shape[1:])
        images = np.random.default_rng(0).random(shape, dtype="float32")

    expected = model.predict(images, verbose=0).argmax(-1)
    predicted = tflite_predict(report.path, images).argmax(-1)
    agree = np.mean(predicted == expected)
    print(f"LiteRT agrees with Keras on {agree:.2%} of {len(images)} images")
    if labels is not None:
        print(f"Accuracy: Keras {np.mean(expected == labels):.2%}, ", end="")
        print(f"LiteRT {np.mean(predicted == labels):.2%}")


if __name__ == "__main__":
    main()
