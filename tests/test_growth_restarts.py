import keras
import numpy as np
import pytest
from data_helpers import ScriptedValLoss
from test_unit_split import _pruned_model

import keras_gnap
from keras_gnap.growth.gate_reopening import reopen_gates
from keras_gnap.growth.schedule_restart import RestartedSchedule
from keras_gnap.growth.schedule_restart import restart_schedule
from keras_gnap.growth.schedule_restart import schedule_span


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


def _fit_with_growths(growth, values, schedule=None):
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    optimizer = keras.optimizers.Adam(
        schedule or keras.optimizers.schedules.CosineDecay(0.01, 8 * 2)
    )
    model.compile(optimizer, "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((32, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, 32)
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: rates.append(
            float(model.optimizer.learning_rate)
        )
    )
    model.fit(
        x,
        y,
        epochs=len(values),
        batch_size=16,
        verbose=0,
        callbacks=[ScriptedValLoss(values), growth, record],
    )
    return model, rates


def test_growth_restarts_the_schedule_and_reopens_gates_until_told(tmp_path):
    # Saturation at epochs 2, 4 and 6 of 8 (2 steps each): growths there.
    values = [1.0, 1.0, 0.9, 0.9, 0.8, 0.8, 0.7, 0.7]
    growth = keras_gnap.GrowthCallback(
        patience=1,
        max_growths=3,
        growth_until=None,
        reopen_pruned=True,
        reopen_until=0.5,
        restart_schedule=True,
    )
    model, rates = _fit_with_growths(growth, values)
    events = growth.growth_events
    assert [e["epoch"] for e in events] == [2, 4, 6]
    assert [e["reopened_pruned"] for e in events] == [True, True, False]
    assert all(e["restarted_schedule"] for e in events)
    # Right after each growth the rate is back at the schedule's start.
    for event in events:
        assert rates[event["epoch"] - 1] == pytest.approx(0.01)
    schedule = model.optimizer.get_config()["learning_rate"]
    assert schedule["config"]["start"] == 6 * 2
    # The restarted schedule saves and loads with the model.
    model.save(tmp_path / "grown.keras")
    loaded = keras.saving.load_model(tmp_path / "grown.keras")
    assert float(loaded.optimizer.learning_rate) == pytest.approx(rates[-1])

    plain = keras_gnap.GrowthCallback(
        patience=1, max_growths=3, growth_until=None
    )
    _, plain_rates = _fit_with_growths(plain, values)
    assert not any(e["restarted_schedule"] for e in plain.growth_events)
    assert plain_rates[5] < 0.01 / 2


def test_restart_schedule_needs_a_decaying_schedule():
    growth = keras_gnap.GrowthCallback(restart_schedule=True)
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile(
        keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy"
    )
    x = np.zeros((4, 16, 16, 1), "float32")
    with pytest.raises(ValueError, match="restart_schedule=True"):
        model.fit(x, np.zeros(4), epochs=1, verbose=0, callbacks=[growth])


@pytest.mark.parametrize("warm", [False, True])
def test_growth_starts_new_second_moments_warm_when_told(warm):
    # Saturation at the last epoch: a growth with no training after it.
    growth = keras_gnap.GrowthCallback(
        patience=1, growth_until=None, warm_second_moment=warm
    )
    model, _ = _fit_with_growths(growth, [1.0, 1.0])
    assert [e["epoch"] for e in growth.growth_events] == [2]
    old_width = growth.growth_events[0]["widths_before"]["block1_conv"]
    velocity = next(
        v
        for v in model.optimizer.variables
        if v.name == "block1_conv_kernel_velocity"
    ).numpy()
    old, new = velocity[..., :old_width], velocity[..., old_width:]
    assert old.mean() > 0
    expected = old.mean() if warm else 0.0
    np.testing.assert_allclose(new, expected, rtol=1e-6)
