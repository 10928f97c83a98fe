"""``torchrun ... -m tests.training.dist_fault --config ...``: the training CLI with one rank made
to fail: rank ``C4ENGINE_TEST_FAIL_RANK`` raises once ``step`` reaches ``C4ENGINE_TEST_FAIL_STEP``
(for tests/training/test_distributed.py; nothing in src/ knows about it)."""
from __future__ import annotations

import os
import sys

from src.training import trainer as trainer_module

FAIL_RANK = int(os.environ["C4ENGINE_TEST_FAIL_RANK"])
FAIL_STEP = int(os.environ["C4ENGINE_TEST_FAIL_STEP"])
_count_results = trainer_module.Trainer._count_results


def _failing_count_results(self, batch):
    _count_results(self, batch)
    if self.dist.rank == FAIL_RANK and self.step >= FAIL_STEP:
        raise RuntimeError(f"injected failure on rank {self.dist.rank} at step {self.step}")


trainer_module.Trainer._count_results = _failing_count_results

if __name__ == "__main__":
    from src.cli.train import main

    sys.exit(main())
