"""Base class of the layers whose kernel carries trainable pruning gates."""

import keras
import numpy as np
from keras import ops

# The sparsity strength is "loss per 10,000 kept parameters": each open gate
# costs `sparsity / 1e4` times the number of kernel weights it controls. The
# pressure on one weight is therefore the same whatever the network's size.
PARAMS_PER_UNIT_OF_SPARSITY = 1e4
DEFAULT_SPARSITY = 0.05
GATINGS = ("weight", "channel", "weight_and_unit")
# With unit gates, a unit is priced at its weights plus its multiply-adds,
# at this many multiply-adds per parameter: what a unit costs at inference
# is its size on disk and its compute, which grows with the positions a
# convolution slides over (784 at 28x28), not with its weights alone.
MULTIPLY_ADDS_PER_PARAM = 1000


class GatedLayer(keras.layers.Layer):
    """A layer with a kernel pruned by trainable gates.

    Every kernel entry (`gating="weight"`), every output unit
    (`gating="channel"`), or every kernel entry and every input channel
    (`gating="weight_and_unit"`) has a gate score `g`, trained by the same
    optimizer as the kernel. The forward pass uses `kernel * m` with
    `m = 1[g > 0]` (the product of both masks with two kinds of gates), so
    a closed gate contributes exactly 0.0. The backward pass is a
    straight-through estimator: the gradient of `m` is that of
    `sigmoid(g / temperature)`, so closed gates keep receiving gradient and
    can reopen. Each training call adds the layer loss
    `sparsity * 1e-4 * cost * sum(sigmoid(g / temperature))`, where `cost` is
    the number of kernel weights one gate controls, so plain `compile`/`fit`
    prunes the layer with no schedule and no target sparsity. Inference and
    evaluation add no loss, so `val_loss` measures the task alone.

    With `gating="weight_and_unit"`, each input channel has a unit gate
    too: closing it cuts the unit of the layer before that feeds the
    channel (nothing else reads it), which `keras_gnap.compact` then
    removes: a narrower network, faster at inference. The gate sits on
    the consumer's side because a unit followed by batch normalisation
    has no scale of its own: a gate on its output would get no gradient
    from the task. A unit gate costs what the channel costs at inference,
    `n * (1 + positions / MULTIPLY_ADDS_PER_PARAM)` parameters, with `n`
    the open weights that read the channel and `positions` the output
    positions they are computed at (1 for a dense layer, height times
    width for a convolution): `MULTIPLY_ADDS_PER_PARAM` multiply-adds cost
    as much as a parameter.

    Subclasses call `self._build_kernel(shape)` in `build()` (it creates
    the kernel, the gates and the bias) and use `self.gated_kernel()` in
    `call()`. They name their width argument in `width_argument`
    ("filters" or "units").

    Args:
        activation: activation function or name. Defaults to `None`.
        use_bias: bool. Whether the layer has a bias. Defaults to `True`.
        kernel_initializer: initializer for the kernel. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for the bias. Defaults to `"zeros"`.
        gating: str. `"weight"` for one gate per kernel entry (unstructured
            pruning), `"channel"` for one gate per output unit (structured
            pruning, which removes whole units), or `"weight_and_unit"` for
            one gate per kernel entry and one per input channel (the units
            of the layer before), each unit gate priced at the weights and
            multiply-adds it controls. Defaults to `"weight"`.
        sparsity: float. Strength of the pressure towards closed gates, as
            loss per 10,000 kept parameters. 0 disables pruning pressure.
            Defaults to 0.05.
        temperature: float. Temperature of the sigmoid used for the gates'
            gradient and for the sparsity measure. Defaults to 1.0.
        gate_initializer: initializer for the gate scores. Positive values
            start with every gate open. Defaults to `Constant(1.0)`.
        **kwargs: base `keras.layers.Layer` arguments.
    """

    width_argument = None

    def __init__(
        self,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        gating="weight",
        sparsity=DEFAULT_SPARSITY,
        temperature=1.0,
        gate_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if gating not in GATINGS:
            raise ValueError(
                f"Argument `gating` must be one of {GATINGS}. "
                f"Received: gating={gating!r}"
            )
        if not _is_real(sparsity) or sparsity < 0:
            raise ValueError(
                "Argument `sparsity` must be a non-negative number. "
                f"Received: sparsity={sparsity!r}"
            )
        if not _is_real(temperature) or temperature <= 0:
            raise ValueError(
                "Argument `temperature` must be a positive number. "
                f"Received: temperature={temperature!r}"
            )
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.gating = gating
        self.sparsity = float(sparsity)
        self.temperature = float(temperature)
        self.gate_initializer = keras.initializers.get(
            gate_initializer or keras.initializers.Constant(1.0)
        )

    @property
    def width(self):
        """Number of output units (filters or units) of the layer."""
        return getattr(self, self.width_argument)

    def _build_kernel(self, kernel_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=self.kernel_initializer,
            trainable=True,
        )
        self._build_gates()
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(kernel_shape[-1],),
                initializer=self.bias_initializer,
                trainable=True,
            )
        else:
            self.bias = None

    def _build_gates(self):
        kernel_shape = tuple(self.kernel.shape)
        if self.gating == "channel":
            gate_shape = (kernel_shape[-1],)
            self._weights_per_gate = int(np.prod(kernel_shape[:-1]))
        else:
            gate_shape = kernel_shape
            self._weights_per_gate = 1
        # Gate scores stay float32 under mixed precision (autocast off):
        # the sparsity term sums them, and a score near 0 decides a gate.
        self.gate = self.add_weight(
            name="gate",
            shape=gate_shape,
            initializer=self.gate_initializer,
            trainable=True,
            autocast=False,
        )
        self.unit_gate = None
        if self.gating == "weight_and_unit":
            self.unit_gate = self.add_weight(
                name="unit_gate",
                shape=(kernel_shape[-2],),
                initializer=self.gate_initializer,
                trainable=True,
                autocast=False,
            )

    @property
    def gates(self):
        """The gate-score variables: `[gate]`, or `[gate, unit_gate]`."""
        if self.unit_gate is None:
            return [self.gate]
        return [self.gate, self.unit_gate]

    def _straight_through(self, scores, hard):
        # The value is exactly `hard`: `soft - stop_gradient(soft)` is an
        # exact zero, so only its gradient survives.
        soft = ops.sigmoid(scores / self.temperature)
        hard = ops.cast(hard, soft.dtype)
        return hard + (soft - ops.stop_gradient(soft))

    def gate_mask(self):
        """Returns the 0/1 gate mask with a straight-through gradient.

        The value is exactly `1[g > 0]`, broadcastable to the kernel (the
        product of the weight and unit masks with `"weight_and_unit"`).
        """
        mask = self._straight_through(self.gate, ops.greater(self.gate, 0.0))
        if self.unit_gate is not None:
            units = self.unit_gate
            # The channel with the highest score stays open: a layer
            # without inputs would cut the network, and no gradient would
            # reach any gate again.
            open_units = ops.logical_or(
                ops.greater(units, 0.0), ops.equal(units, ops.max(units))
            )
            unit_mask = self._straight_through(units, open_units)
            mask = mask * ops.expand_dims(unit_mask, -1)
        return mask

    def gated_kernel(self):
        """Returns the kernel with closed gates' weights set to exactly 0."""
        # The kernel is read in the compute dtype (float16 or bfloat16
        # under mixed precision); the 0/1 mask is exact in any of them.
        mask = ops.cast(self.gate_mask(), self.compute_dtype)
        return ops.cast(self.kernel, self.compute_dtype) * mask

    def sparsity_loss(self, positions=1):
        """Returns the differentiable cost of the open gates of this layer.

        Args:
            positions: int. Output positions each unit is computed at
                (height times width for a convolution, 1 for a dense
                layer); it prices the unit gates' multiply-adds. Defaults
                to 1.

        Returns:
            A scalar tensor.
        """
        expected_open = ops.sum(ops.sigmoid(self.gate / self.temperature))
        scale = (
            self.sparsity * self._weights_per_gate / PARAMS_PER_UNIT_OF_SPARSITY
        )
        loss = scale * expected_open
        if self.unit_gate is not None:
            loss = loss + self.unit_cost(positions)
        return loss

    def unit_cost(self, positions=1):
        """Returns the differentiable cost of the open unit gates.

        Each input channel is priced at the open weights that read it and
        at their multiply-adds (`MULTIPLY_ADDS_PER_PARAM` to a parameter);
        the price is a constant for the gradient, which only moves the unit
        gates.

        Args:
            positions: int. Output positions of the layer's units.

        Returns:
            A scalar tensor.
        """
        weights_open = ops.cast(ops.greater(self.gate, 0.0), "float32")
        rank = len(self.gate.shape)
        axes = tuple(i for i in range(rank) if i != rank - 2)
        price = ops.sum(weights_open, axis=axes)
        price = price * (1.0 + positions / MULTIPLY_ADDS_PER_PARAM)
        price = ops.stop_gradient(price)
        units_open = ops.sigmoid(self.unit_gate / self.temperature)
        scale = self.sparsity / PARAMS_PER_UNIT_OF_SPARSITY
        return scale * ops.sum(ops.cast(units_open, "float32") * price)

    def _add_sparsity_loss(self, training, outputs=None):
        # Only while training: validation losses then measure the task
        # alone, so they stay comparable across growth and pruning.
        if training and self.sparsity > 0:
            self.add_loss(self.sparsity_loss(_positions(outputs)))

    def kernel_mask(self):
        """Returns the hard gate mask broadcast to the kernel's shape.

        Returns:
            A boolean NumPy array of the kernel's shape, True where the
            weight is kept.
        """
        # The forward pass's own mask, whose value is exactly 0 or 1.
        mask = ops.convert_to_numpy(self.gate_mask()) > 0.5
        return np.broadcast_to(mask, tuple(self.kernel.shape))

    def effective_kernel(self):
        """Returns the kernel as the forward pass uses it, as NumPy."""
        kernel = self.kernel.numpy()
        return np.where(self.kernel_mask(), kernel, 0.0).astype(kernel.dtype)

    def open_fraction(self):
        """Returns the fraction of kernel weights behind open gates."""
        return float(np.mean(self.kernel_mask()))

    def grow(self, width=None, input_dim=None):
        """Returns a wider copy of this layer, built, with weights transferred.

        Existing weights, gates and biases are copied exactly. New output
        units get fresh incoming weights (from `kernel_initializer`) and open
        gates; weights from new input channels to existing units are zero, so
        the layer computes the same function on the existing units.

        Args:
            width: int. New number of output units, at least the current
                one. Defaults to the current width.
            input_dim: int. New number of input channels, at least the
                current one. Defaults to the current number.

        Returns:
            A new, built layer of the same class and name.

        Raises:
            ValueError: if `width` or `input_dim` is smaller than now.
        """
        # Imported here: growth builds on layers, not the other way round.
        from keras_gnap.growth.weight_transfer import transfer_weights

        old_width = self.width
        old_input_dim = int(self.kernel.shape[-2])
        width = old_width if width is None else width
        input_dim = old_input_dim if input_dim is None else input_dim
        if not isinstance(width, (int, np.integer)) or width < old_width:
            raise ValueError(
                f"Argument `width` must be an integer >= {old_width} (the "
                f"current width of layer '{self.name}'). Received: "
                f"width={width!r}"
            )
        if (
            not isinstance(input_dim, (int, np.integer))
            or input_dim < old_input_dim
        ):
            raise ValueError(
                f"Argument `input_dim` must be an integer >= {old_input_dim} "
                f"(the current input size of layer '{self.name}'). Received: "
                f"input_dim={input_dim!r}"
            )
        config = self.get_config()
        config[self.width_argument] = int(width)
        new_layer = self.__class__.from_config(config)
        new_layer.build(self._input_shape_for(int(input_dim)))
        transfer_weights(self, new_layer)
        return new_layer

    def _input_shape_for(self, input_dim):
        raise NotImplementedError

    def get_config(self):
        config = {
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras.initializers.serialize(
                self.kernel_initializer
            ),
            "bias_initializer": keras.initializers.serialize(
                self.bias_initializer
            ),
            "gating": self.gating,
            "sparsity": self.sparsity,
            "temperature": self.temperature,
            "gate_initializer": keras.initializers.serialize(
                self.gate_initializer
            ),
        }
        return {**super().get_config(), **config}


def _positions(outputs):
    """Returns the output positions per unit (1 when unknown)."""
    if outputs is None:
        return 1
    positions = 1
    for size in outputs.shape[1:-1]:
        positions *= 1 if size is None else int(size)
    return positions


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not (
        isinstance(value, bool)
    )
