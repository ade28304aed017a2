"""One GNAP training run with the default policy: what the main command and
the benchmarks both call.

`train` loads the data, chooses what the rules of `keras_gnap.recipes`
choose from it, builds the network, fits it with `GrowthCallback()` and
returns the model with a record of the run. Nothing in it is specific to
a dataset.
"""

import contextlib
import math
import time

import keras
import numpy as np

from keras_gnap import recipes
from keras_gnap.callbacks.growth_callback import GrowthCallback
from keras_gnap.callbacks.run_checkpoint import RunCheckpoint
from keras_gnap.callbacks.run_checkpoint import read_checkpoint
from keras_gnap.callbacks.run_checkpoint import restore_random_state
from keras_gnap.data_parallel import data_parallel
from keras_gnap.data_parallel import prepare_devices
from keras_gnap.data_parallel import visible_devices
from keras_gnap.datasets import load
from keras_gnap.layers.gated_layer import DEFAULT_SPARSITY
from keras_gnap.layers.random_augmentation import RandomAugmentation
from keras_gnap.models.build_gnap import build_gnap
from keras_gnap.reports.parameter_count import count_params
from keras_gnap.reports.parameter_count import dense_params
from keras_gnap.topology import gated_widths

# What `train`'s `mixed_precision` takes: the dtype of the computations.
MIXED_PRECISION = ("bfloat16", "float16")


def keras_iterators_per_epoch():
    """Iterators Keras 3's `fit` makes of a tf.data training set per epoch.

    On TensorFlow two: one at the epoch's start and one made ready at its
    end, then dropped (`keras.src.trainers.epoch_iterator`). On JAX and
    PyTorch one: there the iterator is a Python generator, which makes
    its tf.data iterator only when first read. The resume test fails if
    a Keras release changes either.

    Returns:
        int.
    """
    return 2 if keras.backend.backend() == "tensorflow" else 1


def resolve_settings(input_shape, epochs=None, batch_size=None, preset=None):
    """Returns the run's settings: the rules' choices, then the overrides.

    Args:
        input_shape: tuple of 3 ints. Shape of one image.
        epochs: int or None. Overrides the rule's epochs.
        batch_size: int or None. Overrides the rule's batch size.
        preset: str or None. Overrides the rule's starting preset.

    Returns:
        A dict as `keras_gnap.recipes.settings_for` returns.
    """
    settings = recipes.settings_for(tuple(input_shape))
    for key, value in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("preset", preset),
    ):
        if value is not None:
            settings[key] = value
    return settings


def load_data(
    source, batch_size, seed=0, validation_size=None, limit=None, data_dir=None
):
    """Loads the training and validation splits of `source`.

    Args:
        source: what `keras_gnap.datasets.load` reads: a TFDS name, a
            folder of IDX files, an image folder or a `.tar.gz` of one.
        batch_size: int. Examples per batch.
        seed: int. Seed of the split and of the shuffling.
        validation_size: int, float or None. See `load`.
        limit: int or None. Use only the first `limit` training and
            validation images (quick checks).
        data_dir: str or None. TFDS data directory.

    Returns:
        `(train, validation, info)`: the two datasets, and a dict with
        `input_shape`, `classes`, `train_examples` and
        `validation_examples`.

    Raises:
        ValueError: if `source` cannot be read (see `load`).
    """
    common = {
        "validation_size": validation_size,
        "seed": seed,
        "data_dir": data_dir,
    }
    train, train_info = load(
        source,
        split="train",
        batch_size=batch_size,
        augment=False,
        with_info=True,
        **common,
    )
    validation, val_info = load(
        source,
        split="validation",
        batch_size=batch_size,
        with_info=True,
        **common,
    )
    num_train, num_val = train_info.num_examples, val_info.num_examples
    if limit is not None and limit < num_train:
        train = _head(source, "train", limit, batch_size, common)
        num_train = limit
    if limit is not None and limit < num_val:
        validation = _head(source, "validation", limit, batch_size, common)
        num_val = limit
    info = {
        "input_shape": list(train_info.input_shape),
        "classes": train_info.classes,
        "train_examples": num_train,
        "validation_examples": num_val,
    }
    return train, validation, info


