#!/usr/bin/env bash
# Every benchmark of the default policy at once on one GPU, JAX backend.
#
#   benchmarks/gpu/all_benchmarks.sh OUT_DIR [reproduce.py options]
#
# Runs, side by side on the one GPU (16 CPU cores feed them): MNIST and
# Fashion-MNIST, seeds 0 to 2, GNAP then its growth-off ablation; reduced
# CIFAR-10, seeds 0 to 2; full CIFAR-10, seed 0; and MNIST at sparsity
# 0.07, seeds 0 to 2 (an experiment against the default 0.05). Each run
# writes its JSON into OUT_DIR/results and its log into OUT_DIR/logs; a
# run still going after $BUDGET seconds (default 560) is stopped and
# leaves its log. The data: data/mnist, data/fashion_mnist (IDX files) and
# data/cifar10/cifar10-train-jpg.tar.gz in the checkout. Check it on a CPU
# first, e.g.
#
#   BUDGET=600 benchmarks/gpu/all_benchmarks.sh runs/gpu-check \
#     --limit 256 --epochs 2
#
# reproduce.py's --mixed-precision bfloat16|float16 and --devices N pass
# through to every run, e.g. `all_benchmarks.sh runs/bf16
# --mixed-precision bfloat16` (runs named <dataset>_bfloat16). With
# --devices 1 (the default) the runs share the one GPU; --devices N needs
# N GPUs for each run, so start fewer runs at once there. The throughput
# of 1 and 2 devices, with and without mixed precision, is
# benchmarks/parallel_throughput.py's.
#
# Needs no TensorFlow. Where Keras is not installed, it installs the wheels
# in .whl/ (see the README's "GPU" section).
set -uo pipefail
cd "$(dirname "$0")/../.."

if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: benchmarks/gpu/all_benchmarks.sh OUT_DIR [reproduce.py options]" >&2
  exit 2
fi
out=$1
shift
budget=${BUDGET:-560}

export KERAS_BACKEND=${KERAS_BACKEND:-jax}
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# Many processes share the GPU: none may take most of its memory.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
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
for path in data/mnist data/fashion_mnist data/cifar10/cifar10-train-jpg.tar.gz; do
  if [ ! -e "$path" ]; then
    echo "Missing $path: copy the data into the checkout first." >&2
    exit 2
  fi
done

mkdir -p "$out/results" "$out/logs"
run() {  # run NAME "VARIANTS" DATASET DATA [options]: one chain, logged.
  local name=$1 variants=$2 dataset=$3 data=$4
  shift 4
  timeout "$budget" bash -c '
    variants=$1 dataset=$2 data=$3 out=$4; shift 4
    for variant in $variants; do
      python3 benchmarks/reproduce.py --dataset "$dataset" --data-dir "$data" \
        --out "$out" --verbose 2 --baseline "$variant" "$@" || exit 1
    done' _ "$variants" "$dataset" "$data" "$out/results" "$@" \
    >"$out/logs/$name.log" 2>&1
  echo "$name: exit $? after $SECONDS s" >>"$out/logs/status.txt"
}

started=$(date +%s)
run cifar10_seed0 gnap cifar10 \
  data/cifar10/cifar10-train-jpg.tar.gz --seed 0 "$@" &
for seed in 0 1 2; do
  run "mnist_seed$seed" "gnap growth_off" mnist data/mnist \
    --seed "$seed" "$@" &
  run "fashion_mnist_seed$seed" "gnap growth_off" fashion_mnist \
    data/fashion_mnist --seed "$seed" "$@" &
  run "cifar10_reduced_seed$seed" gnap cifar10_reduced \
    data/cifar10/cifar10-train-jpg.tar.gz --seed "$seed" "$@" &
  run "mnist_sparsity0.07_seed$seed" gnap mnist data/mnist \
    --seed "$seed" --sparsity 0.07 "$@" &
done
wait
echo "all done after $(($(date +%s) - started)) s" >>"$out/logs/status.txt"
cat "$out/logs/status.txt"
