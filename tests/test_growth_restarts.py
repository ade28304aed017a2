import keras
import numpy as np
import pytest
from backend_helpers import to_numpy
from data_helpers import ScriptedValLoss
from test_unit_split import _pruned_model

import keras_gnap
from keras_gnap.growth.gate_reopening import reopen_gates
from keras_gnap.growth.schedule_restart import RestartedSchedule
from keras_gnap.growth.schedule_restart import fresh_schedule
from keras_gnap.growth.schedule_restart import learning_rate_schedule
from keras_gnap.growth.schedule_restart import restart_schedule
from keras_gnap.growth.schedule_restart import schedule_span
from keras_gnap.growth.weight_rescale import he_scale
from keras_gnap.growth.weight_rescale import rescale_to_initial_scale


def _rates(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def test_restart_runs_the_whole_schedule_in_the_steps_left():
    cosine = keras.optimizers.schedules.CosineDecay(0.01, 100, alpha=0.1)
    restarted = restart_schedule(cosine, 40)
    steps = [40, 55, 70, 85, 100, 130]
    # The same as a cosine decay over the 60 steps left, started at 40.
    fresh = keras.optimizers.schedules.CosineDecay(0.01, 60, alpha=0.1)
    np.testing.assert_allclose(
        _rates(restarted, steps),
        _rates(fresh, [s - 40 for s in steps]),
        rtol=1e-5,
    )
    assert float(restarted(40)) == pytest.approx(0.01)
    assert float(restarted(100)) == pytest.approx(0.001)
    # Restarting again restarts the original schedule, not a nested one.
    again = restart_schedule(restarted, 70)
    assert again.schedule is cosine and (again.start, again.span) == (70, 100)
    assert float(again(70)) == pytest.approx(0.01)


def test_restart_counts_warmup_and_ends_with_the_schedule():
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, 80, warmup_target=0.01, warmup_steps=20
    )
    assert schedule_span(schedule) == 100
    assert restart_schedule(schedule, 100) is schedule
    assert restart_schedule(schedule, 150) is schedule


def test_restarted_schedule_round_trips_through_config():
    restarted = restart_schedule(
        keras.optimizers.schedules.CosineDecay(0.01, 100), 30
    )
    copy = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(restarted)
    )
    assert isinstance(copy, RestartedSchedule)
    steps = [30, 50, 90]
    np.testing.assert_allclose(_rates(copy, steps), _rates(restarted, steps))


def test_only_decaying_schedules_restart():
    pieces = keras.optimizers.schedules.PiecewiseConstantDecay(
        [10], [0.1, 0.01]
    )
    assert schedule_span(pieces) is None
    with pytest.raises(ValueError, match="Received: schedule="):
        restart_schedule(pieces, 5)


@pytest.mark.parametrize("gating", ["weight", "channel"])
def test_reopening_opens_every_gate_and_keeps_the_function(gating):
    model = _pruned_model(gating)
    x = np.random.rand(8, 16, 16, 1).astype("float32")
    before = model.predict(x, verbose=0)
    layers = [
        layer
        for layer in model.network.layers
        if isinstance(layer, keras_gnap.layers.GatedLayer)
    ]
    closed = sum(int((layer.gate.numpy() <= 0).sum()) for layer in layers)
    assert closed > 0
    assert reopen_gates(model.network) == closed
    assert all(layer.open_fraction() == 1.0 for layer in layers)
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-5)


def test_grow_reopens_pruned_gates_before_splitting():
    model = _pruned_model()
    x = np.random.rand(8, 16, 16, 1).astype("float32")
    before = model.predict(x, verbose=0)
    grown = keras_gnap.grow(
        model, widths={"block2_conv": 12}, seed=0, reopen_pruned=True
    )
    np.testing.assert_allclose(grown.predict(x, verbose=0), before, atol=1e-5)
    for layer in grown.network.layers:
        if isinstance(layer, keras_gnap.layers.GatedLayer):
            assert layer.open_fraction() == 1.0, layer.name
    kept = keras_gnap.grow(model, widths={"block2_conv": 12}, seed=0)
    assert kept.network.get_layer("block1_conv").open_fraction() < 1.0
    with pytest.raises(ValueError, match="Received: reopen_pruned='yes'"):
        keras_gnap.grow(model, widths={"block2_conv": 12}, reopen_pruned="yes")


