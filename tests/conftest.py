"""Shared test hooks. ``cuda``-marked tests (markers are declared in pyproject.toml) skip without a GPU."""
import pytest

import src  # noqa: F401  (first: sets OMP_WAIT_POLICY before torch starts its thread pool)
import torch  # noqa: E402


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
