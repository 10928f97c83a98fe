"""Fixtures of the opponent tests: the (backend, device) pairs every behaviour runs on."""
import pytest

NUMBA = pytest.param(("numba", "cpu"), id="numba")
TORCH = pytest.param(("torch", "cpu"), id="torch-cpu")
CUDA = pytest.param(("torch", "cuda"), id="torch-cuda", marks=pytest.mark.cuda)


@pytest.fixture(params=[NUMBA, TORCH, CUDA])
def backend_device(request):
    return request.param
