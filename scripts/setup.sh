#!/usr/bin/env bash
# Creates .venv (once) and installs the project with its test and optional extras into it:
# dev (pytest, pytest-xdist), test (open-spiel, the oracle of tests/games), plot (matplotlib), solver
# (bitbully, the perfect Connect4 solver), gym (gymnasium), pettingzoo (pettingzoo, pygame),
# tensorboard, browser (selenium, for the browser test of `play --web`; the browser itself
# is Debian's chromium, see .ci/run) and cuda (numba-cuda with the NVVM/NVRTC wheels: the CUDA
# search kernels, tested on the CPU through numba's simulator and compiled to PTX without a GPU;
# they require no torch, so they do not change which torch build is installed).
# Idempotent: a second run only checks that everything is installed.
#
# torch is pinned to 2.13.0, and which build arrives depends on pip's configuration: where pip
# is pointed at a local CPU-only wheel (this project's CPU machines set PIP_FIND_LINKS to a
# wheel directory holding torch 2.13.0+cpu), that one; elsewhere PyPI's default Linux x86-64
# wheel, which is the CUDA build (several GB). To get the CPU build there, install torch 2.13.0
# from PyTorch's CPU-only package index into .venv before running this script.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e ".[dev,test,plot,solver,gym,pettingzoo,tensorboard,browser,cuda]"
