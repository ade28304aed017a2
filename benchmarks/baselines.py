"""The baselines GNAP is measured against, at equal parameters.

- Dense CNN (`dense_stages`, `build_dense`): the GNAP architecture with
  every gate frozen open and no pruning pressure, i.e. a plain dense CNN,
  its widths scaled uniformly from GNAP's widest network until its
  parameter count matches a budget. Built from keras_gnap's gated layers
  so that `keras_gnap.count_params` counts it exactly like GNAP (batch
  normalisation folded, one bias per unit); the frozen gates cost nothing
  measurable (see `benchmarks/overheads.py`).
- Gradual magnitude pruning (`PolynomialDecay`, `magnitude_masks`,
  `GradualMagnitudePruning`, `build_masked`): the method of
  tensorflow-model-optimization (Zhu and Gupta, 2017), written with Keras 3
  ops. The network is GNAP's widest one, built from gated layers whose
  gates are frozen (not trainable) and used as masks: a callback sets
  them from the kernels' magnitudes along a polynomial sparsity schedule.
  As in tensorflow-model-optimization the schedule is the policy, the
  mask computation the math, the gated layer the state and the callback
  the driver.

The growth-off and prune-off variants need no code of their own: they are
`keras_gnap.build_gnap` at the widest widths without `GrowthCallback`, and
`build_gnap(..., sparsity=0)` with it (see `benchmarks/reproduce.py`).
"""

import keras
import numpy as np
from keras import ops

from keras_gnap.layers.gated_layer import GatedLayer
from keras_gnap.models.build_gnap import build_gnap
from keras_gnap.models.gnap_model import GNAPModel

SCOPES = ("layer", "global")
# Kernel size of every convolution of `build_gnap`.
KERNEL_AREA = 9


def gated_layers(model):
    """Returns the gated layers of a model, in order.

    Args:
        model: a `GNAPModel`, or a Functional or Sequential model.

    Returns:
        A list of `GatedLayer`.
    """
    network = model.network if isinstance(model, GNAPModel) else model
    return [layer for layer in network.layers if isinstance(layer, GatedLayer)]


def stages_from_widths(widths, template):
    """Returns `build_gnap` stages holding the widths of a grown network.

    Args:
        widths: dict from layer name (`block{i}_conv`) to width, as
            `GrowthCallback` reports them; other names are ignored.
        template: list of lists of ints. Stages of the starting network,
            which give the number of blocks per stage.

    Returns:
        A list of lists of ints shaped like `template`.

    Raises:
        ValueError: if a block of `template` has no width in `widths`.
    """
    stages, block = [], 0
    for stage in template:
        widths_of_stage = []
        for _ in stage:
            block += 1
            name = f"block{block}_conv"
            if name not in widths:
                raise ValueError(
                    f"No width for layer '{name}'. Received: widths={widths}"
                )
            widths_of_stage.append(int(widths[name]))
        stages.append(widths_of_stage)
    return stages


def folded_params(stages, input_channels, classes):
    """Returns the parameter count of a dense `build_gnap` network.

    Counted as `keras_gnap.count_params` counts a network with every gate
    open: every kernel entry, plus one bias per unit (batch normalisation
    folded into the convolution before it).

    Args:
        stages: list of lists of ints. Widths of the convolutions.
        input_channels: int. Channels of the input images.
        classes: int. Number of classes.

    Returns:
        An int.
    """
    total, previous = 0, input_channels
    for width in (w for stage in stages for w in stage):
        total += KERNEL_AREA * previous * width + width
        previous = width
    return total + previous * classes + classes


