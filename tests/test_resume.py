"""Reproducible runs: the same seed gives the same run, and a killed
`python -m keras_gnap train` goes on with `--resume` and ends as if it had
never stopped, growth included, on every backend."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from data_helpers import digit_arrays
from data_helpers import write_idx_dir

import keras_gnap  # noqa: F401  (registers the classes the models use)
from keras_gnap import training

ROOT = Path(__file__).resolve().parents[1]
# Random labels: the validation loss stops improving at once, so the
# network grows early (at epoch 2 of 6, patience 1).
OPTIONS = [
    "--epochs",
    "6",
    "--batch-size",
    "32",
    "--validation-size",
    "100",
    "--seed",
    "3",
    "--verbose",
    "2",
]


def _command(data, output, *extra):
    return [
        sys.executable,
        "-m",
        "keras_gnap",
        "train",
        "--dataset",
        str(data),
        "--output",
        str(output),
        *OPTIONS,
        *extra,
    ]


def _env():
    # Unbuffered, so that each line arrives as it is printed.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    return env


def _run(command, cwd):
    return subprocess.run(
        command, cwd=cwd, env=_env(), capture_output=True, text=True
    )


def _run_until_growth(command, cwd):
    """Runs `command` and kills it (SIGKILL) once it has grown."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        # Printed when the epoch after the growth begins, so the growth's
        # epoch is checkpointed by then.
        if "GNAP growth 1" in line:
            process.kill()
            break
    process.wait()
    return "".join(seen)


@pytest.mark.backends
def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path):
    data = write_idx_dir(
        tmp_path / "digits",
        train=digit_arrays(400),
        test=digit_arrays(50, seed=1),
    )
    whole = _run(_command(data, tmp_path / "whole"), tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert "GNAP growth 1" in whole.stdout

    printed = _run_until_growth(_command(data, tmp_path / "killed"), tmp_path)
    assert "GNAP growth 1" in printed
    killed = tmp_path / "killed"
    state = json.loads((killed / "checkpoint" / "state.json").read_text())
    assert 2 <= state["epoch"] < 6
    assert state["growth"]["growth_events"]
    assert not (killed / "model.keras").exists()

    # Run again as it was: it says how to go on, and changes nothing.
    again = _run(_command(data, killed), tmp_path)
    assert again.returncode == 2
    assert "--resume" in again.stderr and "Traceback" not in again.stderr
    assert (killed / "checkpoint" / "state.json").read_text() == json.dumps(
        state
    )

    resumed = _run(_command(data, killed, "--resume"), tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"after epoch {state['epoch']} of 6" in resumed.stdout
    assert not (killed / "checkpoint").exists()

    first = json.loads((tmp_path / "whole" / "history.json").read_text())
    second = json.loads((killed / "history.json").read_text())
    for key in ("effective_params", "dense_params", "widths", "epochs"):
        assert second[key] == first[key], key
    assert [e["epoch"] for e in second["growth_events"]] == [
        e["epoch"] for e in first["growth_events"]
    ]
    assert (
        second["growth_events"][0]["widths_after"]
        == (first["growth_events"][0]["widths_after"])
    )
    for key, values in first["history"].items():
        np.testing.assert_allclose(
            second["history"][key], values, rtol=1e-5, atol=1e-5, err_msg=key
        )
    images = np.random.default_rng(0).random((16, 28, 28, 1), "float32")
    expected = keras.saving.load_model(tmp_path / "whole" / "model.keras")
    actual = keras.saving.load_model(killed / "model.keras")
    np.testing.assert_allclose(
        actual.predict(images, verbose=0),
        expected.predict(images, verbose=0),
        atol=1e-5,
    )


def test_the_same_seed_gives_the_same_run(tmp_path):
    # Same seed, data and machine: same growths, count and accuracy.
    data = write_idx_dir(tmp_path / "digits", train=digit_arrays(400))
    records = []
    for _ in range(2):
        _, record = training.train(
            str(data), epochs=4, batch_size=32, validation_size=100, verbose=0
        )
        records.append(record)
    first, second = records
    assert first["growth_events"], "the run should grow (random labels)"
    for key in ("growth_events", "effective_params", "validation_accuracy"):
        assert second[key] == first[key], key
    assert second["history"] == first["history"]
    # Another seed is another run.
    _, other = training.train(
        str(data),
        epochs=4,
        batch_size=32,
        validation_size=100,
        verbose=0,
        seed=1,
    )
    assert other["history"]["loss"] != first["history"]["loss"]
