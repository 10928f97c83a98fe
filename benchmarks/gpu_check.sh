#!/usr/bin/env bash
# One device call on a lent H100/H200: the CUDA tests, then the env, training and MCTS benchmarks on CUDA.
#
#   bash benchmarks/gpu_check.sh          # from anywhere; runs from the repository root
#
# Needs python with torch (CUDA build), numba, numpy and pytest; the repository is used
# in place with PYTHONPATH=. (no install). Typically 5-7 minutes; the step timeouts add up to
# 570 s, under the device tool's 600 s per call, so the summary always prints. Exit status: 0 when
# every step passed, 1 when a test or the benchmark failed, 2 when there is no GPU.
set -u
cd "$(dirname "$0")/.." || exit 1
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
command -v "$PY" >/dev/null 2>&1 || PY=python3
TEST_TIMEOUT=${TEST_TIMEOUT:-180}    # seconds
BENCH_TIMEOUT=${BENCH_TIMEOUT:-120}  # seconds
TRAIN_TIMEOUT=${TRAIN_TIMEOUT:-75}   # seconds, each of three
MCTS_TIMEOUT=${MCTS_TIMEOUT:-45}     # seconds
DIST_TIMEOUT=${DIST_TIMEOUT:-240}   # seconds, data-parallel scaling (only with more than one GPU)
bench_out=$(mktemp)
train_out=$(mktemp)
mcts_out=$(mktemp)
trap 'rm -f "$bench_out" "$train_out" "$mcts_out"' EXIT

echo "== device"
nvidia-smi -L 2>&1 || echo "(nvidia-smi not available)"
"$PY" - <<'EOF'
import numba, torch
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), numba {numba.__version__}")
print(f"torch.cuda.is_available(): {torch.cuda.is_available()}")
if torch.cuda.is_available():
    print(f"GPU 0: {torch.cuda.get_device_name(0)}")
EOF
if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo
    echo "NO GPU: torch.cuda.is_available() is False on this machine; nothing to check here."
    exit 2
fi

# Every cuda-marked test in the repository: the env tests run on torch-cuda (reference games,
# wins, draws, illegal moves, auto-reset, seeds, sampling, play with a mask), torch-cuda vs
# numba bit for bit, and the kernel rollout checks.
echo
echo "== tests: pytest -q -m cuda tests"
timeout "$TEST_TIMEOUT" "$PY" -m pytest -q -p no:cacheprovider -m cuda tests
tests_rc=$?
if [ "$tests_rc" -eq 2 ] || [ "$tests_rc" -eq 3 ] || [ "$tests_rc" -eq 4 ]; then
    # a collection error elsewhere in tests/ must not hide the env tests' verdict
    echo "== pytest could not run the whole tree (exit $tests_rc); the env and kernel tests alone:"
    timeout "$TEST_TIMEOUT" "$PY" -m pytest -q -p no:cacheprovider -m cuda tests/games tests/kernels
    rc=$?
    [ "$rc" -ne 0 ] && tests_rc=$rc || tests_rc=1  # still a failure: something did not collect
fi

echo
echo "== benchmark: env_sps.py on CUDA (target: public API >= 5e9 env-steps/s at >= 1M games)"
timeout "$BENCH_TIMEOUT" "$PY" benchmarks/env_sps.py --backends torch,torch_compiled --device cuda \
    --sizes 65536,1048576,4194304 --seconds 2 --no-gym 2>&1 | tee "$bench_out"
bench_rc=${PIPESTATUS[0]}

# Training throughput (targets: >= 5e7 agent-steps/s at >= 0.25 samples per agent step,
# >= 1.5e7 at 1 sample per agent step), three sizes of the GPU config, ~40 s each.
echo
echo "== benchmark: train_sps.py on CUDA"
train_rc=0
for sizes in "262144 65536" "65536 16384" "16384 16384"; do
    set -- $sizes
    timeout "$TRAIN_TIMEOUT" "$PY" benchmarks/train_sps.py --config configs/dqn_connect4_gpu.yaml \
        --num_envs "$1" --batch_size "$2" --seconds 15 --warmup 8 --reference-seconds 10 2>&1 | tee -a "$train_out"
    rc=${PIPESTATUS[0]}; [ "$rc" -ne 0 ] && train_rc=$rc
done

# Batched MCTS search (issue 11): simulations/s and moves/s of the torch backend on CUDA,
# search alone (trivial network) and with a small conv network.
echo
echo "== benchmark: mcts_sps.py on CUDA"
timeout "$MCTS_TIMEOUT" "$PY" benchmarks/mcts_sps.py --backends torch --device cuda --sizes 1024,8192 \
    --simulations 16,64 --nets trivial,small --seconds 1 2>&1 | tee "$mcts_out"
mcts_rc=${PIPESTATUS[0]}

# Data-parallel scaling (issue 13), only on a machine with more than one GPU: the GPU config
# on 1, 2, 4, 8 GPUs (as many as there are), and the NCCL all-reduce of the network.
ngpu=$("$PY" -c "import torch; print(torch.cuda.device_count())")
dist_rc=0
if [ "$ngpu" -gt 1 ]; then
    echo
    echo "== benchmark: data-parallel train_sps.py --nproc on up to $ngpu GPUs, NCCL all-reduce"
    counts=$(for k in 1 2 4 8; do [ "$k" -le "$ngpu" ] && printf '%s ' "$k"; done)
    # shellcheck disable=SC2086
    timeout "$DIST_TIMEOUT" "$PY" benchmarks/train_sps.py --config configs/dqn_connect4_gpu.yaml \
        --nproc $counts --seconds 15 --warmup 8 2>&1 | tee -a "$train_out"
    dist_rc=${PIPESTATUS[0]}
    "$PY" -m torch.distributed.run --standalone --nproc_per_node="$ngpu" benchmarks/allreduce_cost.py --cuda 2>&1 \
        | tee -a "$train_out"
fi

verdict() { if [ "$1" -eq 0 ]; then echo "ok"; elif [ "$1" -eq 124 ]; then echo "TIMED OUT"; else echo "FAILED (exit $1)"; fi; }
echo
echo "== summary"
echo "tests (-m cuda): $(verdict "$tests_rc")"
echo "env benchmark:   $(verdict "$bench_rc")"
echo "train benchmark: $(verdict "$train_rc")"
echo "mcts benchmark:  $(verdict "$mcts_rc")"
[ "$ngpu" -gt 1 ] && echo "data-parallel:   $(verdict "$dist_rc")"
grep '^|' "$bench_out" || echo "(no env benchmark table)"
grep -E '^(trainer|reference|speed-up|nproc|[0-9]+ ranks)' "$train_out" || echo "(no train benchmark lines)"
grep '^|' "$mcts_out" || echo "(no mcts benchmark table)"
[ "$tests_rc" -eq 0 ] && [ "$bench_rc" -eq 0 ] && [ "$train_rc" -eq 0 ] && [ "$mcts_rc" -eq 0 ] && [ "$dist_rc" -eq 0 ] && exit 0
exit 1
