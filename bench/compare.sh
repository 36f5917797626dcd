#!/usr/bin/env bash
# Runs the same workloads in ftheta and in PyTorch (and numpy for GEMM), one after the other in
# this run, and prints a Markdown table: both figures, their ratio, the goal of issue 5 and whether
# it is met. Creates a Python venv with torch in bench/.venv when none is given.
#
#   bench/compare.sh                      # all workloads, 1 thread
#   THREADS=2 bench/compare.sh            # two threads on both sides
#   PYTHON=/path/to/python bench/compare.sh
#   ONLY="tiny gemm" bench/compare.sh     # a subset: tiny, mnist, rss, gemm, train
#   MNIST_DIR=/path/to/mnist              # real MNIST for the time-to-accuracy row
#                                         # (default /work/shared/data/mnist; skipped when absent)
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-1}
ONLY=${ONLY:-"tiny mnist rss gemm train"}
MNIST_DIR=${MNIST_DIR:-/work/shared/data/mnist}
if [ -z "${PYTHON:-}" ]; then
  if ! bench/.venv/bin/python -c "import torch" 2>/dev/null; then
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q torch numpy
  fi
  PYTHON=bench/.venv/bin/python
fi
cargo build --release -q -p ftheta-bench
export RAYON_NUM_THREADS=$THREADS FTHETA_BENCH_THREADS=$THREADS OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
FT=./target/release/ftheta-bench
PY="$PYTHON bench/torch_workloads.py"
field() { sed -E "s/.*\"$1\": ?([0-9.e+-]+).*/\1/"; }
have() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

echo "$(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(grep -c ^processor /proc/cpuinfo) cores; $THREADS thread(s); load $(cut -d' ' -f1-3 /proc/loadavg); torch $($PYTHON -c 'import torch; print(torch.__version__)')"
echo
echo "| workload ($THREADS thread(s)) | unit | ftheta | pytorch | ratio | goal | met |"
echo "|---|---|---:|---:|---:|---|---|"
# row NAME UNIT FTHETA PYTORCH RATIO GOAL-OP GOAL: the ratio is computed by the caller.
row() {
  local met
  met=$(awk "BEGIN{print ($5 $6 $7) ? \"yes\" : \"**no**\"}")
  printf "| %s | %s | %.4g | %.4g | %.3g | %s %s | %s |\n" "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$met"
}
ratio() { awk "BEGIN{print $1 / $2}"; }

if have tiny; then
  for w in tiny-linear tiny-mlp; do
    f=$($FT $w | field us_per_update)
    p=$($PY $w | field us_per_update)
    row "$w, per update (speed-up = pytorch/ftheta)" "µs" "$f" "$p" "$(ratio "$p" "$f")" ">=" 50
  done
fi

if have mnist; then
  for opt in sgd adam; do
    for b in 32 128 512; do
      f=$($FT mnist-epoch $opt $b | field s_per_epoch)
      p=$($PY mnist-epoch $opt $b | field s_per_epoch)
      goal=0.5; [ "$b" = 512 ] && goal=0.7
      row "MNIST MLP epoch, $opt, batch $b (ftheta/pytorch)" "s" "$f" "$p" "$(ratio "$f" "$p")" "<=" $goal
    done
  done
fi

if have rss; then
  f=$($FT mnist-epoch sgd 128 | field max_rss_mib)
  p=$($PY mnist-epoch sgd 128 | field max_rss_mib)
  row "peak RSS of the MNIST epoch run, sgd b128 (ftheta/pytorch)" "MiB" "$f" "$p" "$(ratio "$f" "$p")" "<=" 1
fi

if have gemm; then
  for n in 256 512 1024 2048; do
    f=$($FT matmul $n | field gflops)
    p=$($PY matmul $n | field gflops)
    q=$($PY matmul-numpy $n | field gflops)
    best=$(awk "BEGIN{print ($p > $q) ? $p : $q}")
    row "sgemm $n×$n (ftheta / best of torch $(printf %.0f "$p"), numpy $(printf %.0f "$q"))" "GFLOP/s" "$f" "$best" "$(ratio "$f" "$best")" ">=" 0.9
  done
fi

if have train && [ -d "$MNIST_DIR" ]; then
  f=$($FT mnist-train adam 128 0.975 "$MNIST_DIR")
  p=$($PY mnist-train adam 128 0.975 "$MNIST_DIR")
  fe=$(echo "$f" | field epochs) pe=$(echo "$p" | field epochs)
  fs=$(echo "$f" | field s_to_target) ps=$(echo "$p" | field s_to_target)
  row "time to 97.5% test accuracy, real MNIST, adam b128 ($fe vs $pe epochs) (ftheta/pytorch)" "s" "$fs" "$ps" "$(ratio "$fs" "$ps")" "<" 1
fi
