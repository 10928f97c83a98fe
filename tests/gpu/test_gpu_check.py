"""benchmarks/gpu_check.sh on a machine without a GPU: it says so and exits 2 before any step."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_check_without_a_gpu_exits_2_and_runs_no_step(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)}
    out = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert "NO GPU" in out.stdout and "--cpu" in out.stdout
    assert list(tmp_path.iterdir()) == []  # no step ran, so no log was written
