"""Densely connected layer whose kernel is pruned by trainable gates."""

import keras
from keras import ops

from keras_gnap.layers.gated_layer import DEFAULT_SPARSITY
from keras_gnap.layers.gated_layer import GatedLayer


@keras.saving.register_keras_serializable(package="keras_gnap")
class GatedDense(GatedLayer):
    """Dense layer with self-pruning gates on its kernel.

    Behaves like `keras.layers.Dense` on inputs of shape
    `(batch_size, input_dim)`, with a kernel multiplied by a 0/1 gate mask;
    see `GatedLayer` for how the gates are trained and pruned.

    Args:
        units: int. Number of output units.
        activation: activation function or name. Defaults to `None`.
        use_bias: bool. Whether the layer has a bias. Defaults to `True`.
        kernel_initializer: initializer for the kernel. Defaults to
            `"glorot_uniform"`.
        bias_initializer: initializer for the bias. Defaults to `"zeros"`.
        gating: str. `"weight"` (one gate per kernel entry), `"channel"`
            (one gate per unit) or `"weight_and_unit"` (both). Defaults to
            `"weight"`.
        sparsity: float. Pruning pressure, as loss per 10,000 kept
            parameters. Defaults to 0.05.
        temperature: float. Temperature of the gates' sigmoid. Defaults to 1.
        gate_initializer: initializer for the gate scores. Defaults to
            `Constant(1.0)` (all gates open).
        **kwargs: base layer arguments such as `name` and `dtype`.

    Input shape:
        2D tensor `(batch_size, input_dim)`.

    Output shape:
        2D tensor `(batch_size, units)`.

    Example:

    >>> layer = GatedDense(10)
    >>> layer(np.zeros((2, 32))).shape
    (2, 10)
    """

    width_argument = "units"

    def __init__(
        self,
        units,
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
        super().__init__(
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            bias_initializer=bias_initializer,
            gating=gating,
            sparsity=sparsity,
            temperature=temperature,
            gate_initializer=gate_initializer,
            **kwargs,
        )
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                "Argument `units` must be a positive integer. "
                f"Received: units={units!r}"
            )
        self.units = units
        self.input_spec = keras.layers.InputSpec(ndim=2)

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                "The last dimension of the input to GatedDense must be "
                f"defined. Received: input_shape={input_shape}"
            )
        self._build_kernel((input_dim, self.units))
        self.input_spec = keras.layers.InputSpec(ndim=2, axes={-1: input_dim})

    def call(self, inputs, training=None):
        outputs = ops.matmul(inputs, self.gated_kernel())
        if self.use_bias:
            outputs = outputs + self.bias
        self._add_sparsity_loss(training, outputs)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def _input_shape_for(self, input_dim):
        return (None, input_dim)

    def get_config(self):
        config = {
            "units": self.units,
        }
        return {**super().get_config(), **config}