def dense_stages(budget, template, input_channels, classes):
    """Returns stages shaped like `template` whose dense count fits `budget`.

    Every width of `template` is multiplied by the same factor and rounded
    (at least 1); the factor whose network has the parameter count (see
    `folded_params`) closest to `budget` wins. Then single widths move by
    one unit at a time while that brings the count closer to `budget`
    (rounding alone misses small budgets by up to 10%).

    Args:
        budget: int. Parameter count to match.
        template: list of lists of ints. Widths to scale, usually those of
            GNAP's widest network.
        input_channels: int. Channels of the input images.
        classes: int. Number of classes.

    Returns:
        A list of lists of ints.

    Raises:
        ValueError: if `budget` is smaller than the smallest network.
    """
    smallest = [[1] * len(stage) for stage in template]
    if budget < folded_params(smallest, input_channels, classes):
        raise ValueError(
            "Argument `budget` is smaller than a network of width 1. "
            f"Received: budget={budget}"
        )
    best, best_error = smallest, None
    for factor in np.arange(0.005, 8.0, 0.0025):
        stages = [
            [max(1, round(float(factor) * w)) for w in stage]
            for stage in template
        ]
        error = abs(folded_params(stages, input_channels, classes) - budget)
        if best_error is None or error < best_error:
            best, best_error = stages, error
    while True:
        candidates = []
        for i, stage in enumerate(best):
            for j in range(len(stage)):
                for step in (-1, 1):
                    if stage[j] + step < 1:
                        continue
                    stages = [list(s) for s in best]
                    stages[i][j] += step
                    count = folded_params(stages, input_channels, classes)
                    candidates.append((abs(count - budget), stages))
        error, stages = min(candidates, key=lambda pair: pair[0])
        if error >= best_error:
            return best
        best, best_error = stages, error


def freeze_gates(model, value=1.0):
    """Sets every gate score to `value` and makes the gates non-trainable.

    With `value > 0` every weight is kept for good: the gated network is a
    plain dense network. Call before `compile`.

    Args:
        model: a `GNAPModel`, or a model with gated layers.
        value: float. Gate score to set. Defaults to 1.0.

    Returns:
        `model`.
    """
    for layer in gated_layers(model):
        layer.gate.assign(ops.full(layer.gate.shape, value))
        layer.gate.trainable = False
    return model


def build_dense(input_shape, classes, stages, augmentation=None, name="dense"):
    """Returns the dense CNN baseline: `build_gnap` with gates frozen open.

    Args:
        input_shape: tuple of 3 ints. Image shape, channels last.
        classes: int. Number of classes.
        stages: list of lists of ints. Widths, e.g. from `dense_stages`.
        augmentation: training-only augmentation layer, or None (see
            `keras_gnap.build_gnap`). Defaults to `None`.
        name: str. Model name. Defaults to `"dense"`.

    Returns:
        A `GNAPModel` with no pruning: sparsity 0 and frozen open gates.
    """
    model = build_gnap(
        input_shape,
        classes,
        stages=stages,
        sparsity=0.0,
        augmentation=augmentation,
        name=name,
    )
    return freeze_gates(model)


def build_masked(input_shape, classes, stages, augmentation=None, name="gmp"):
    """Returns the network that gradual magnitude pruning prunes.

    One gate per weight, frozen open at first; `GradualMagnitudePruning`
    closes them.

    Args:
        input_shape: tuple of 3 ints. Image shape, channels last.
        classes: int. Number of classes.
        stages: list of lists of ints. Widths of the convolutions.
        augmentation: training-only augmentation layer, or None (see
            `keras_gnap.build_gnap`). Defaults to `None`.
        name: str. Model name. Defaults to `"gmp"`.

    Returns:
        A `GNAPModel`.
    """
    model = build_gnap(
        input_shape,
        classes,
        stages=stages,
        sparsity=0.0,
        gating="weight",
        augmentation=augmentation,
        name=name,
    )
    return freeze_gates(model)


def sparsity_for_budget(model, budget):
    """Returns the kernel sparsity that leaves `budget` parameters.

    Assumes every unit stays live and keeps its bias (batch normalisation
    folded), so the kernels keep `budget - units` weights in all.

    Args:
        model: a `GNAPModel` of gated layers.
        budget: int. Effective parameters to keep.

    Returns:
        A float in [0, 1).

    Raises:
        ValueError: if `budget` cannot even hold the biases, or exceeds
            the network's size.
    """
    layers = gated_layers(model)
    weights = sum(int(np.prod(layer.kernel.shape)) for layer in layers)
    biases = sum(layer.width for layer in layers)
    kept = budget - biases
    if kept <= 0 or kept > weights:
        raise ValueError(
            f"Argument `budget` must leave between 1 and {weights} kernel "
            f"weights beside the network's {biases} biases. "
            f"Received: budget={budget}"
        )
    return 1.0 - kept / weights


