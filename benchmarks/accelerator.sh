#!/usr/bin/env bash
# The prepared accelerator check: one command that measures a GPU in a few minutes.
#
#   bash benchmarks/accelerator.sh prepare          # here, once: .accel/ (wheels + data)
#   bash benchmarks/accelerator.sh check            # on the GPU machine (device tool)
#   bash benchmarks/accelerator.sh check --cpu-smoke  # here: the same steps, tiny sizes
#
# prepare puts into .accel/ (ignored by git) what the GPU machine lacks: the wheels of the
# Python packages missing there (ml_collections, for Python 3.12 manylinux x86-64) and the
# Fashion-MNIST files; it fails if the folder exceeds 64 MiB. check installs the wheels
# into /tmp when a package is missing, then runs, each step under its own time limit, and
# writes everything to $OUT (the device tool's output folder; default runs/accelerator):
#   tests.txt          a GPU test subset (the trainer's and the search's scan paths,
#                      sharding on one device, compile-once)
#   round_*.txt        benchmarks/round.py for small_cnn and resnet18 (Fashion-MNIST
#                      padded to 32x32x3): train / score / search / pick, autoal / entropy
#   seeds.txt          benchmarks/seeds.py (vmapped seeds against one after another)
#   seed_runs.txt      benchmarks/seeds.py --mode=runs: the demo experiment (margin), 16
#                      seeds as one vmapped program per round against one after another
#   strategies.txt     benchmarks/strategies.py at N = 200,000 (JAX only)
#   throughput.txt     benchmarks/throughput.py: training and scoring images/s, peak memory
#   summary.md         every table above, with the device, versions and wall times
# A step that fails or runs out of time is recorded as such and the others still run.
# docs/benchmarks.md ("On a GPU") gives the device tool call.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PREP=.accel
PY=${PYTHON:-python3}
mode=${1:-check}
smoke=0
[ "${2:-}" = "--cpu-smoke" ] && smoke=1

if [ "$mode" = prepare ]; then
  set -e
  rm -rf "$PREP"
  mkdir -p "$PREP/wheels" "$PREP/fashion_mnist"
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    -d "$PREP/wheels" "ml-collections==1.1.0"
  cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$PREP/fashion_mnist/"
  size=$(du -sm "$PREP" | cut -f1)
  echo "prepared $PREP: ${size} MiB ($(ls "$PREP/wheels" | tr '\n' ' '))"
  [ "$size" -le 64 ] || { echo "error: $PREP is over 64 MiB"; exit 1; }
  exit 0
fi
[ "$mode" = check ] || { echo "usage: $0 prepare | check [--cpu-smoke]"; exit 2; }