def _head(source, split, limit, batch_size, common):
    """The first `limit` examples of a split, shuffled for training."""
    head = load(
        source,
        split=split,
        batch_size=limit,
        shuffle=False,
        augment=False,
        **common,
    )
    # A PyDataset (without TensorFlow) is indexed; a tf.data one iterated.
    if isinstance(head, keras.utils.PyDataset):
        images, labels = head[0]
    else:
        images, labels = next(iter(head))
    return load(
        (np.asarray(images), np.asarray(labels)),
        split="train",
        batch_size=batch_size,
        validation_size=0,
        shuffle=split == "train",
        augment=False,
        seed=common["seed"],
    )


def build_and_compile(
    info,
    settings,
    sparsity=DEFAULT_SPARSITY,
    stages=None,
    total_steps=None,
    gating="weight",
):
    """Builds the GNAP network of a run and compiles it.

    Args:
        info: dict from `load_data`.
        settings: dict from `resolve_settings`.
        sparsity: float. Pruning pressure of every gated layer.
        stages: tuple of tuples of ints, or None for the settings' preset.
        total_steps: int. Steps of the whole run, over which the learning
            rate decays; None computes them from `info` and `settings`.
        gating: str. `build_gnap`'s `gating`. Defaults to `"weight"`.

    Returns:
        A compiled `GNAPModel`.
    """
    if total_steps is None:
        total_steps = settings["epochs"] * math.ceil(
            info["train_examples"] / settings["batch_size"]
        )
    model = build_gnap(
        tuple(info["input_shape"]),
        info["classes"],
        preset=settings["preset"],
        stages=stages,
        sparsity=sparsity,
        gating=gating,
        augmentation=RandomAugmentation(**settings["augmentation"]),
    )
    return compile_for(model, settings, total_steps)


def compile_for(model, settings, total_steps):
    """Compiles `model` as every run trains: Adam with cosine decay to 0.

    Args:
        model: a Keras model.
        settings: dict from `resolve_settings` (its `learning_rate`).
        total_steps: int. Steps of the whole run.

    Returns:
        `model`, compiled.
    """
    schedule = keras.optimizers.schedules.CosineDecay(
        settings["learning_rate"], decay_steps=total_steps
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class EpochTimer(keras.callbacks.Callback):
    """Records the wall time of every epoch, validation included.

    Args:
        seconds: list of the times of earlier epochs (a resumed run), or
            `None`. Defaults to `None`.
    """

    def __init__(self, seconds=None):
        super().__init__()
        self.seconds = list(seconds or [])

    def on_train_begin(self, logs=None):
        self.seconds = list(self.seconds)

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)


