"""Train GNAP on CIFAR-10 with the default recipe (best on a GPU).

`keras_gnap.training.train` runs what `python -m keras_gnap train` runs: the
rules choose, from the data, the starting network (32-32 / 64-64 /
128-128 filters), 200 epochs, shifts and flips, batch 128 and Adam from
0.01 with cosine decay. Writes the model (`model.keras`), the record of
the run (`history.json`) and two plots (`history.png`, `sparsity.png`)
into `--output`:

    python examples/cifar10.py                     # CIFAR-10 from TFDS
    python examples/cifar10.py --data cifar10-train-jpg.tar.gz  # offline
    python examples/cifar10.py --limit 2000 --epochs 2  # a quick try

On a GPU, the JAX backend is the fastest:
`KERAS_BACKEND=jax python examples/cifar10.py`. The 200 epochs take days
on a CPU.
"""

import argparse
import importlib.util
import json
from pathlib import Path

import keras

import keras_gnap
from keras_gnap import training


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default="cifar10",
        help="TFDS name (needs network), an image folder with one subfolder "
        "per class, or a .tar.gz of one. Default: cifar10.",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="Default: the recipe's, 200 for colour images.",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="Quick try: use only the first N training and N validation "
        "images.",
    )
    parser.add_argument("--seed", type=int, default=0, help="Default: 0.")
    parser.add_argument(
        "--output", default="runs/cifar10_example", help="Output folder."
    )
    return parser.parse_args()


def main():
    args = parse_args()
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    backend = keras.backend.backend()
    if backend != "tensorflow" and importlib.util.find_spec("tensorflow"):
        import tensorflow as tf

        # TensorFlow only feeds the data (tf.data): keep it off the GPU,
        # whose memory it would otherwise take from the backend that trains.
        tf.config.set_visible_devices([], "GPU")
    if backend != "torch":  # Keras cannot list torch's devices.
        devices = ", ".join(keras.distribution.list_devices())
        print(f"Keras {backend} backend on {devices}")

    model, record = training.train(
        args.data, epochs=args.epochs, limit=args.limit, seed=args.seed
    )

    keras_gnap.summary(model)
    print(f"Validation accuracy: {record['validation_accuracy']:.2%}")
    print(f"Effective parameters: {record['effective_params']:,}")
    print(f"Growths at epochs: {[e['epoch'] for e in record['growth_events']]}")
    print(f"Training time: {record['train_seconds'] / 60:.1f} min")

    model.save(output / "model.keras")
    (output / "history.json").write_text(json.dumps(record, indent=2))
    keras_gnap.plot_history(record, path=output / "history.png")
    keras_gnap.plot_sparsity(model, path=output / "sparsity.png")
    print(f"Model, history and plots written to {output}/")


if __name__ == "__main__":
    main()