class PolynomialDecay:
    """Sparsity schedule of gradual magnitude pruning.

    As `tfmot.sparsity.keras.PolynomialDecay`: the sparsity rises from
    `initial_sparsity` at `begin_step` to `final_sparsity` at `end_step`
    following `final + (initial - final) * (1 - progress) ** power`, and
    masks are updated every `frequency` steps in that range (and at
    `end_step`, so the final sparsity is always reached).

    Args:
        final_sparsity: float in [0, 1). Sparsity at the end.
        begin_step: int. First step that prunes.
        end_step: int. Step at which `final_sparsity` is reached.
        initial_sparsity: float in [0, 1). Sparsity at `begin_step`.
            Defaults to 0.
        power: float. Exponent of the polynomial. Defaults to 3.
        frequency: int. Steps between mask updates. Defaults to 100.

    Raises:
        ValueError: if an argument is out of range.

    Example:

    >>> schedule = PolynomialDecay(0.9, begin_step=0, end_step=1000)
    >>> schedule.sparsity(1000)
    0.9
    """

    def __init__(
        self,
        final_sparsity,
        begin_step,
        end_step,
        initial_sparsity=0.0,
        power=3,
        frequency=100,
    ):
        for name, value in (
            ("final_sparsity", final_sparsity),
            ("initial_sparsity", initial_sparsity),
        ):
            if not 0 <= value < 1:
                raise ValueError(
                    f"Argument `{name}` must be in [0, 1). "
                    f"Received: {name}={value}"
                )
        if begin_step < 0 or end_step < begin_step:
            raise ValueError(
                "Arguments `begin_step` and `end_step` must satisfy "
                f"0 <= begin_step <= end_step. Received: "
                f"begin_step={begin_step}, end_step={end_step}"
            )
        if frequency < 1:
            raise ValueError(
                "Argument `frequency` must be a positive integer. "
                f"Received: frequency={frequency}"
            )
        self.final_sparsity = float(final_sparsity)
        self.initial_sparsity = float(initial_sparsity)
        self.begin_step = int(begin_step)
        self.end_step = int(end_step)
        self.power = power
        self.frequency = int(frequency)

    def sparsity(self, step):
        """Returns the target sparsity at `step`."""
        span = max(self.end_step - self.begin_step, 1)
        progress = min(max((step - self.begin_step) / span, 0.0), 1.0)
        if step >= self.end_step:
            progress = 1.0
        remaining = (1.0 - progress) ** self.power
        return (
            self.final_sparsity
            + (self.initial_sparsity - self.final_sparsity) * remaining
        )

    def should_prune(self, step):
        """Returns whether the masks are updated at `step`."""
        if step < self.begin_step or step > self.end_step:
            return False
        return (
            step - self.begin_step
        ) % self.frequency == 0 or step == self.end_step

    def get_config(self):
        """Returns the schedule's arguments as a dict."""
        return {
            "final_sparsity": self.final_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "initial_sparsity": self.initial_sparsity,
            "power": self.power,
            "frequency": self.frequency,
        }


def magnitude_masks(kernels, sparsity, scope="layer"):
    """Returns masks keeping the largest-magnitude weights.

    Args:
        kernels: list of tensors. Kernels as the forward pass sees them
            (already pruned weights are 0 and stay pruned).
        sparsity: float in [0, 1). Fraction of weights to remove.
        scope: str. `"layer"`: each kernel loses the same fraction
            (tensorflow-model-optimization's default); `"global"`: one
            magnitude threshold across all kernels. Defaults to `"layer"`.

    Returns:
        A list of float32 tensors of 0s and 1s, one per kernel, keeping
        exactly `round((1 - sparsity) * size)` weights (at least 1) of each
        kernel (`"layer"`) or of all kernels together (`"global"`).

    Raises:
        ValueError: if `scope` is unknown.
    """
    if scope not in SCOPES:
        raise ValueError(
            f"Argument `scope` must be one of {SCOPES}. Received: "
            f"scope={scope!r}"
        )
    if scope == "layer":
        return [_top_k_mask(ops.abs(k), sparsity) for k in kernels]
    flat = ops.concatenate(
        [ops.reshape(ops.abs(k), (-1,)) for k in kernels], axis=0
    )
    mask = _top_k_mask(flat, sparsity)
    masks, start = [], 0
    for kernel in kernels:
        size = int(np.prod(kernel.shape))
        masks.append(ops.reshape(mask[start : start + size], kernel.shape))
        start += size
    return masks


