"""Checkpoints of a whole GNAP run, so that a stopped run can go on."""

import json
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

STATE_FILE = "state.json"


class RunCheckpoint(keras.callbacks.Callback):
    """Saves all a run needs to go on, at the end of every epoch.

    Into `directory`: the model as `epoch-NNNN.keras` (architecture, so
    also every growth so far, weights, gates, the optimizer in use and its
    state), and `state.json`, written last, which names that model file
    and holds the epoch, the growth policy's state (see
    `GrowthCallback.get_state`), the history so far, the epoch times,
    NumPy's global random state (growth draws from it) and the state of
    the augmentation's random stream. Both are written under temporary
    names and renamed, and the previous model file is removed only once
    `state.json` names the new one, so a run killed at any moment leaves a
    consistent checkpoint. `keras_gnap.training.train(resume=True)` goes
    on from it.

    Args:
        directory: str or path. The checkpoint folder (made if missing).
        growth: the run's `GrowthCallback`.
        timer: the run's `keras_gnap.training.EpochTimer`.
        run: dict of JSON data about the run to keep with it (for example
            the command's arguments), or `None`. Defaults to `None`.
        history: dict of per-epoch lists from before this `fit` (when it
            resumes a run), or `None`. Defaults to `None`.
    """

    def __init__(self, directory, growth, timer, run=None, history=None):
        super().__init__()
        self.directory = Path(directory)
        self.growth = growth
        self.timer = timer
        self.run = run
        self.history = {k: list(v) for k, v in (history or {}).items()}

    def on_train_begin(self, logs=None):
        self.directory.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        name = f"epoch-{epoch + 1:04d}.keras"
        write_atomically(self.directory / name, self.model.save)
        state = {
            "epoch": epoch + 1,
            "epochs": self.params.get("epochs"),
            "model": name,
            "growth": self.growth.get_state(),
            "history": self.history,
            "epoch_seconds": list(self.timer.seconds),
            "numpy_random": _numpy_random_state(),
            "augmentation_random": _augmentation_state(self.model),
            "run": self.run,
        }
        write_atomically(
            self.directory / STATE_FILE,
            lambda path: Path(path).write_text(json.dumps(state)),
        )
        for old in self.directory.glob("epoch-*.keras"):
            if old.name != name:
                old.unlink()


def read_checkpoint(directory):
    """Returns the state a `RunCheckpoint` left in `directory`, or `None`.

    Args:
        directory: str or path.

    Returns:
        The dict of `state.json`, with `model` the full path of the model
        file, or `None` when there is no checkpoint.
    """
    path = Path(directory) / STATE_FILE
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    state["model"] = str(Path(directory) / state["model"])
    return state


def restore_random_state(model, state):
    """Puts NumPy's global random state and the augmentation's random
    stream back as `state` (from `read_checkpoint`) saved them.

    Args:
        model: the model loaded from the checkpoint.
        state: dict from `read_checkpoint`.
    """
    kind, keys, position, has_gauss, cached = state["numpy_random"]
    np.random.set_state(
        (kind, np.asarray(keys, np.uint32), position, has_gauss, cached)
    )
    generator = _augmentation_generator(model)
    if generator is not None and state["augmentation_random"] is not None:
        generator.state.assign(
            np.asarray(state["augmentation_random"], generator.state.dtype)
        )


def write_atomically(path, write):
    """Writes a file through `write(tmp_path)`, then renames it to `path`.

    So an interrupted write never leaves a half-written file at `path`.
    The file gets the mode a new file would (0644 under the usual umask),
    not `mkstemp`'s 0600.

    Args:
        path: str or path of the file to write; its folder must exist.
        write: callable taking the temporary path, which writes the file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix
    )
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _numpy_random_state():
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return [kind, keys.tolist(), int(position), int(has_gauss), cached]


def _augmentation_generator(model):
    return getattr(getattr(model, "augmentation", None), "seed_generator", None)


def _augmentation_state(model):
    generator = _augmentation_generator(model)
    if generator is None:
        return None
    return keras.ops.convert_to_numpy(generator.state).tolist()
