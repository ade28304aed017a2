"""2D convolution whose kernel is pruned by trainable gates."""

import keras
from keras import ops

from keras_gnap.layers.gated_layer import DEFAULT_SPARSITY
from keras_gnap.layers.gated_layer import GatedLayer

PADDINGS = ("valid", "same")


@keras.saving.register_keras_serializable(package="keras_gnap")
class GatedConv2D(GatedLayer):
    """2D convolution (channels last) with self-pruning gates on its kernel.

    Behaves like `keras.layers.Conv2D` with a kernel multiplied by a 0/1 gate
    mask; see `GatedLayer` for how the gates are trained and pruned.

    Args:
        filters: int. Number of output channels.
        kernel_size: int or tuple of 2 ints. Size of the convolution window.
        strides: int or tuple of 2 ints. Strides of the convolution.
            Defaults to 1.
        padding: str. `"valid"` or `"same"`. Defaults to `"valid"`.
        dilation_rate: int or tuple of 2 ints. Dilation rate. Defaults to 1.
        activation: activation function or name. Defaults to `None`.
        use_bias: bool. Whether the layer has a bias. Defaults to `True`.
        kernel_initializer: initializer for the kernel. Defaults to
            `"he_normal"`, suited to the ReLU networks GNAP builds.
        bias_initializer: initializer for the bias. Defaults to `"zeros"`.
        gating: str. `"weight"` (one gate per kernel entry), `"channel"`
            (one gate per filter) or `"weight_and_unit"` (both). Defaults
            to `"weight"`.
        sparsity: float. Pruning pressure, as loss per 10,000 kept
            parameters. Defaults to 0.05.
        temperature: float. Temperature of the gates' sigmoid. Defaults to 1.
        gate_initializer: initializer for the gate scores. Defaults to
            `Constant(1.0)` (all gates open).
        **kwargs: base layer arguments such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch_size, height, width, channels)`.

    Output shape:
        4D tensor `(batch_size, new_height, new_width, filters)`.

    Example:

    >>> layer = GatedConv2D(8, 3, padding="same")
    >>> layer(np.zeros((2, 28, 28, 1))).shape
    (2, 28, 28, 8)
    """

    width_argument = "filters"

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="he_normal",
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
        if not isinstance(filters, int) or isinstance(filters, bool):
            raise ValueError(
                "Argument `filters` must be a positive integer. "
                f"Received: filters={filters!r}"
            )
        if filters <= 0:
            raise ValueError(
                "Argument `filters` must be a positive integer. "
                f"Received: filters={filters}"
            )
        self.filters = filters
        self.kernel_size = _pair("kernel_size", kernel_size)
        self.strides = _pair("strides", strides)
        self.dilation_rate = _pair("dilation_rate", dilation_rate)
        if padding not in PADDINGS:
            raise ValueError(
                f"Argument `padding` must be one of {PADDINGS}. "
                f"Received: padding={padding!r}"
            )
        self.padding = padding
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def build(self, input_shape):
        input_channels = input_shape[-1]
        if input_channels is None:
            raise ValueError(
                "The last dimension of the input to GatedConv2D must be "
                f"defined. Received: input_shape={input_shape}"
            )
        self._build_kernel((*self.kernel_size, input_channels, self.filters))
        self.input_spec = keras.layers.InputSpec(
            ndim=4, axes={-1: input_channels}
        )

    def call(self, inputs, training=None):
        outputs = ops.conv(
            inputs,
            self.gated_kernel(),
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format="channels_last",
        )
        if self.use_bias:
            outputs = outputs + self.bias
        self._add_sparsity_loss(training, outputs)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        spatial = []
        for i, size in enumerate(input_shape[1:3]):
            if size is None:
                spatial.append(None)
                continue
            window = (self.kernel_size[i] - 1) * self.dilation_rate[i] + 1
            if self.padding == "same":
                out = (size + self.strides[i] - 1) // self.strides[i]
            else:
                out = (size - window) // self.strides[i] + 1
            spatial.append(out)
        return (input_shape[0], *spatial, self.filters)

    def _input_shape_for(self, input_dim):
        return (None, None, None, input_dim)

    def get_config(self):
        config = {
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "dilation_rate": self.dilation_rate,
        }
        return {**super().get_config(), **config}


def _pair(name, value):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0
            for v in value
        )
    ):
        raise ValueError(
            f"Argument `{name}` must be a positive integer or a tuple of 2 "
            f"positive integers. Received: {name}={value!r}"
        )
    return tuple(value)
