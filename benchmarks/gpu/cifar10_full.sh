#!/usr/bin/env bash
# The full CIFAR-10 recipe on one GPU, JAX backend, in one command.
#
#   benchmarks/gpu/cifar10_full.sh OUT_DIR [benchmarks/reproduce.py options]
#
# Writes OUT_DIR/cifar10_gnap_seed<S>.json (validation accuracy on the last
# 5,000 training images, effective parameters, growth events, seconds per
# epoch), the final model OUT_DIR/cifar10_gnap_seed<S>.keras and the log
# OUT_DIR/log.txt. Check it on a CPU first, e.g.
#
#   benchmarks/gpu/cifar10_full.sh runs/gpu-check --epochs 2 --limit 2048
#
# Needs no TensorFlow. Where Keras is not installed, it installs the wheels
# in .whl/ (see the README's "GPU" section). The data: $CIFAR10_DATA, else
# data/cifar10-train-jpg.tar.gz in the checkout, else the shared copy in
# ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: benchmarks/gpu/cifar10_full.sh OUT_DIR [reproduce.py options]" >&2
  exit 2
fi
out=$1
shift

export KERAS_BACKEND=${KERAS_BACKEND:-jax}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if ! python3 -c "import keras" 2>/dev/null; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "Keras is not installed and .whl/ holds no wheels to install it" \
      "from; see the README's GPU section." >&2
    exit 2
  fi
  site=$(mktemp -d)
  python3 -m pip install -q --no-index --no-deps --target "$site" .whl/*.whl
  export PYTHONPATH="$site:$PYTHONPATH"
fi

data=${CIFAR10_DATA:-data/cifar10-train-jpg.tar.gz}
[ -f "$data" ] || data=../shared/data/cifar10/cifar10-train-jpg.tar.gz
if [ ! -f "$data" ]; then
  echo "CIFAR-10 not found: set CIFAR10_DATA or copy the tarball to" \
    "data/cifar10-train-jpg.tar.gz" >&2
  exit 2
fi

mkdir -p "$out"
python3 benchmarks/reproduce.py --dataset cifar10 --data-dir "$data" \
  --out "$out" --verbose 2 "$@" 2>&1 | tee "$out/log.txt"