def train(
    source,
    epochs=None,
    batch_size=None,
    preset=None,
    sparsity=DEFAULT_SPARSITY,
    gating="weight",
    seed=0,
    validation_size=None,
    limit=None,
    callbacks=None,
    verbose=1,
    data_dir=None,
    checkpoint_dir=None,
    resume=False,
    run=None,
    devices=1,
    mixed_precision=None,
):
    """Trains a GNAP classifier on `source` with the default policy.

    With `devices` above 1 the returned model keeps its variables on those
    devices; on TensorFlow its `evaluate` and `predict` split their
    batches over them too, so their batch size must divide by `devices`.

    Args:
        source: what `keras_gnap.datasets.load` reads.
        epochs: int or None. None: the rule's (40 one-channel, 200 colour).
        batch_size: int or None. None: the rule's (128).
        preset: str or None. None: the rule's starting preset.
        sparsity: float. Pruning pressure. Defaults to `build_gnap`'s.
        gating: str. `"weight"`, or `"weight_and_unit"` to prune whole
            units too, for a narrower and faster network (see
            `build_gnap`). Defaults to `"weight"`.
        seed: int. Seeds the split, the shuffling and the weights.
        validation_size: int, float or None. See `load`.
        limit: int or None. Use only the first `limit` training and
            validation images.
        callbacks: list of more Keras callbacks, or None.
        verbose: int. Keras verbosity of `fit`.
        data_dir: str or None. TFDS data directory.
        checkpoint_dir: str, path or None. Where to checkpoint the run at
            the end of every epoch (see
            `keras_gnap.callbacks.RunCheckpoint`). Defaults to `None`: no
            checkpoints.
        resume: bool. Whether to go on from the checkpoint in
            `checkpoint_dir`, with the same other arguments as the run
            that wrote it. With a fixed seed on the same machine, the
            resumed run ends as the run would have ended without the stop.
            Defaults to `False`.
        run: dict of JSON data kept in the checkpoints, or `None`.
        devices: int. Devices to train on, data parallel (see
            `keras_gnap.data_parallel`): the batch is split over them. On a
            machine without accelerators the host CPU is split into that
            many devices, if this is called before the backend first runs.
            The batch size must divide evenly by `devices`, and on JAX the
            last batch of each split too. Defaults to 1.
        mixed_precision: str or None. `"bfloat16"` or `"float16"`: compute
            in that dtype (Keras's `mixed_bfloat16` or `mixed_float16`
            policy; float16 adds loss scaling), keeping the variables in
            float32. Defaults to `None` (float32 throughout).

    Returns:
        `(model, record)`: the trained `GNAPModel` and a dict with
        `settings`, `data` (from `load_data`), `validation_accuracy`,
        `effective_params`, `dense_params`, `widest_dense_params`,
        `widths`, `growth_events`, `stopped_growing`, `history`, `epochs`,
        `train_seconds`, `epoch_seconds`, `devices` and
        `mixed_precision`.

    Raises:
        ValueError: if `source` cannot be read, an argument is out of
            range, `resume` finds no checkpoint, fewer than `devices`
            devices are visible, or the loss became NaN or Inf (training
            stops at once, and nothing is returned).
    """
    # Before anything runs on the backend, which fixes its devices.
    prepare_devices(devices)
    check_mixed_precision(mixed_precision)
    state = None
    if resume:
        state = read_checkpoint(checkpoint_dir) if checkpoint_dir else None
        if state is None:
            raise ValueError(
                "There is no checkpoint to resume from. Received: "
                f"checkpoint_dir={checkpoint_dir!r}"
            )
    keras.utils.set_random_seed(seed)
    train_data, validation, info = load_data(
        source,
        batch_size or recipes.BATCH_SIZE,
        seed=seed,
        validation_size=validation_size,
        limit=limit,
        data_dir=data_dir,
    )
    settings = resolve_settings(info["input_shape"], epochs, batch_size, preset)
    check_batches(devices, settings["batch_size"], info)
    if verbose and devices > 1:
        names = ", ".join(visible_devices()[:devices])
        print(f"Data parallel on {devices} devices: {names}.")
    if verbose and mixed_precision:
        print(
            f"Mixed precision: computing in {mixed_precision}, variables "
            "in float32."
        )
    # Everything that makes or runs the model's variables: placed on the
    # devices, in the precision asked for.
    with data_parallel(devices), precision_policy(mixed_precision):
        keras.utils.set_random_seed(seed)
        growth = GrowthCallback(verbose=1 if verbose else 0)
        if state is None:
            model = build_and_compile(
                info, settings, sparsity=sparsity, gating=gating
            )
            dense_start = dense_params(model)
            initial_epoch, history_before = 0, {}
            timer = EpochTimer()
        else:
            model = keras.saving.load_model(state["model"])
            restore_random_state(model, state)
            growth.set_state(state["growth"])
            dense_start = state["run"]["dense_start"]
            initial_epoch, history_before = state["epoch"], state["history"]
            timer = EpochTimer(state["epoch_seconds"])
            # Each epoch reshuffles: start where the stopped run was.
            _skip_epochs(train_data, initial_epoch)
        # A NaN loss ends training at once, and the run reports it (below).
        run_callbacks = [keras.callbacks.TerminateOnNaN(), growth, timer]
        if checkpoint_dir is not None:
            run_callbacks.append(
                RunCheckpoint(
                    checkpoint_dir,
                    growth,
                    timer,
                    run={**(run or {}), "dense_start": dense_start},
                    history=history_before,
                )
            )
        started = time.time()
        history = model.fit(
            train_data,
            validation_data=validation,
            epochs=settings["epochs"],
            initial_epoch=initial_epoch,
            callbacks=[*run_callbacks, *(callbacks or [])],
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles
        )
        seconds = time.time() - started + sum(timer.seconds[:initial_epoch])
        history_all = {k: list(v) for k, v in history_before.items()}
        for key, values in history.history.items():
            history_all.setdefault(key, []).extend(float(v) for v in values)
        metrics = model.evaluate(validation, verbose=0, return_dict=True)
    losses = [metrics["loss"], *history.history.get("loss", [])]
    if not np.all(np.isfinite(losses)):
        raise ValueError(
            "Training diverged: the loss became NaN or Inf by epoch "
            f"{initial_epoch + max(len(history.epoch), 1)} of "
            f"{settings['epochs']}. Check the data for extreme values, or "
            "train with a smaller batch size or sparsity."
        )
    record = {
        "settings": settings,
        "sparsity": sparsity,
        "gating": gating,
        "seed": seed,
        "limit": limit,
        "data": info,
        "validation_accuracy": float(metrics["accuracy"]),
        "effective_params": int(count_params(model)),
        "dense_params": int(dense_params(model)),
        # Growth only widens, so the final widths are the widest.
        "widest_dense_params": int(
            max(
                [dense_start, dense_params(model)]
                + [e["dense_params_after"] for e in growth.growth_events]
            )
        ),
        "widths": gated_widths(model.network),
        "growth_events": growth.growth_events,
        "stopped_growing": growth.stopped_growing,
        "history": history_all,
        "epochs": len(history_all.get("loss", [])),
        "train_seconds": round(seconds, 1),
        # The first epoch and those after a growth include compiling.
        "epoch_seconds": [round(t, 3) for t in timer.seconds],
        "devices": devices,
        "mixed_precision": mixed_precision,
    }
    return model, record


