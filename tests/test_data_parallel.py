"""Data-parallel training with growth, on two host CPU devices.

Each check runs `two_device_run.py` in a fresh process, since the devices
are fixed when the backend starts: the same network, data and seed train
with growth on one device and on two (the global batch the same).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

import keras_gnap
from keras_gnap import data_parallel
from keras_gnap import training

SCRIPT = Path(__file__).with_name("two_device_run.py")
# The documented tolerance (docs/method.md, "Several devices"): in float32
# the two runs' predictions agree to 1e-4 (4e-7 measured on JAX and
# TensorFlow); in 16 bits to a few units of the last place.
PREDICTION_TOLERANCE = {None: 1e-4, "float16": 1e-2, "bfloat16": 5e-2}

pytestmark = pytest.mark.backends

parallel_backend = pytest.mark.skipif(
    keras.backend.backend() not in data_parallel.BACKENDS,
    reason="Keras has data parallelism on JAX and TensorFlow only",
)


def _two_device_run(mixed_precision=None):
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    argv = [sys.executable, str(SCRIPT)]
    if mixed_precision:
        argv.append(mixed_precision)
    result = subprocess.run(
        argv, capture_output=True, text=True, env=env, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@parallel_backend
@pytest.mark.parametrize("mixed_precision", [None, "float16"])
def test_growth_on_two_devices_matches_one_device(mixed_precision):
    result = _two_device_run(mixed_precision)
    one, two = result["one"], result["two"]
    # Both grew at the same epoch to the same widths.
    assert one["growths"] == two["growths"] == [3]
    assert one["widths"] == two["widths"]
    # On two devices every variable, the optimizer's too, is placed over
    # both before the growth, and the grown ones exactly so after it, with
    # the two copies identical.
    before, after = two["placement_before"], two["placement_after"]
    assert before["kinds"] == after["kinds"]
    assert before["kinds"] != one["placement_before"]["kinds"]
    if keras.backend.backend() == "jax":
        assert all(kind.startswith("NamedSharding") for kind in after["kinds"])
        # Replicated: no axis of any variable is split.
        assert all("batch" not in kind for kind in after["kinds"])
    else:
        assert after["kinds"] == ["MirroredVariable", "copies=2"]
    assert after["spread"] == 0.0
    if mixed_precision == "float16":
        assert two["optimizer"] == "LossScaleOptimizer"
    tolerance = PREDICTION_TOLERANCE[mixed_precision]
    assert result["prediction_difference"] <= tolerance


@parallel_backend
def test_more_devices_than_visible_is_a_clear_error():
    visible = len(data_parallel.visible_devices())
    with pytest.raises(ValueError, match=f"devices={visible + 1}") as error:
        data_parallel.data_parallel(visible + 1)
    assert "prepare_devices" in str(error.value)


@pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="only PyTorch lacks it"
)
def test_two_devices_on_torch_say_which_backends_can():
    with pytest.raises(ValueError, match="JAX or TensorFlow") as error:
        data_parallel.data_parallel(2)
    assert "devices=2" in str(error.value)
    assert len(data_parallel.visible_devices()) == 1
    # One device is plain training, on every backend.
    with data_parallel.data_parallel(1):
        keras_gnap.build_gnap((12, 12, 1), 3, stages=((4,),))


@pytest.mark.parametrize("devices", [0, -1, 1.5, True, "2"])
def test_devices_must_be_a_positive_integer(devices):
    with pytest.raises(ValueError, match="devices") as error:
        data_parallel.data_parallel(devices)
    assert repr(devices) in str(error.value)


def test_batches_that_do_not_split_are_named_before_training():
    info = {"train_examples": 1000, "validation_examples": 500}
    with pytest.raises(ValueError, match="batch_size=127"):
        training.check_batches(2, 127, info)
    training.check_batches(1, 127, info)  # one device takes any batch
    # 1000 = 7 * 128 + 104 and 500 = 3 * 128 + 116 split over 2 and 4;
    # 116 does not split over 8.
    training.check_batches(4, 128, info)
    if keras.backend.backend() == "jax":
        with pytest.raises(ValueError, match="batch of 116") as error:
            training.check_batches(8, 128, info)
        assert "validation split" in str(error.value)
    else:
        # TensorFlow takes an uneven last batch.
        training.check_batches(8, 128, info)
