"""The starting networks of GNAP and their presets."""

import keras

from keras_gnap.data_parallel import replicas_in_sync
from keras_gnap.layers.gated_conv2d import GatedConv2D
from keras_gnap.layers.gated_dense import GatedDense
from keras_gnap.layers.gated_layer import DEFAULT_SPARSITY
from keras_gnap.models.gnap_model import GNAPModel

# Each stage is a list of 3x3 gated convolutions followed by a 2x2 max-pool
# (except the last stage, which global-average-pools into the classifier).
# The widths are where growth starts, not where it ends.
PRESETS = {
    # 28x28 grey digits: 28 -> 14 -> 7.
    "mnist": {"stages": ((8, 8), (16, 16), (16,))},
    # 32x32 colour images: 32 -> 16 -> 8, VGG-like.
    "cifar": {"stages": ((32, 32), (64, 64), (128, 128))},
    # The same at half the width, for a CPU budget (reduced CIFAR-10).
    "cifar_small": {"stages": ((16, 16), (32, 32), (64, 64))},
}


def build_gnap(
    input_shape,
    classes,
    preset="auto",
    stages=None,
    sparsity=DEFAULT_SPARSITY,
    gating="weight",
    classifier_activation="softmax",
    augmentation=None,
    name="gnap",
):
    """Builds a small GNAP classifier that prunes itself and can grow.

    The network is a stack of stages of gated 3x3 convolutions (no bias),
    each followed by batch normalisation and ReLU, with 2x2 max-pooling
    between stages; then global average pooling and a gated dense
    classifier. Every layer is named predictably (`block{i}_conv`,
    `block{i}_bn`, `block{i}_relu`, `stage{s}_pool`, `head_pool`,
    `head_dense`), so growth, reports and export can address them.
    Built inside a TensorFlow strategy over several devices
    (`keras_gnap.data_parallel.data_parallel`), batch normalisation is
    synchronized, so it normalises by the whole batch as on one device.

    Args:
        input_shape: tuple of 3 ints. Image shape `(height, width,
            channels)`, channels last; height and width at least 8.
        classes: int. Number of classes, at least 2.
        preset: str. `"mnist"` (small grey images such as 28x28x1),
            `"cifar"` (colour images such as 32x32x3), `"cifar_small"`
            (the same at half the width), or `"auto"` to pick
            `"mnist"` for one-channel input and `"cifar"` otherwise.
            Defaults to `"auto"`.
        stages: tuple of tuples of ints. Starting widths of the
            convolutions, one tuple per stage; overrides the preset.
            Defaults to `None`.
        sparsity: float. Pruning pressure of every gated layer, as loss per
            10,000 kept parameters. Defaults to 0.05.
        gating: str. `"weight"` (unstructured), `"channel"` (structured)
            or `"weight_and_unit"` gates. `"weight_and_unit"` also gates
            the units each layer reads, priced at their weights and
            multiply-adds, so whole units go and `keras_gnap.compact`
            gives a narrower, faster network. Defaults to `"weight"`.
        classifier_activation: activation of the output layer, as in
            `keras.applications`; `None` returns logits. Defaults to
            `"softmax"`.
        augmentation: a Keras layer that transforms the images of each
            training batch inside the compiled training step, such as
            `keras_gnap.layers.RandomAugmentation`, or `None`. It is not
            part of the network: evaluation, prediction and export see
            the images as they are. Defaults to `None`.
        name: str. Name of the model. Defaults to `"gnap"`.

    Returns:
        A `GNAPModel`, built and ready to compile.

    Raises:
        ValueError: if an argument is out of range.
        TypeError: if `augmentation` is not a Keras layer or `None`.

    Example:

    >>> model = build_gnap(input_shape=(28, 28, 1), classes=10)
    >>> model.output_shape
    (None, 10)
    """
    input_shape = _check_input_shape(input_shape)
    if not isinstance(classes, int) or isinstance(classes, bool):
        raise ValueError(
            f"Argument `classes` must be an integer >= 2. Received: "
            f"classes={classes!r}"
        )
    if classes < 2:
        raise ValueError(
            f"Argument `classes` must be an integer >= 2. Received: "
            f"classes={classes}"
        )
    if preset == "auto":
        preset = "mnist" if input_shape[-1] == 1 else "cifar"
    if preset not in PRESETS:
        raise ValueError(
            f"Argument `preset` must be 'auto' or one of {sorted(PRESETS)}. "
            f"Received: preset={preset!r}"
        )
    stages = PRESETS[preset]["stages"] if stages is None else stages
    _check_stages(stages, input_shape)

    synchronized = replicas_in_sync() > 1

    # === Layers and Functional Model ===
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    block = 0
    for stage_index, widths in enumerate(stages, start=1):
        for width in widths:
            block += 1
            x = GatedConv2D(
                width,
                3,
                padding="same",
                use_bias=False,
                # The image's channels are not units to remove.
                gating="weight"
                if block == 1 and gating == "weight_and_unit"
                else gating,
                sparsity=sparsity,
                name=f"block{block}_conv",
            )(x)
            # Momentum 0.9: moving statistics keep up with pruning and growth,
            # so validation metrics (which drive growth) are not stale.
            x = keras.layers.BatchNormalization(
                momentum=0.9,
                # Statistics of the whole batch across devices, as on one.
                synchronized=synchronized,
                name=f"block{block}_bn",
            )(x)
            x = keras.layers.ReLU(name=f"block{block}_relu")(x)
        if stage_index < len(stages):
            x = keras.layers.MaxPooling2D(2, name=f"stage{stage_index}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    outputs = GatedDense(
        classes,
        activation=classifier_activation,
        gating=gating,
        sparsity=sparsity,
        name="head_dense",
    )(x)
    network = keras.Model(inputs, outputs, name=f"{name}_network")
    return GNAPModel(network, augmentation=augmentation, name=name)


def _check_input_shape(input_shape):
    valid = (
        isinstance(input_shape, (tuple, list))
        and len(input_shape) == 3
        and all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0
            for d in input_shape
        )
    )
    if not valid or min(input_shape[:2]) < 8:
        raise ValueError(
            "Argument `input_shape` must be a tuple of 3 positive integers "
            "(height, width, channels), channels last, with height and width "
            f"at least 8. Received: input_shape={input_shape!r}"
        )
    return tuple(input_shape)


def _check_stages(stages, input_shape):
    valid = (
        isinstance(stages, (tuple, list))
        and len(stages) > 0
        and all(
            isinstance(widths, (tuple, list))
            and len(widths) > 0
            and all(
                isinstance(w, int) and not isinstance(w, bool) and w > 0
                for w in widths
            )
            for widths in stages
        )
    )
    if not valid:
        raise ValueError(
            "Argument `stages` must be a non-empty tuple of non-empty tuples "
            f"of positive integers. Received: stages={stages!r}"
        )
    smallest = min(input_shape[:2]) // 2 ** (len(stages) - 1)
    if smallest < 1:
        raise ValueError(
            f"Argument `stages` has {len(stages)} stages, too many to pool "
            f"an input of shape {input_shape}. Received: stages={stages!r}"
        )
