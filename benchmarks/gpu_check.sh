#!/usr/bin/env bash
# One device call on a lent H100/H200: sync-debug tests first, the other CUDA tests, then short
# env, DQN and AlphaZero throughput runs and a kernel count, and one table of figures at the end.
#
#   bash benchmarks/gpu_check.sh          # on the GPU machine, from anywhere (runs from the repo root)
#   bash benchmarks/gpu_check.sh --cpu    # dry run of every step with torch on the CPU in place of CUDA
#
# Needs python with torch, numba, numpy, pyyaml and pytest; the repository is used in place with
# PYTHONPATH=. (no install). The step timeouts add up to 300 s (5 minutes in all); the
# --cpu dry run uses small sizes and takes about a minute on 2 idle cores. Every step's log goes
# to $OUT when it is set (the device tool's folder that comes back), else to a kept temporary
# folder whose path is printed. Exit status: 0 when every step passed, 1 when one failed or timed
# out, 2 at once when there is no GPU (without --cpu).
set -u
cd "$(dirname "$0")/.." || exit 1
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
command -v "$PY" >/dev/null 2>&1 || PY=python3
DEVICE=cuda
[ "${1:-}" = "--cpu" ] && DEVICE=cpu

if [ "$DEVICE" = cuda ] && ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "NO GPU: torch.cuda.is_available() is False on this machine; nothing to check (a dry run: --cpu)."
    exit 2
fi
LOGS=${OUT:-$(mktemp -d)}
mkdir -p "$LOGS"
echo "logs: $LOGS"
declare -a NAMES RCS
t_start=$(date +%s)

# step NAME TIMEOUT CMD...: run CMD with a timeout, its output to the terminal and $LOGS/NAME.log
step() {
    local name=$1 limit=$2
    shift 2
    echo
    echo "== $name (at most ${limit} s): $*"
    timeout "$limit" "$@" 2>&1 | tee "$LOGS/$name.log"
    local rc=${PIPESTATUS[0]}
    NAMES+=("$name")
    RCS+=("$rc")
}

echo "== device: $DEVICE"
{ nvidia-smi -L 2>&1 || echo "(nvidia-smi not available)"
  "$PY" -c "import numba, torch; print(f'torch {torch.__version__} (CUDA {torch.version.cuda}), numba {numba.__version__}');
print('GPU 0:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none (dry run on the CPU)')"
} 2>&1 | tee "$LOGS/device.log"

if [ "$DEVICE" = cuda ]; then
    # the tests that run under torch.cuda.set_sync_debug_mode("error") first, then every other cuda test
    sync_tests="tests/gpu/test_cuda_training.py tests/agents/test_mcts.py tests/opponents/test_cuda.py"
    step tests_sync_debug 45 "$PY" -m pytest -q -p no:cacheprovider -m cuda -k "sync or training" $sync_tests
    step tests_cuda 60 "$PY" -m pytest -q -p no:cacheprovider -m cuda tests
    env_sizes=65536,1048576,4194304; dqn_envs=65536; az_sizes="4096 16384"; secs=12; warm=8; ls_az=""; ls_dqn=""
    # the GPU DQN config compiles its batch step (torch.compile): its first steps compile inside
    # the warm-up; the launch count then plays the same sizes, so inductor's cache has its kernels
    dqn_warm=30; dqn_count="--num_envs $dqn_envs --learning-starts $dqn_envs"; dqn_count_limit=30
    dqn_config=configs/dqn_connect4_gpu.yaml; az_config=configs/alphazero_connect4_gpu.yaml; count_envs=4096
    search_backend=cuda  # the numba-cuda tree kernels (kernels/mcts_cuda.py)
else
    # the CPU configs at small sizes: the step mechanics, not speed figures
    env_sizes=4096; dqn_envs=512; az_sizes="64"; secs=5; warm=1; ls_az="--learning_starts 1"; ls_dqn="--learning_starts 1024"
    # the compiled step's mechanics, compiled from cold (its sizes are no other step's)
    dqn_warm=1; dqn_count="--num_envs 32 --learning-starts 256 --compile true"; dqn_count_limit=75
    dqn_config=configs/dqn_connect4.yaml; az_config=configs/alphazero_connect4.yaml; count_envs=32
    search_backend=torch  # the cuda kernels need a GPU (or numba's simulator, far too slow here)
fi

step env_sps 15 "$PY" benchmarks/env_sps.py --backends torch --device "$DEVICE" --sizes "$env_sizes" \
    --seconds 1 --no-gym --api-only --obs-dtypes uint8
# shellcheck disable=SC2086
step train_dqn 55 "$PY" benchmarks/train_sps.py --config "$dqn_config" --device "$DEVICE" \
    --num_envs "$dqn_envs" --seconds "$secs" --warmup "$dqn_warm" --no-reference --ceiling-seconds 0 $ls_dqn
for n in $az_sizes; do
    # shellcheck disable=SC2086
    step "train_alphazero_$n" 35 "$PY" benchmarks/train_sps.py --config "$az_config" --device "$DEVICE" \
        --num_envs "$n" --seconds "$secs" --warmup "$warm" --no-reference --ceiling-seconds 0 $ls_az
done
# kernel launches per batch step (from a profiler trace; on CUDA also the kernels the device ran)
# shellcheck disable=SC2086
step launches_dqn "$dqn_count_limit" "$PY" benchmarks/launch_count.py --config "$dqn_config" --device "$DEVICE" \
    --game-backend torch $dqn_count --steps 2 --warmup-steps 1
step launches_alphazero 25 "$PY" benchmarks/launch_count.py --config "$az_config" --device "$DEVICE" \
    --game-backend torch --search-backend "$search_backend" --num_envs "$count_envs" --learning-starts 64 --steps 1 --warmup-steps 0

verdict() { if [ "$1" -eq 0 ]; then echo "ok"; elif [ "$1" -eq 124 ]; then echo "TIMED OUT"; else echo "FAILED (exit $1)"; fi; }
echo
echo "== summary ($DEVICE, $(( $(date +%s) - t_start )) s; logs in $LOGS)"
echo "| step | result | figure |"
echo "|---|---|---|"
failed=0
for i in "${!NAMES[@]}"; do
    name=${NAMES[$i]}; rc=${RCS[$i]}
    [ "$rc" -ne 0 ] && failed=1
    case $name in
        tests_*) fig=$(grep -E '[0-9]+ (passed|failed|skipped|deselected)' "$LOGS/$name.log" | tail -1) ;;
        env_sps) fig=$(grep -o 'N= *[0-9]* *api\[[a-z0-9]*\] [0-9.e+]*' "$LOGS/$name.log" | tr -s ' ' | paste -sd ';') ;;
        train_*) fig=$(grep '^trainer' "$LOGS/$name.log" | sed 's/^trainer *//') ;;
        launches_*) fig=$(grep '^launches' "$LOGS/$name.log" | sed 's/^launches *//') ;;
        *) fig="" ;;
    esac
    echo "| $name | $(verdict "$rc") | ${fig:-} |"
done | tee "$LOGS/summary.md"
grep -q "FAILED\|TIMED OUT" "$LOGS/summary.md" && failed=1
exit "$failed"
