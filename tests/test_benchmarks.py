"""Fast behaviour tests of the benchmark scripts in benchmarks/."""

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

import data_helpers as helpers
import keras
import numpy as np
import pytest

import keras_gnap
from keras_gnap import recipes
from keras_gnap import training
from keras_gnap.cli import main as cli
from keras_gnap.layers.gated_layer import DEFAULT_SPARSITY

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# `model.save` in Keras 3.15 with TensorFlow 2.21 and NumPy 2 warns from
# inside Keras (np.array on a TF variable); nothing the benchmarks can fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword"
    ":DeprecationWarning"
)


@pytest.fixture(scope="module")
def bench():
    """The benchmark scripts as modules (they import each other by name)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield {
            name: importlib.import_module(name)
            for name in (
                "baselines",
                "make_results",
                "overheads",
                "parallel_throughput",
                "reproduce",
            )
        }
    finally:
        sys.path.remove(str(BENCHMARKS))


# === Recipes ===


def test_every_benchmark_resolves_and_unknown_names_are_refused():
    for name in recipes.BENCHMARKS:
        entry = recipes.benchmark(name)
        assert entry["name"] == name
        assert entry["shared_path"]
    # A copy: changing it leaves the table as it was.
    entry = recipes.benchmark("cifar10_reduced")
    entry["epochs"] = 1
    assert recipes.benchmark("cifar10_reduced")["epochs"] == 18
    with pytest.raises(ValueError, match="Received: name='svhn'"):
        recipes.benchmark("svhn")


def test_settings_follow_the_rules_of_the_data():
    grey = recipes.settings_for((28, 28, 1))
    assert grey["preset"] == "mnist"
    assert grey["epochs"] == 40
    assert grey["batch_size"] == recipes.BATCH_SIZE
    assert grey["learning_rate"] == recipes.LEARNING_RATE
    assert grey["augmentation"] == {
        "padding": 2,
        "flip": False,
        "rotation": 10.0,
        "zoom": 0.1,
    }
    colour = recipes.settings_for((32, 32, 3))
    assert colour["preset"] == "cifar"
    assert colour["epochs"] == 200
    assert colour["augmentation"] == {
        "padding": 4,
        "flip": True,
        "rotation": 0.0,
        "zoom": 0.0,
    }
    with pytest.raises(ValueError, match=r"Received: input_shape=\(28, 28\)"):
        recipes.settings_for((28, 28))
    for bad in ((28, 28, 0), [28, 28, 1.5], "28x28"):
        with pytest.raises(ValueError, match="Argument `input_shape`"):
            recipes.settings_for(bad)


def _recipe(
    bench,
    name,
    input_shape,
    epochs=None,
    sparsity=None,
    gating="weight",
    mixed_precision=None,
):
    """What reproduce.py records as `recipe` for data of `input_shape`."""
    return bench["reproduce"].recipe_for(
        recipes.benchmark(name),
        {"input_shape": list(input_shape), "classes": 10},
        argparse.Namespace(
            epochs=epochs,
            sparsity=sparsity,
            gating=gating,
            mixed_precision=mixed_precision,
        ),
    )


def test_recipe_records_what_the_rules_choose(bench):
    recipe = _recipe(bench, "mnist", (28, 28, 1))
    assert recipe["name"] == "mnist"
    assert recipe["protocol"] == "full"
    assert recipe["settings"] == recipes.settings_for((28, 28, 1))
    assert recipe["stages"] == [[8, 8], [16, 16], [16]]
    assert recipe["sparsity"] == DEFAULT_SPARSITY
    assert recipe["growth"]["monitor"] == "val_loss"
    assert recipe["gmp"] == bench["reproduce"].GMP_SCHEDULE
    assert recipe["target"] == recipes.TARGETS["mnist"]
    reduced = _recipe(bench, "cifar10_reduced", (32, 32, 3), sparsity=0.3)
    assert reduced["name"] == "cifar10_reduced_sparsity0.3"
    assert reduced["dataset"] == "cifar10"
    assert reduced["protocol"] == "reduced"
    assert reduced["settings"]["preset"] == "cifar_small"
    assert reduced["settings"]["epochs"] == 18
    assert reduced["stages"] == [[16, 16], [32, 32], [64, 64]]
    assert reduced["sparsity"] == 0.3
    assert recipe["gating"] == "weight"
    units = _recipe(bench, "mnist", (28, 28, 1), gating="weight_and_unit")
    assert units["name"] == "mnist_units"
    assert units["gating"] == "weight_and_unit"
    titles = bench["make_results"]._title
    assert titles("mnist_units") == "MNIST, unit gates"
    assert titles("mnist_sparsity0.07") == "MNIST, sparsity 0.07"
    # Mixed precision keeps its runs apart; the default records none.
    assert "mixed_precision" not in recipe
    half = _recipe(bench, "mnist", (28, 28, 1), mixed_precision="bfloat16")
    assert half["name"] == "mnist_bfloat16"
    assert half["mixed_precision"] == "bfloat16"
    assert titles("mnist_units_float16") == "MNIST, unit gates, float16"
    assert bench["make_results"].PRECISIONS == training.MIXED_PRECISION
    # --epochs overrides the benchmark's own.
    shorter = _recipe(bench, "cifar10_reduced", (32, 32, 3), epochs=2)
    assert shorter["settings"]["epochs"] == 2


def _keys(value):
    """The nested keys of a dict, to compare the shapes of two records."""
    if isinstance(value, dict):
        return {key: _keys(item) for key, item in value.items()}
    return None


def test_fake_runs_record_the_recipe_as_reproduce_does(bench):
    # The make_results tests below read fake runs: they must be shaped as
    # reproduce.py records them.
    recorded = _recipe(bench, "mnist", (28, 28, 1))
    assert _keys(_fake_run("gnap", 0.99, 6000)["recipe"]) == _keys(recorded)


# === Gradual magnitude pruning ===


def test_polynomial_schedule_rises_to_its_target(bench):
    schedule = bench["baselines"].PolynomialDecay(
        0.8, begin_step=10, end_step=110, frequency=25
    )
    values = [schedule.sparsity(step) for step in range(0, 130)]
    assert values[10] == 0.0
    assert values[110] == pytest.approx(0.8)
    assert values[129] == pytest.approx(0.8)
    assert all(a <= b for a, b in zip(values, values[1:], strict=False))
    # Cubic: most of the pruning happens early.
    assert schedule.sparsity(60) == pytest.approx(0.8 * (1 - 0.5**3))
    turns = [s for s in range(130) if schedule.should_prune(s)]
    assert turns == [10, 35, 60, 85, 110]


def test_magnitude_masks_keep_the_largest_weights(bench):
    baselines = bench["baselines"]
    kernels = [np.arange(1, 11, dtype="float32"), -np.arange(1, 31.0)]
    layer_masks = baselines.magnitude_masks(kernels, 0.5, scope="layer")
    np.testing.assert_array_equal(np.asarray(layer_masks[0])[5:], 1)
    np.testing.assert_array_equal(np.asarray(layer_masks[0])[:5], 0)
    assert int(np.sum(layer_masks[1])) == 15
    global_masks = baselines.magnitude_masks(kernels, 0.5, scope="global")
    # The 20 largest magnitudes of all 40 are all in the second kernel.
    assert int(np.sum(global_masks[0])) == 0
    assert int(np.sum(global_masks[1])) == 20


def test_gmp_reaches_its_target_sparsity_with_exact_zeros(bench):
    baselines = bench["baselines"]
    model = baselines.build_masked((12, 12, 1), 3, [[4], [8]])
    schedule = baselines.PolynomialDecay(
        0.75, begin_step=0, end_step=6, frequency=2
    )
    pruning = baselines.GradualMagnitudePruning(schedule)
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.random((80, 12, 12, 1), dtype=np.float32)
    y = rng.integers(0, 3, 80)
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[pruning], verbose=0)

    assert [u["step"] for u in pruning.updates] == [0, 2, 4, 6]
    assert pruning.updates[-1]["target"] == pytest.approx(0.75)
    for layer in baselines.gated_layers(model):
        assert not layer.gate.trainable
        gates = layer.gate.numpy()
        assert set(np.unique(gates)) <= {-1.0, 1.0}
        kept = layer.kernel_mask()
        assert kept.sum() == round(0.25 * kept.size)
        # What the forward pass uses is an exact zero where pruned.
        assert np.all(layer.effective_kernel()[~kept] == 0.0)
    x_small = x[:4]
    stripped = keras_gnap.strip(model)
    np.testing.assert_allclose(
        model.predict(x_small, verbose=0),
        stripped.predict(x_small, verbose=0),
        atol=1e-6,
    )


def test_gmp_budget_sets_the_effective_count(bench):
    baselines = bench["baselines"]
    model = baselines.build_masked((28, 28, 1), 10, [[12, 12], [24, 24], [24]])
    budget = 6200
    sparsity = baselines.sparsity_for_budget(model, budget)
    pruning = baselines.GradualMagnitudePruning(
        baselines.PolynomialDecay(sparsity, 0, 0)
    )
    pruning.set_model(model)
    pruning.prune(sparsity)
    assert keras_gnap.count_params(model) == pytest.approx(budget, rel=0.03)


def test_gmp_refuses_trainable_gates(bench):
    baselines = bench["baselines"]
    model = keras_gnap.build_gnap((12, 12, 1), 3, stages=[[4]])
    model.compile("adam", "sparse_categorical_crossentropy")
    pruning = baselines.GradualMagnitudePruning(
        baselines.PolynomialDecay(0.5, 0, 1)
    )
    x = np.zeros((4, 12, 12, 1), "float32")
    with pytest.raises(ValueError, match="freeze them first"):
        model.fit(x, np.zeros(4), callbacks=[pruning], verbose=0)


# === Dense baseline ===


@pytest.mark.parametrize(
    "budget, template, shape",
    [
        (6200, [[20, 20], [40, 40], [40]], (28, 28, 1)),
        (2500, [[8, 8], [16, 16], [16]], (28, 28, 1)),
        (157800, [[48, 48], [96, 96], [192, 192]], (32, 32, 3)),
    ],
)
def test_dense_baseline_hits_its_budget(bench, budget, template, shape):
    baselines = bench["baselines"]
    stages = baselines.dense_stages(budget, template, shape[-1], 10)
    assert [len(s) for s in stages] == [len(s) for s in template]
    model = baselines.build_dense(shape, 10, stages)
    count = keras_gnap.count_params(model)
    assert count == baselines.folded_params(stages, shape[-1], 10)
    assert count == pytest.approx(budget, rel=0.03)
    # Dense: nothing pruned, no gate trains.
    assert count == keras_gnap.compact(model).count_params()
    assert not any(
        w.path.endswith("gate") for w in model.network.trainable_weights
    )


def test_stages_from_widths_follow_the_template(bench):
    widths = {"block1_conv": 12, "block2_conv": 9, "block3_conv": 24}
    widths["head_dense"] = 10
    stages = bench["baselines"].stages_from_widths(widths, [[8, 8], [16]])
    assert stages == [[12, 9], [24]]


# === make_results ===


def _fake_run(variant, accuracy, params, limit=None):
    return {
        "dataset": "mnist",
        "recipe_name": "mnist",
        "protocol": "full",
        "variant": variant,
        # As reproduce.recipe_for records it (see the test above).
        "recipe": {
            "name": "mnist",
            "dataset": "mnist",
            "protocol": "full",
            "settings": {
                "preset": "mnist",
                "epochs": 40,
                "batch_size": 128,
                "learning_rate": 0.01,
                "augmentation": {
                    "padding": 2,
                    "flip": False,
                    "rotation": 10.0,
                    "zoom": 0.1,
                },
            },
            "stages": [[8, 8], [16, 16], [16]],
            "sparsity": 0.05,
            "gating": "weight",
            "growth": {
                "monitor": "val_loss",
                "min_delta": 0,
                "patience": "auto",
                "max_growths": 3,
                "growth_factor": 1.0,
                "max_params": "auto",
            },
            "gmp": {
                "initial_sparsity": 0.0,
                "begin_fraction": 0.1,
                "end_fraction": 0.7,
                "frequency": 100,
                "power": 3,
                "scope": "layer",
            },
            "target": {"accuracy": 0.9944, "effective_params": 6200},
        },
        "data": {
            "source": "../shared/data/mnist",
            "train_examples": 50000,
            "validation_examples": 10000,
            "test_examples": None,
        },
        "accuracy": accuracy,
        "accuracy_split": "validation",
        "effective_params": params,
        "compact_params": params + 12,
        "compact_error": None,
        "widest": {"dense_params": 30000, "widths": {}},
        "growth_events": [{}, {}] if variant == "gnap" else [],
        "epochs": 40,
        "train_seconds": 1500.0,
        "wall_seconds": 1530.0,
        "load_average": [2.5, 2.9, 3.2],
        "seed": 0,
        "limit": limit,
        "command": "python benchmarks/reproduce.py --dataset mnist "
        "--baseline all",
        "variant_command": "python benchmarks/reproduce.py --dataset mnist "
        f"--baseline {variant}",
        "versions": {"keras": "3.x", "tensorflow": "2.x"},
        "machine": {
            "platform": "Linux",
            "machine": "x86_64",
            "cpu_count": 2,
            "usable_cpus": 2,
            "gpus": 0,
        },
    }


def test_make_results_renders_a_table_per_dataset(bench, tmp_path):
    make_results = bench["make_results"]
    results = tmp_path / "results"
    results.mkdir()
    gnap = _fake_run("gnap", 0.9950, 6100)
    for name, run in (
        ("gnap", gnap),
        ("dense", _fake_run("dense", 0.9915, 6150)),
        ("growth_off", _fake_run("growth_off", 0.9940, 6200)),
        ("smoke", _fake_run("gmp", 0.2, 6000, limit=512)),
    ):
        (results / f"mnist_{name}_seed0.json").write_text(json.dumps(run))
    output = tmp_path / "RESULTS.md"
    text = make_results.main(
        ["--results-dir", str(results), "--output", str(output), "--readme"]
    )
    assert output.read_text() == text
    assert "## MNIST" in text
    assert "| GNAP | 99.50% | - | 6,100 | 6,112 | 30,000 | 2 |" in text
    assert "| (a) dense CNN, same params | 99.15% | - | 6,150 |" in text
    assert "25.0 min | 25.5 min | 3.2 | 0 |" in text
    assert (
        "GNAP against (a) dense CNN, same params: beats it, +0.35 validation"
        in text
    )
    assert "Ablation, (c) GNAP, growth off (prune only): GNAP is +0.10" in (
        text
    )
    assert "**met**" in text
    assert (
        "The default policy (`keras_gnap/recipes.py`, `mnist`): start "
        "8-8 / 16-16 / 16 (preset `mnist`), sparsity 0.05; Adam from 0.01 "
        "with cosine decay, batch 128, 40 epochs; augmentation: turns up to "
        "10 degrees and zooms up to 10%, then shifts up to 2 px; "
        "`GrowthCallback()` defaults (growth on `val_loss`, patience auto, "
        "factor 1.0, at most 3 growths, max params auto)." in text
    )
    assert "python benchmarks/reproduce.py --dataset mnist --baseline all" in (
        text
    )
    # Smoke runs are not results.
    assert "magnitude pruning" not in text.split("## Overheads")[0]
    assert "Not measured yet" in text
    headline = make_results.headline_rows(make_results.load_results(results)[0])
    assert "| MNIST | 99.50% (validation) | 6,100 | 99.15% at 6,150 |" in (
        headline
    )


@pytest.mark.parametrize(
    "augmentation, stated",
    [
        (
            {"padding": 2, "flip": False, "rotation": 15.0, "zoom": 0.2},
            "augmentation: turns up to 15 degrees and zooms up to 20%, then "
            "shifts up to 2 px; `GrowthCallback()`",
        ),
        (
            {"padding": 4, "flip": True, "rotation": 0.0, "zoom": 0.0},
            "augmentation: shifts up to 4 px and horizontal flips; "
            "`GrowthCallback()`",
        ),
    ],
)
def test_make_results_names_turns_and_zooms(
    bench, tmp_path, augmentation, stated
):
    results = tmp_path / "results"
    results.mkdir()
    gnap = _fake_run("gnap", 0.9950, 6100)
    gnap["recipe"]["settings"]["augmentation"] = augmentation
    (results / "mnist_gnap_seed0.json").write_text(json.dumps(gnap))
    text = bench["make_results"].main(
        ["--results-dir", str(results), "--output", str(tmp_path / "R.md")]
    )
    assert stated in text
    # Turns and zooms are named only when the recipe has them.
    assert ("turns up to" in text) == bool(augmentation["rotation"])


def test_make_results_flags_runs_with_other_settings(bench, tmp_path):
    make_results = bench["make_results"]
    results = tmp_path / "results"
    results.mkdir()
    gnap = _fake_run("gnap", 0.9950, 6100)
    widest = {"dense_params": 30000, "widths": {"block1_conv": 16}}
    gnap["widest"] = widest
    # Growth settings do not matter to the dense CNN, which never grows.
    dense = _fake_run("dense", 0.9915, 6150)
    dense["recipe"]["growth"]["patience"] = 5
    dense["reference"] = {"effective_params": 6100}
    # The magnitude pruning run was sized by another GNAP run.
    gmp = _fake_run("gmp", 0.9920, 5000)
    gmp["reference"] = {"effective_params": 5000}
    # Growth off is built at GNAP's widest widths, whatever its count,
    # and never grows either.
    growth_off = _fake_run("growth_off", 0.9940, 5500)
    growth_off["recipe"]["growth"]["patience"] = 5
    growth_off["reference"] = {"effective_params": 5000, "widest": widest}
    # Growth matters to pruning off, and this one trained longer.
    prune_off = _fake_run("prune_off", 0.9930, 30000)
    prune_off["recipe"]["growth"]["patience"] = 5
    prune_off["recipe"]["settings"]["epochs"] = 60
    for name, run in (
        ("gnap", gnap),
        ("dense", dense),
        ("gmp", gmp),
        ("growth_off", growth_off),
        ("prune_off", prune_off),
    ):
        (results / f"mnist_{name}_seed0.json").write_text(json.dumps(run))
    text = make_results.main(
        ["--results-dir", str(results), "--output", str(tmp_path / "R.md")]
    )
    flagged = text.split("Runs whose settings differ")[1].split("\n\n")[1]
    assert "(a) dense CNN" not in flagged
    assert "growth off" not in flagged
    assert (
        "magnitude pruning, same params: sized by an earlier GNAP run "
        "(5,000 effective params)" in flagged
    )
    assert (
        "pruning off (growth only): its recipe differs from the GNAP row's "
        "in `growth.patience` ('auto' for GNAP, 5); `settings.epochs` (40 "
        "for GNAP, 60)." in flagged
    )


def test_make_results_checks_each_baseline_against_its_own_seed(
    bench, tmp_path
):
    make_results = bench["make_results"]
    results = tmp_path / "results"
    results.mkdir()
    runs = {}
    for seed, params in ((0, 6100), (1, 5900)):
        gnap = _fake_run("gnap", 0.9950, params)
        dense = _fake_run("dense", 0.9915, params + 10)
        dense["reference"] = {"effective_params": params}
        runs[f"gnap_seed{seed}"] = gnap
        runs[f"dense_seed{seed}"] = dense
    # Sized by seed 0's GNAP run, not by its own seed's.
    gmp = _fake_run("gmp", 0.9920, 6100)
    gmp["reference"] = {"effective_params": 6100}
    runs["gmp_seed1"] = gmp
    growth_off = _fake_run("growth_off", 0.9940, 5000)
    growth_off["reference"] = {
        "effective_params": 5900,
        "widest": {"dense_params": 9000, "widths": {"block1_conv": 8}},
    }
    runs["growth_off_seed1"] = growth_off
    for name, run in runs.items():
        run["seed"] = int(name[-1])
        (results / f"mnist_{name}.json").write_text(json.dumps(run))
    text = make_results.main(
        ["--results-dir", str(results), "--output", str(tmp_path / "R.md")]
    )
    flagged = text.split("Runs whose settings differ")[1].split("\n\n")[1]
    headline = make_results.headline_rows(make_results.load_results(results)[0])
    row = "| MNIST, seed 1 | 99.50% (validation) | 5,900 | 99.15% at 5,910 |"
    assert row in headline
    assert "(a) dense CNN" not in flagged
    assert (
        "magnitude pruning, same params (seed 1): sized by an earlier GNAP "
        "run (6,100 effective params)" in flagged
    )
    assert (
        "growth off (prune only) (seed 1): built at an earlier GNAP run's "
        "widest widths ({'block1_conv': 8})" in flagged
    )


def test_make_results_averages_gaps_over_seeds(bench, tmp_path):
    make_results = bench["make_results"]
    results = tmp_path / "results"
    results.mkdir()
    for seed, gnap_accuracy, gmp_accuracy in (
        (0, 0.9900, 0.9950),
        (1, 0.9930, 0.9910),
    ):
        for variant, accuracy in (
            ("gnap", gnap_accuracy),
            ("gmp", gmp_accuracy),
        ):
            run = _fake_run(variant, accuracy, 6000)
            run["seed"] = seed
            path = results / f"mnist_{variant}_seed{seed}.json"
            path.write_text(json.dumps(run))
    dense = _fake_run("dense", 0.9800, 6000)
    (results / "mnist_dense_seed0.json").write_text(json.dumps(dense))
    text = make_results.main(
        ["--results-dir", str(results), "--output", str(tmp_path / "R.md")]
    )
    # -0.50 and +0.20 points: a mean of -0.15.
    assert (
        "Mean over seeds 0, 1, GNAP against (b) gradual magnitude pruning, "
        "same params: -0.15 validation accuracy points (seed 0: -0.50 "
        "validation accuracy points; seed 1: +0.20 validation accuracy "
        "points)." in text
    )
    # One seed of the dense CNN: its verdict, named by its seed, and no mean.
    assert text.count("GNAP against (a) dense CNN") == 1
    assert "- Seed 0: GNAP against (a) dense CNN, same params: beats it" in (
        text
    )
    assert "- Seed 1: GNAP against (b) gradual magnitude pruning" in text


# === reproduce.py end to end ===


@pytest.mark.parametrize("variant", ["prune_off", "growth_off", "dense", "gmp"])
@pytest.mark.parametrize(
    "name, input_shape, budget",
    [("mnist", (28, 28, 1), 6000), ("cifar10", (32, 32, 3), 150000)],
)
def test_baselines_augment_inside_the_model_as_the_recipe_states(
    bench, name, input_shape, budget, variant
):
    recipe = _recipe(bench, name, input_shape)
    augmentation = recipe["settings"]["augmentation"]
    # One-channel images are never flipped, colour photos are.
    assert augmentation["flip"] == (input_shape[-1] == 3)
    # A GNAP run that doubled every block.
    blocks = [w for stage in recipe["stages"] for w in stage]
    widths = {f"block{i}_conv": 2 * w for i, w in enumerate(blocks, 1)}
    widths["head_dense"] = 10
    reference = {"widest": {"widths": widths}, "effective_params": budget}
    info = {"input_shape": list(input_shape), "classes": 10}
    model, *_ = bench["reproduce"].build_variant(
        variant, recipe, info, reference, total_steps=100
    )
    assert isinstance(model.augmentation, keras_gnap.layers.RandomAugmentation)
    config = model.augmentation.get_config()
    assert {key: config[key] for key in augmentation} == augmentation
    if variant == "growth_off":
        # Built at GNAP's widest widths from the start.
        assert bench["reproduce"]._widths(model) == widths


def _run(bench, argv):
    return bench["reproduce"].main([*argv, "--verbose", "0"])


def test_reproduce_runs_every_variant_on_generated_data(bench, tmp_path):
    data = helpers.write_idx_dir(
        tmp_path / "digits",
        train=helpers.digit_arrays(1200),
        test=helpers.digit_arrays(100, seed=1),
    )
    out = tmp_path / "out"
    argv = ["--dataset", "mnist", "--data-dir", str(data), "--out", str(out)]
    argv += ["--limit", "256", "--epochs", "1", "--baseline", "all"]
    argv += ["--test-data-dir", str(data)]
    results = _run(bench, argv)

    assert [r["variant"] for r in results] == [
        "gnap",
        "prune_off",
        "growth_off",
        "dense",
        "gmp",
    ]
    gnap = results[0]
    for result in results:
        stem = f"mnist_{result['variant']}_seed0"
        saved = json.loads((out / f"{stem}.json").read_text())
        assert saved["variant"] == result["variant"]
        assert (out / f"{stem}.keras").exists()
        assert saved["accuracy_split"] == "test"
        assert saved["accuracy"] == saved["test_accuracy"]
        assert 0 <= saved["validation_accuracy"] <= 1
        assert len(saved["load_average"]) == 3
        assert saved["data"]["train_examples"] == 256
        assert saved["data"]["test_examples"] == 100
        assert saved["compact_params"] is not None, saved["compact_error"]
        assert saved["epochs"] == 1
        assert saved["limit"] == 256
        assert "--baseline all" in saved["command"]
        assert f"--baseline {result['variant']}" in saved["variant_command"]
        assert saved["versions"]["keras"]
        assert saved["machine"]["cpu_count"]
    # Pruning off records the recipe as it is and its own zero pressure.
    assert results[1]["recipe"]["sparsity"] == DEFAULT_SPARSITY
    assert results[1]["variant_settings"]["sparsity"] == 0.0
    budget = gnap["effective_params"]
    for variant in results[2:]:
        assert variant["reference"]["effective_params"] == budget
    dense = results[3]
    assert dense["effective_params"] == pytest.approx(
        gnap["effective_params"], rel=0.05
    )
    gmp = results[4]
    assert gmp["variant_settings"]["mask_updates"]

    text = bench["make_results"].main(
        [
            "--results-dir",
            str(out),
            "--output",
            str(tmp_path / "R.md"),
            "--include-smoke",
        ]
    )
    assert "Smoke runs (`--limit 256`)" in text


def test_reproduce_records_shared_data_beside_the_clone_relatively(
    bench, tmp_path, monkeypatch
):
    reproduce = bench["reproduce"]
    # A clone with the shared folder beside it as a link to elsewhere.
    work = tmp_path / "work"
    (work / "clone").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere" / "data"
    elsewhere.mkdir(parents=True)
    (elsewhere / "digits").write_text("")
    (work / "shared").symlink_to(tmp_path / "elsewhere")
    monkeypatch.setattr(reproduce, "REPO", work / "clone")
    linked = work / "shared" / "data" / "digits"
    assert reproduce._display_path(str(linked)) == os.path.join(
        "..", "shared", "data", "digits"
    )
    # Data away from the clone keeps the path it was given.
    outside = str(elsewhere / "digits")
    assert reproduce._display_path(outside) == outside


def test_reproduce_baseline_needs_the_gnap_run(bench, tmp_path):
    data = helpers.write_idx_dir(
        tmp_path / "digits", train=helpers.digit_arrays(600)
    )
    argv = ["--dataset", "mnist", "--data-dir", str(data)]
    argv += ["--out", str(tmp_path / "out"), "--limit", "64"]
    with pytest.raises(FileNotFoundError, match="Run the GNAP recipe first"):
        _run(bench, [*argv, "--epochs", "1", "--baseline", "dense"])
    _run(bench, [*argv, "--epochs", "1"])
    with pytest.raises(ValueError, match="Baselines must use the same data"):
        _run(bench, [*argv, "--epochs", "2", "--baseline", "growth_off"])


def test_reproduce_names_runs_with_another_sparsity_apart(
    bench, tmp_path, capsys
):
    data = helpers.write_idx_dir(
        tmp_path / "digits", train=helpers.digit_arrays(600)
    )
    out = tmp_path / "out"
    argv = ["--dataset", "mnist", "--data-dir", str(data), "--out", str(out)]
    argv += ["--limit", "64", "--epochs", "1"]
    # The default value keeps the benchmark's name.
    _run(bench, [*argv, "--sparsity", str(DEFAULT_SPARSITY)])
    with pytest.raises(FileNotFoundError, match="mnist_sparsity0.3_gnap"):
        _run(bench, [*argv, "--sparsity", "0.3", "--baseline", "dense"])
    for bad in ("-0.1", "nan", "lots"):
        with pytest.raises(SystemExit):
            _run(bench, [*argv, "--sparsity", bad])
        assert (
            f"--sparsity: must be a finite number >= 0. Received: '{bad}'"
            in (capsys.readouterr().err)
        )
    (gnap,) = _run(bench, [*argv, "--sparsity", "0.3"])
    (dense,) = _run(bench, [*argv, "--sparsity", "0.3", "--baseline", "dense"])

    assert gnap["recipe_name"] == "mnist_sparsity0.3"
    assert gnap["recipe"]["sparsity"] == 0.3
    assert dense["reference"]["effective_params"] == gnap["effective_params"]
    names = sorted(path.name for path in out.glob("*.json"))
    assert names == [
        "mnist_gnap_seed0.json",
        "mnist_sparsity0.3_dense_seed0.json",
        "mnist_sparsity0.3_gnap_seed0.json",
    ]
    text = bench["make_results"].main(
        ["--results-dir", str(out), "--output", str(tmp_path / "R.md")]
        + ["--include-smoke"]
    )
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections[:2] == ["## MNIST", "## MNIST, sparsity 0.3"]


def test_main_command_and_benchmark_give_the_same_figures(bench, tmp_path):
    data = helpers.write_idx_dir(
        tmp_path / "digits", train=helpers.digit_arrays(600)
    )
    common = ["--epochs", "1", "--limit", "128", "--verbose", "0"]
    code = cli.main(
        ["train", "--dataset", str(data), *common]
        + ["--output", str(tmp_path / "run")]
    )
    assert code == 0
    out = tmp_path / "out"
    bench["reproduce"].main(
        ["--dataset", "mnist", "--data-dir", str(data), *common]
        + ["--out", str(out)]
    )
    command = json.loads((tmp_path / "run" / "history.json").read_text())
    benchmark = json.loads((out / "mnist_gnap_seed0.json").read_text())
    assert command["data"]["train_examples"] == 128
    assert benchmark["data"]["train_examples"] == 128
    # Same data, seed and code path (keras_gnap.training.train): the same
    # run, to the last bit.
    for key in ("validation_accuracy", "effective_params", "growth_events"):
        assert command[key] == benchmark[key], key
    assert command["history"] == benchmark["history"]
    assert command["settings"] == benchmark["recipe"]["settings"]


def test_reproduce_smoke_on_shared_mnist(bench, tmp_path):
    if not (helpers.MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"shared MNIST data not found in {helpers.MNIST_DIR}")
    argv = ["--dataset", "mnist", "--out", str(tmp_path)]
    (result,) = _run(bench, [*argv, "--limit", "512", "--epochs", "1"])
    assert result["data"]["train_examples"] == 512
    assert result["accuracy_split"] == "validation"
    assert result["test_accuracy"] is None
    assert result["data"]["source"].endswith("mnist")
    # The saved model is the final one.
    model = keras.saving.load_model(tmp_path / result["model_file"])
    assert keras_gnap.count_params(model) == result["effective_params"]


# === overheads.py ===


def test_overheads_measures_and_records(bench, tmp_path, monkeypatch):
    overheads = bench["overheads"]
    monkeypatch.setattr(
        overheads, "NETWORKS", (("mnist", (28, 28, 1), "mnist"),)
    )
    out = tmp_path / "overheads.json"
    record = overheads.main(
        ["--steps", "2", "--rounds", "1", "--batch-size", "8"]
        + ["--out", str(out)]
    )
    assert json.loads(out.read_text()) == record
    assert [row["network"] for row in record["step_time"]] == [
        "start",
        "2x start",
    ]
    assert all(row["ratio"] > 0 for row in record["step_time"])
    (growth,) = record["growth"]
    assert growth["dense_params_after"] > growth["dense_params_before"]
    assert growth["total_seconds"] >= growth["callback_seconds"] > 0


def test_overheads_times_data_without_autotuning(bench):
    # tf.data's autotuning thread holds the end of each `fit` to its next
    # wake-up, which quantized the timed rounds.
    dataset = bench["overheads"]._data((28, 28, 1), 4, seed=0)
    assert dataset.options().autotune.enabled is False
    x, y = next(iter(dataset))
    assert x.shape == (4, 28, 28, 1) and y.shape == (4,)


# === Export ===


def test_export_report_writes_the_schema_and_the_readme_table(
    bench, tmp_path, capsys
):
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    if not data.is_dir():
        pytest.skip("the shared MNIST folder is not beside the repository")
    sys.path.insert(0, str(BENCHMARKS))
    try:
        export_report = importlib.import_module("export_report")
    finally:
        sys.path.remove(str(BENCHMARKS))
    model = keras_gnap.build_gnap(
        (28, 28, 1), 10, stages=((4,), (6,)), gating="weight_and_unit"
    )
    network = model.network
    # Unit gates cut two of block1's units; weight gates prune some more.
    conv = network.get_layer("block2_conv")
    conv.unit_gate.assign(np.array([1.0, -1.0, 1.0, -1.0], "float32"))
    gate = conv.gate.numpy()
    gate[0, 0] = -1.0
    conv.gate.assign(gate)
    model.save(tmp_path / "m.keras")
    results = tmp_path / "results"
    export_report.main(
        [
            "--model",
            str(tmp_path / "m.keras"),
            "--dataset",
            "mnist",
            "--data-dir",
            str(data),
            "--results-dir",
            str(results),
            "--latency-runs",
            "3",
            "--limit",
            "300",
        ]
    )
    result = json.loads((results / "export_mnist.json").read_text())
    figures = {"bytes", "gzip_bytes", "latency_ms", "macs"}
    assert result["dataset"] == "mnist"
    assert set(result["widest_dense"]) == {"float32"}
    assert set(result["compacted"]) == {"float32", "int8"}
    for entry in (
        result["widest_dense"]["float32"],
        *result["compacted"].values(),
    ):
        assert set(entry) >= figures
        assert isinstance(entry["bytes"], int) and entry["bytes"] > 0
        assert entry["latency_ms"] > 0
    widest = result["widest_dense"]["float32"]
    compacted = result["compacted"]["float32"]
    # Block1 keeps 2 of 4 units: half its MACs and half of block2's.
    expected = 9 * (1 * 2 * 784 + 2 * 6 * 196) + 6 * 10
    assert compacted["macs"] == expected
    assert widest["macs"] == 9 * (1 * 4 * 784 + 4 * 6 * 196) + 6 * 10
    assert set(result["kernels"]) == {
        "float32 dense",
        "float32 sparse",
        "int8 dense",
        "int8 sparse",
    }
    out = capsys.readouterr().out
    assert "Multiply-adds" in out and "export_mnist.json" in out
    make_results = bench["make_results"]
    table = make_results.export_rows(make_results.load_exports(results))
    assert result["gating"] == "weight_and_unit"
    assert (
        f"| MNIST, unit gates | widest dense, float32 | {widest['macs']:,} |"
        in table
    )
    assert "| MNIST, unit gates | compacted, int8 |" in table


def test_readme_export_table_is_the_one_the_results_give(bench):
    make_results = bench["make_results"]
    exports = make_results.load_exports(BENCHMARKS / "results")
    if not exports:
        pytest.skip("no export results recorded yet")
    readme = (BENCHMARKS.parent / "README.md").read_text()
    assert make_results.export_rows(exports) in readme


# === Throughput on several devices ===


def test_parallel_throughput_times_each_setting(bench, tmp_path):
    if not (helpers.MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"shared MNIST data not found in {helpers.MNIST_DIR}")
    script = bench["parallel_throughput"]
    backend = keras.backend.backend()
    devices = ["1", "2"] if backend != "torch" else ["1"]
    results = script.main(
        [
            "--backends",
            backend,
            "--devices",
            *devices,
            "--mixed-precision",
            "none",
            "--images",
            "256",
            "--epochs",
            "2",
            "--json",
            str(tmp_path / "throughput.json"),
        ]
    )
    assert json.loads((tmp_path / "throughput.json").read_text()) == results
    rows = results["rows"]
    assert [row["devices"] for row in rows] == [int(d) for d in devices]
    for row in rows:
        assert row["backend"] == backend
        assert len(row["device_names"]) == row["devices"]
        assert len(row["epoch_seconds"]) == 2
        assert row["images"] == 256
        expected = 256 / row["epoch_seconds"][1]
        assert row["images_per_second"] == pytest.approx(expected, rel=0.01)
    table = script.table(results)
    assert f"| {backend} | 1 | float32 |" in table
    assert table.count("\n") == len(rows) + 1


def test_readme_throughput_table_is_the_one_the_benchmark_gives(bench):
    script = bench["parallel_throughput"]
    results = json.loads(script.DEFAULT_JSON.read_text())
    readme = (BENCHMARKS.parent / "README.md").read_text()
    assert script.table(results) in readme
    assert results["command"] in readme
