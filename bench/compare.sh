#!/usr/bin/env bash
# Runs the same workloads in ftheta and in PyTorch, one after the other in this run, and prints a
# table of times and ratios. Creates a Python venv with torch in bench/.venv when none is given.
#
#   bench/compare.sh                 # all workloads, 1 thread
#   THREADS=2 bench/compare.sh       # two threads on both sides
#   PYTHON=/path/to/python bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-1}
if [ -z "${PYTHON:-}" ]; then
  if ! bench/.venv/bin/python -c "import torch" 2>/dev/null; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q torch numpy
  fi
  PYTHON=bench/.venv/bin/python
fi
cargo build --release -q -p ftheta-bench
export RAYON_NUM_THREADS=$THREADS FTHETA_BENCH_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
field() { sed -E "s/.*\"$1\": ?([0-9.e+-]+).*/\1/"; }
printf "%-28s %12s %12s %10s\n" "workload ($THREADS thread(s))" "ftheta" "pytorch" "speed-up"
row() { # name unit key higher_is_better args...
  local name=$1 unit=$2 key=$3 hib=$4; shift 4
  local f p
  f=$(./target/release/ftheta-bench "$@" | field "$key")
  p=$("$PYTHON" bench/torch_workloads.py "$@" | field "$key")
  if [ "$hib" = 1 ]; then r=$(awk "BEGIN{print $f / $p}"); else r=$(awk "BEGIN{print $p / $f}"); fi
  printf "%-28s %12.3f %12.3f %9.1fx   (%s)\n" "$name" "$f" "$p" "$r" "$unit"
}
row "tiny linear, per update" "µs" us_per_update 0 tiny-linear
row "tiny 1-16-1 MLP, per update" "µs" us_per_update 0 tiny-mlp
row "784-256-128-10 fwd+bwd b128" "ms" ms 0 mlp-step
for n in 256 512 1024; do row "sgemm $n" "GFLOP/s" gflops 1 matmul $n; done
