"""Data-parallel training on several devices, with the engines Keras has.

GNAP brings nothing of its own here: on JAX a model trains under
`keras.distribution.DataParallel`, on TensorFlow under
`tf.distribute.MirroredStrategy`. What GNAP adds is that growth, which
replaces the network and the optimizer in the middle of `fit`, places the
new kernels, gates and optimizer state as the originals were placed: on
JAX the global distribution lays out every new variable (replicated), on
TensorFlow growth builds them in the model's strategy (see
`replica_scope`).

Keras offers no data parallelism for PyTorch, so there only one device
trains.

Example:

>>> keras_gnap.data_parallel.prepare_devices(2)  # before the backend runs
>>> with keras_gnap.data_parallel.data_parallel(2):
...     model = keras_gnap.build_gnap((28, 28, 1), classes=10)
...     model.compile("adam", "sparse_categorical_crossentropy")
...     model.fit(x, y, batch_size=128, callbacks=[keras_gnap.GrowthCallback()])
"""

import contextlib
import os

import keras

# The backends with a data-parallel engine in Keras.
BACKENDS = ("jax", "tensorflow")


def check_devices(devices):
    """Raises a `ValueError` unless `devices` is an integer >= 1.

    Args:
        devices: the value to check.

    Raises:
        ValueError: if `devices` is not a positive integer, or is above 1
            on a backend without data parallelism (PyTorch).
    """
    if (
        isinstance(devices, bool)
        or not isinstance(devices, int)
        or (devices < 1)
    ):
        raise ValueError(
            "Argument `devices` must be a positive integer. "
            f"Received: devices={devices!r}"
        )
    backend = keras.backend.backend()
    if devices > 1 and backend not in BACKENDS:
        raise ValueError(
            f"Data-parallel training needs the JAX or TensorFlow backend: "
            f"Keras has no data parallelism for the {backend} backend. "
            f"Set KERAS_BACKEND=jax or tensorflow, or train on one device. "
            f"Received: devices={devices!r}"
        )


def prepare_devices(devices):
    """Makes `devices` devices visible, splitting the host CPU if need be.

    On a machine with accelerators (GPUs, TPUs) it changes nothing. On a
    machine without, it splits the host CPU into `devices` devices (JAX's
    `jax_num_cpu_devices`, TensorFlow's logical CPU devices), the way
    JAX and TensorFlow test multi-device code on one CPU: the cores are
    shared, so this checks a multi-device run rather than speeding one up.
    It must be called before the backend runs its first operation; after
    that it leaves the devices as they are.

    Args:
        devices: int. Devices wanted.

    Raises:
        ValueError: as `check_devices`.
    """
    check_devices(devices)
    if devices == 1:
        return
    if keras.backend.backend() == "jax":
        import jax

        # Too late once JAX has run something: the devices stay as they are
        # and `data_parallel` says how many there are.
        try:
            jax.config.update("jax_num_cpu_devices", devices)
        except RuntimeError:
            pass
        except AttributeError:
            # A JAX from before the option: XLA's flag, read at start-up.
            flags = os.environ.get("XLA_FLAGS", "")
            os.environ["XLA_FLAGS"] = (
                f"{flags} --xla_force_host_platform_device_count={devices}"
            )
        return
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * devices
        )


def visible_devices():
    """Returns the names of the devices data parallelism can use.

    The accelerators if there are any, otherwise the host CPU devices.

    Returns:
        list of str, such as `["gpu:0", "gpu:1"]` or `["cpu:0"]`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_logical_devices("GPU")
        devices = devices or tf.config.list_logical_devices("CPU")
        return [device.name for device in devices]
    if backend == "jax":
        return list(keras.distribution.list_devices())
    # Keras lists no devices for PyTorch, where one device trains.
    return [str(keras.ops.zeros(()).device)]


def data_parallel(devices):
    """Returns a context in which to build, compile and fit on `devices`.

    Each batch is split evenly over the devices and their gradients are
    averaged, so a step is the step one device would take on the whole
    batch. Batch normalisation uses the statistics of the whole batch,
    as on one device (on TensorFlow, `build_gnap` makes it synchronized
    inside this context).

    With `devices=1` the context does nothing.

    Args:
        devices: int. Devices to train on, the first of `visible_devices()`.

    Returns:
        A context manager: `keras.distribution.DataParallel(...).scope()`
        on JAX, `tf.distribute.MirroredStrategy(...).scope()` on
        TensorFlow.

    Raises:
        ValueError: as `check_devices`, or if fewer than `devices` devices
            are visible.
    """
    check_devices(devices)
    if devices == 1:
        return contextlib.nullcontext()
    names = visible_devices()
    if len(names) < devices:
        raise ValueError(
            f"Only {len(names)} device(s) are visible ({', '.join(names)}), "
            f"too few to train on {devices}. Call "
            "`keras_gnap.data_parallel.prepare_devices` before the backend "
            "first runs, or train on fewer devices. "
            f"Received: devices={devices!r}"
        )
    if keras.backend.backend() == "jax":
        return keras.distribution.DataParallel(devices=names[:devices]).scope()
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(names[:devices]).scope()


def replicas_in_sync():
    """Returns how many devices the current TensorFlow strategy trains on.

    Returns:
        int. 1 outside a strategy, and on the other backends.
    """
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_scope(model):
    """Returns the context in which new variables of `model` are made.

    On TensorFlow, variables are mirrored over the devices only when they
    are made inside the strategy the model was built in, so growth makes
    the grown network and its optimizer there. Elsewhere the global
    distribution (JAX) places every new variable, and this does nothing.

    Args:
        model: a Keras model.

    Returns:
        A context manager.
    """
    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None:
        return contextlib.nullcontext()
    return strategy.scope()
