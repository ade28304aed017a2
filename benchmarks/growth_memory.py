"""Resident memory across ten growths in one `fit`, on each backend.

Each growth builds a wider network, a new optimizer and new compiled step
functions. If the old ones were kept alive (by the trainer's cached
functions, the optimizer's variables or the callbacks), resident memory
would climb by megabytes at every growth. This runs one `fit` of a small
GNAP network whose scripted validation loss makes it grow every other
epoch, ten times (`GrowthCallback(patience=1, max_growths=10,
growth_factor=0.25)`), and prints the process's resident set size (RSS,
from /proc, after garbage collection) after each growth, next to what the
network's weights and Adam's two moments need.

One process per backend, so that each starts clean.

Usage (from the repository root, keras_gnap importable; Linux):

    python benchmarks/growth_memory.py
    python benchmarks/growth_memory.py --backends tensorflow torch
"""

import argparse
import gc
import json
import os
import subprocess
import sys
import weakref

GROWTHS = 10
BACKENDS = ("tensorflow", "jax", "torch")


def rss_mib():
    """Resident set size of this process, in MiB (Linux /proc)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure():
    """Runs the ten growths in this process; returns one row per growth."""
    import keras
    import numpy as np

    import keras_gnap

    class ScriptedValLoss(keras.callbacks.Callback):
        # Each growth phase: one epoch that improves, one that does not.
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = 1.0 - 0.01 * (epoch // 2)

    class Memory(keras.callbacks.Callback):
        def __init__(self, growth):
            super().__init__()
            self.growth = growth
            self.rows = []
            self.networks = []  # weak references to every network seen
            self.optimizers = []

        def on_train_begin(self, logs=None):
            gc.collect()
            self.rows.append(self._row(0))

        def on_epoch_end(self, epoch, logs=None):
            if len(self.growth.growth_events) > len(self.rows) - 1:
                gc.collect()
                self.rows.append(self._row(len(self.growth.growth_events)))

        def _row(self, growths):
            self.networks.append(weakref.ref(self.model.network))
            self.optimizers.append(weakref.ref(self.model.optimizer))
            params = keras_gnap.reports.dense_params(self.model)
            return {
                # Replaced networks and optimizers that something still
                # holds: a leak, whatever the RSS says.
                "old_networks_alive": sum(
                    r() is not None for r in self.networks
                )
                - 1,
                "old_optimizers_alive": sum(
                    r() is not None for r in self.optimizers
                )
                - 1,
                "growths": growths,
                "rss_mib": round(rss_mib(), 1),
                "dense_params": int(params),
                # float32 weights and Adam's two moments.
                "weights_mib": round(3 * 4 * params / 2**20, 2),
            }

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.random((256, 16, 16, 1)).astype("float32")
    y = rng.integers(0, 3, 256)
    model = keras_gnap.build_gnap((16, 16, 1), 3)
    model.compile("adam", "sparse_categorical_crossentropy")
    growth = keras_gnap.GrowthCallback(
        patience=1,
        max_growths=GROWTHS,
        growth_factor=0.25,
        max_params=None,
        verbose=0,
    )
    memory = Memory(growth)
    # Growth stops after 75% of the epochs: leave room for ten.
    model.fit(
        x,
        y,
        batch_size=64,
        epochs=2 * GROWTHS * 4 // 3 + 2,
        verbose=0,
        callbacks=[ScriptedValLoss(), growth, memory],
    )
    return memory.rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=BACKENDS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure()))
        return
    for backend in args.backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        result = subprocess.run(
            [sys.executable, __file__, "--child"],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(f"{backend}: failed\n{result.stderr[-2000:]}")
            continue
        rows = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"\n{backend}: RSS after each growth (MiB)")
        print(
            f"{'growths':>8} {'RSS':>8} {'dense params':>13} {'weights':>8} "
            f"{'old networks':>13} {'old optimizers':>15}"
        )
        for row in rows:
            print(
                f"{row['growths']:>8} {row['rss_mib']:>8.1f} "
                f"{row['dense_params']:>13,} {row['weights_mib']:>8.2f} "
                f"{row['old_networks_alive']:>13} "
                f"{row['old_optimizers_alive']:>15}"
            )
        if len(rows) > 5:
            late = (rows[-1]["rss_mib"] - rows[5]["rss_mib"]) / (len(rows) - 6)
            print(
                f"{'':>8} {late:+.1f} MiB per growth over the last "
                f"{len(rows) - 6} growths"
            )


if __name__ == "__main__":
    main()