def _top_k_mask(magnitudes, sparsity):
    size = int(np.prod(magnitudes.shape))
    keep = max(1, int(round((1.0 - sparsity) * size)))
    _, indices = ops.top_k(ops.reshape(magnitudes, (-1,)), keep, sorted=False)
    mask = ops.scatter(
        ops.expand_dims(indices, -1), ops.ones((keep,), "float32"), (size,)
    )
    return ops.reshape(mask, magnitudes.shape)


class GradualMagnitudePruning(keras.callbacks.Callback):
    """Prunes the smallest weights along a polynomial sparsity schedule.

    Before each training step at which `schedule.should_prune(step)`, the
    gates of every gated layer are set from the magnitudes of the kernel as
    the forward pass uses it: the kept weights get gate +1, the others -1
    (so the layer multiplies them by exactly 0), and pruned kernel entries
    are set to 0. The gates must be frozen (see `build_masked`), so that
    only this callback moves them. Steps are counted by the callback from
    the optimizer's iteration count at the start of `fit`.

    Args:
        schedule: `PolynomialDecay`. When and how much to prune.
        scope: str. `"layer"` or `"global"`, see `magnitude_masks`.
            Defaults to `"layer"`.
        verbose: int. 1 prints each mask update. Defaults to 0.

    Raises:
        ValueError: if `scope` is unknown.

    Example:

    >>> model = build_masked((28, 28, 1), 10, [[16, 16], [32]])
    >>> schedule = PolynomialDecay(0.8, begin_step=0, end_step=1000)
    >>> model.fit(x, y, callbacks=[GradualMagnitudePruning(schedule)])
    """

    def __init__(self, schedule, scope="layer", verbose=0):
        super().__init__()
        if scope not in SCOPES:
            raise ValueError(
                f"Argument `scope` must be one of {SCOPES}. Received: "
                f"scope={scope!r}"
            )
        self.schedule = schedule
        self.scope = scope
        self.verbose = verbose
        self.updates = []
        self._step = 0

    def on_train_begin(self, logs=None):
        trainable = [
            layer.name
            for layer in gated_layers(self.model)
            if layer.gate.trainable
        ]
        if trainable:
            raise ValueError(
                "GradualMagnitudePruning sets the gates itself: freeze them "
                "first (build the model with build_masked, or call "
                f"freeze_gates). Trainable gates in: {trainable}"
            )
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        self._step = 0 if iterations is None else int(iterations.numpy())
        self.updates = []

    def on_train_batch_begin(self, batch, logs=None):
        if self.schedule.should_prune(self._step):
            self.prune(self.schedule.sparsity(self._step))
        self._step += 1

    def prune(self, sparsity):
        """Sets the masks to `sparsity` now.

        Args:
            sparsity: float in [0, 1). Fraction of weights to remove.

        Returns:
            The fraction of kernel weights now pruned, over all layers.
        """
        layers = gated_layers(self.model)
        kernels = [
            ops.where(layer.gate > 0, layer.kernel, 0.0) for layer in layers
        ]
        masks = magnitude_masks(kernels, sparsity, self.scope)
        pruned, total = 0, 0
        for layer, mask in zip(layers, masks, strict=True):
            mask = ops.cast(mask, layer.kernel.dtype)
            layer.gate.assign(ops.where(mask > 0, 1.0, -1.0))
            layer.kernel.assign(layer.kernel * mask)
            size = int(np.prod(mask.shape))
            pruned += size - int(ops.sum(mask))
            total += size
        achieved = pruned / total
        self.updates.append(
            {"step": self._step, "target": sparsity, "achieved": achieved}
        )
        if self.verbose:
            print(
                f"\nStep {self._step}: magnitude pruning to "
                f"{sparsity:.3f} sparsity ({achieved:.3f} of all weights)."
            )
        return achieved