out=${OUT:-runs/accelerator}
mkdir -p "$out"
if ! "$PY" -c "import ml_collections" 2>/dev/null; then
  [ -d "$PREP/wheels" ] || { echo "error: ml_collections missing and no $PREP/wheels: run prepare"; exit 1; }
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/autoal-site "$PREP"/wheels/*.whl
  export PYTHONPATH=/tmp/autoal-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
data_dir=""
[ -d "$PREP/fashion_mnist" ] && data_dir="--config.data_dir=$PWD/$PREP/fashion_mnist"
cache="--config.jax_cache_dir=/tmp/autoal-jax-cache"

if [ "$smoke" = 1 ]; then  # every step and flag, at sizes this CPU runs in about a minute
  tests=(tests/test_sharding.py::test_make_mesh_checks_the_device_count)  # the step, not a compile
  small=(--config=experiments/configs/smoke.py --config.pool_size=600 --config.test_size=100
         --config.search.steps=3 --rounds=1)
  # ResNet-18 compiles too long here: the step's command runs, on the MLP, entropy alone and
  # one timed round (autoal's round is the step above's).
  resnet=("${small[@]}" --config.model=mlp --strategies=entropy)
  seeds=(--models=mlp --steps=2 --seeds=2)
  seed_runs=(--mode=runs --config=experiments/configs/smoke.py --config.pool_size=600
             --config.test_size=100 --config.num_initial=10 --config.query_size=10
             --config.quota=10 --sizes=2)
  strategies=(--n=2000 --d=16 --k=20 --only=entropy,badge --skip_reference)
  throughput=(--models=mlp --steps=2 --pool=512 --batch_size=32 --eval_chunk=256 --num_mc=2)
  limits=(300 300 300 300 300 300 300)
else
  tests=(tests/test_train.py::test_steps_per_call_does_not_change_the_result
         tests/test_train.py::test_fit_learns_and_compiles_once_for_every_labeled_size
         tests/test_search.py::test_host_dispatch_and_scan_with_switch_run_the_same_steps
         "tests/test_search.py::test_two_rounds_end_to_end_and_the_second_compiles_nothing"
         tests/test_loop.py::test_a_later_round_compiles_nothing_new
         tests/test_sharding.py::test_make_mesh_checks_the_device_count)
  small=(--config=experiments/configs/default.py --rounds=2)
  resnet=(--config=experiments/configs/default.py --config.model=resnet18 --pad_to=32
          --config.pool_size=10000 --config.train.epochs=4 --rounds=1)
  seeds=(--models=small_cnn,resnet18)
  seed_runs=(--mode=runs --config=experiments/configs/demo.py --sizes=16)
  # The strategies that do real work (each runs in its own process: about 11 s apiece on
  # the H200, most of it process and CUDA start-up; all 15 took about 170 s there).
  strategies=(--n=200000 --skip_reference
              --only=margin,bald,kcenter_greedy,kmeans,badge,typiclust,cluster_margin,tailor,albl)
  throughput=()
  # Seconds per step, 585 in all (run with timeout_s=595). Measured on the H200
  # (2026-11-28): the tests about 110 s (90 cut the last one), round_small_cnn 62,
  # round_resnet18 85, seeds 36, strategies about 100 for these nine, throughput 36;
  # seed_runs never yet (its limit taken from the others' slack).
  limits=(120 70 95 45 110 55 90)
fi

steps_done=()
step() {  # step NAME SECONDS COMMAND...: output to $out/NAME.txt, status recorded
  local name=$1 seconds=$2
  shift 2
  local start=$SECONDS
  timeout "$seconds" "$@" >"$out/$name.txt" 2>&1
  local rc=$?
  steps_done+=("| $name | $rc | $((SECONDS - start)) |")
  echo "$name: exit $rc in $((SECONDS - start)) s"
}

step tests "${limits[0]}" "$PY" -m pytest -q -p no:cacheprovider "${tests[@]}"
step round_small_cnn "${limits[1]}" "$PY" -m benchmarks.round "${small[@]}" $data_dir $cache
step round_resnet18 "${limits[2]}" "$PY" -m benchmarks.round "${resnet[@]}" $data_dir $cache
step seeds "${limits[3]}" "$PY" -m benchmarks.seeds "${seeds[@]}"
step strategies "${limits[4]}" "$PY" -m benchmarks.strategies "${strategies[@]}"
step throughput "${limits[5]}" "$PY" -m benchmarks.throughput "${throughput[@]}"
step seed_runs "${limits[6]}" "$PY" -m benchmarks.seeds "${seed_runs[@]}" $data_dir

{
  echo "# Accelerator check$([ "$smoke" = 1 ] && echo " (CPU smoke size)")"
  echo
  "$PY" -c "import jax, flax, optax; print(f'devices: {jax.devices()}; jax {jax.__version__}, flax {flax.__version__}, optax {optax.__version__}')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  echo
  echo "| step | exit | seconds |"
  echo "|---|---|---|"
  printf '%s\n' "${steps_done[@]}"
  for name in tests round_small_cnn round_resnet18 seeds strategies throughput seed_runs; do
    echo
    echo "## $name"
    echo
    if grep -qE '^\|' "$out/$name.txt"; then  # the markdown tables (and the test tally)
      grep -E '^\||passed|failed|error' "$out/$name.txt" | tail -n 40
    else  # a plain-text table (benchmarks/strategies.py)
      tail -n 25 "$out/$name.txt"
    fi
  done
} >"$out/summary.md"
echo "wrote $out/summary.md"
failed=$(printf '%s\n' "${steps_done[@]}" | awk -F'|' '$3 + 0 != 0' | wc -l)
exit $((failed > 0))