def _fit_with_growths(
    growth, values, schedule=None, kernel_scale=None, stop_after=None
):
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    if kernel_scale is not None:
        _enlarge_kernels(model.network, kernel_scale)
    optimizer = keras.optimizers.Adam(
        schedule or keras.optimizers.schedules.CosineDecay(0.01, 8 * 2)
    )
    model.compile(optimizer, "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((32, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, 32)
    rates = []

    def record(epoch, logs):
        rates.append(float(model.optimizer.learning_rate))
        # Stop right after a growth, to look at what it left.
        model.stop_training = epoch + 1 == stop_after

    record = keras.callbacks.LambdaCallback(on_epoch_end=record)
    model.fit(
        x,
        y,
        epochs=len(values),
        batch_size=16,
        verbose=0,
        callbacks=[ScriptedValLoss(values), growth, record],
    )
    return model, rates


def test_growth_restarts_the_schedule_and_reopens_gates_in_the_first_half(
    tmp_path,
):
    # Saturation at epochs 2, 4 and 6 of 8 (2 steps each): growths there.
    values = [1.0, 1.0, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7]
    growth = keras_gnap.GrowthCallback(
        patience=1, max_growths=3, max_params=None
    )
    model, rates = _fit_with_growths(growth, values)
    events = growth.growth_events
    assert [e["epoch"] for e in events] == [2, 4, 6]
    # No reopening past half the epochs: 6 of 8 is.
    assert [e["reopened_pruned"] for e in events] == [True, True, False]
    assert all(e["restarted_schedule"] for e in events)
    assert all(e["reset_optimizer"] for e in events)
    # Right after each growth the rate is back at the schedule's start.
    for event in events:
        assert rates[event["epoch"] - 1] == pytest.approx(0.01)
    # The last growth left 4 of the 16 steps: a fresh optimizer runs the
    # whole schedule over them, and has taken them all by the end.
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["config"]["decay_steps"] == 4
    assert int(model.optimizer.iterations.numpy()) == 4
    # The restarted schedule saves and loads with the model.
    model.save(tmp_path / "grown.keras")
    loaded = keras.saving.load_model(tmp_path / "grown.keras")
    assert float(loaded.optimizer.learning_rate) == pytest.approx(rates[-1])


def test_growth_with_a_constant_learning_rate_starts_a_fresh_optimizer():
    growth = keras_gnap.GrowthCallback(patience=1)
    model, rates = _fit_with_growths(
        growth, [1.0, 1.0, 1.0, 1.0], schedule=0.01
    )
    event = growth.growth_events[0]
    assert event["epoch"] == 2 and event["reset_optimizer"]
    assert not event["restarted_schedule"]
    assert rates == pytest.approx([0.01] * 4)
    # Two epochs of 2 steps since the growth reset the step count.
    assert int(model.optimizer.iterations.numpy()) == 4


def test_fresh_schedule_runs_the_whole_schedule_from_step_zero():
    cosine = keras.optimizers.schedules.CosineDecay(0.01, 100, alpha=0.1)
    fresh = fresh_schedule(cosine, 40)
    steps = [0, 15, 30, 45, 60, 90]
    # A cosine decay over the 60 steps left, counted from 0.
    expected = keras.optimizers.schedules.CosineDecay(0.01, 60, alpha=0.1)
    np.testing.assert_allclose(_rates(fresh, steps), _rates(expected, steps))
    assert float(fresh(60)) == pytest.approx(0.001)
    # From a restarted schedule, the schedule it wraps starts again.
    again = fresh_schedule(restart_schedule(cosine, 20), 40)
    np.testing.assert_allclose(_rates(again, steps), _rates(expected, steps))
    assert fresh_schedule(cosine, 100) is cosine
    warm = keras.optimizers.schedules.CosineDecay(
        0.0, 80, warmup_target=0.01, warmup_steps=20
    )
    shorter = fresh_schedule(warm, 50).get_config()
    assert (shorter["warmup_steps"], shorter["decay_steps"]) == (10, 40)
    pieces = keras.optimizers.schedules.PiecewiseConstantDecay(
        [10], [0.1, 0.01]
    )
    with pytest.raises(ValueError, match="Received: schedule="):
        fresh_schedule(pieces, 5)


def _enlarge_kernels(network, factor):
    # As training does: batch normalisation's moving statistics follow.
    for layer in network.layers:
        if isinstance(layer, keras_gnap.layers.GatedLayer):
            layer.kernel.assign(layer.kernel.numpy() * factor)
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(layer.moving_mean.numpy() * factor)
            layer.moving_variance.assign(
                layer.moving_variance.numpy() * factor**2
            )


def _open_rms(layer):
    return float(
        np.sqrt(np.mean(layer.kernel.numpy()[layer.kernel_mask()] ** 2))
    )


@pytest.mark.parametrize("gating", ["weight", "channel"])
def test_rescaling_brings_kernels_to_he_scale_and_keeps_the_function(gating):
    model = _pruned_model(gating)
    _enlarge_kernels(model.network, 5.0)
    for layer in model.network.layers:
        # Outputs are scale-invariant up to epsilon / variance: make that
        # negligible here, as the variances of a trained network do.
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.epsilon = 1e-9
    x = np.random.rand(8, 16, 16, 1).astype("float32")
    # Training mode first: it moves the moving statistics predict uses.
    before_training_mode = to_numpy(model(x, training=True))
    before = model.predict(x, verbose=0)
    head = model.network.get_layer("head_dense").kernel.numpy()
    factors = rescale_to_initial_scale(model.network)
    convs = [
        layer
        for layer in model.network.layers
        if isinstance(layer, keras_gnap.layers.GatedLayer)
        and layer.name != "head_dense"
    ]
    assert sorted(factors) == sorted(layer.name for layer in convs)
    for layer in convs:
        assert factors[layer.name] < 1.0
        expected = he_scale(tuple(layer.kernel.shape))
        assert _open_rms(layer) == pytest.approx(expected, rel=1e-5)
    # The head feeds no batch normalisation: left alone.
    np.testing.assert_array_equal(
        model.network.get_layer("head_dense").kernel.numpy(), head
    )
    np.testing.assert_allclose(model.predict(x, verbose=0), before, atol=1e-3)
    np.testing.assert_allclose(
        to_numpy(model(x, training=True)), before_training_mode, atol=1e-3
    )
    # Kernels at the He scale or below are never enlarged.
    assert rescale_to_initial_scale(model.network) == {}


@pytest.mark.backends
@pytest.mark.parametrize("fresh", [False, True])
def test_growth_rescales_kernels_and_resets_the_optimizer(fresh):
    # Saturation at epoch 2 of 4, training stopped right after the growth.
    # A schedule of 4 steps is over by then (4 steps taken): it cannot
    # start again, so the state is carried over and nothing rescaled.
    growth = keras_gnap.GrowthCallback(patience=1)
    model, _ = _fit_with_growths(
        growth,
        [1.0, 1.0, 1.0, 1.0],
        schedule=keras.optimizers.schedules.CosineDecay(
            0.01, 8 if fresh else 4
        ),
        kernel_scale=4.0,
        stop_after=2,
    )
    event = growth.growth_events[0]
    assert event["epoch"] == 2 and event["reset_optimizer"] is fresh
    slots = [
        v.numpy()
        for v in model.optimizer.variables
        if v.name.endswith(("_momentum", "_velocity"))
    ]
    assert slots
    if fresh:
        assert int(model.optimizer.iterations.numpy()) == 0
        assert all(not slot.any() for slot in slots)
        # The whole schedule again, over the 4 steps left.
        assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
        schedule = learning_rate_schedule(model.optimizer)
        assert float(schedule(2)) == pytest.approx(0.005)
        assert "block1_conv" in event["rescaled_weights"]
        block1 = model.network.get_layer("block1_conv")
        assert _open_rms(block1) == pytest.approx(
            he_scale(tuple(block1.kernel.shape)), rel=1e-5
        )
    else:
        assert int(model.optimizer.iterations.numpy()) == 4
        assert any(slot.any() for slot in slots)
        assert event["rescaled_weights"] == {}