def check_mixed_precision(mixed_precision):
    """Raises a `ValueError` unless `mixed_precision` is known.

    Args:
        mixed_precision: the value to check: one of `MIXED_PRECISION`, or
            `None`.

    Raises:
        ValueError: if it is not.
    """
    if mixed_precision is not None and mixed_precision not in MIXED_PRECISION:
        raise ValueError(
            "Argument `mixed_precision` must be None or one of "
            f"{list(MIXED_PRECISION)}. "
            f"Received: mixed_precision={mixed_precision!r}"
        )


@contextlib.contextmanager
def precision_policy(mixed_precision):
    """Sets Keras's `mixed_<dtype>` policy for the layers made inside.

    The policy is restored on leaving: the layers keep theirs, and so does
    a network grown from them.

    Args:
        mixed_precision: str or None. One of `MIXED_PRECISION`, or `None`
            to change nothing.

    Yields:
        None.
    """
    check_mixed_precision(mixed_precision)
    if mixed_precision is None:
        yield
        return
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(f"mixed_{mixed_precision}")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def check_batches(devices, batch_size, info):
    """Raises a `ValueError` if a batch would not split over the devices.

    Keras splits a batch over the devices in equal parts: every batch on
    JAX, the last of each split included; on TensorFlow the first batch,
    which builds the model (a smaller last batch may split unevenly).

    Args:
        devices: int. Devices to train on.
        batch_size: int. Images per batch.
        info: dict from `load_data`.

    Raises:
        ValueError: naming the batch that does not split.
    """
    if devices == 1:
        return
    if batch_size % devices:
        raise ValueError(
            f"The batch size must be a multiple of the {devices} devices. "
            f"Received: batch_size={batch_size}"
        )
    if keras.backend.backend() != "jax":
        return
    for split in ("train", "validation"):
        last = info[f"{split}_examples"] % batch_size
        if last % devices:
            raise ValueError(
                f"The {split} split's {info[f'{split}_examples']} images end "
                f"in a batch of {last}, which does not split over the "
                f"{devices} devices on JAX: choose a batch size, limit or "
                "validation size that does. Received: "
                f"batch_size={batch_size}, devices={devices}"
            )


def _skip_epochs(dataset, epochs):
    # A tf.data pipeline draws a new order each time an iterator is made:
    # making and dropping as many as fit would have made moves it on to
    # where the stopped run was. A PyDataset moves on at each
    # `on_epoch_end`, which fit calls once per epoch.
    if isinstance(dataset, keras.utils.PyDataset):
        for _ in range(epochs):
            dataset.on_epoch_end()
        return
    for _ in range(keras_iterators_per_epoch() * epochs):
        iter(dataset)
