"""TensorBoard mirror of ``metrics.jsonl`` (``train.tensorboard: true``).

Every record appended to ``metrics.jsonl`` is written again as TensorBoard scalars at the
record's ``step``, under ``RUN_DIR/tensorboard/``. The tags come from the record itself, so a
field added later shows up without a change here: each numeric leaf (nested mappings and
lists flattened with ``/``, list items by index) becomes ``<group>/<path>``, where the group is ``train`` for
``kind: status`` records and the record's kind otherwise (``eval``). A leading path part
equal to the group is not repeated:

    {"kind": "status", "step": 512, "loss": 0.1, "epsilon": 0.9}  ->  train/loss, train/epsilon
    {"kind": "eval", "step": 512, "eval": {"random": {"score": 0.8}}}  ->  eval/random/score
    {"kind": "eval", ..., "accuracy": {"perfect": {"value": 0.6, "ci95": [0.5, 0.7]}}}
        ->  eval/accuracy/perfect/value, eval/accuracy/perfect/ci95/0, eval/accuracy/perfect/ci95/1

``step``, ``kind`` and ``time`` are not scalars; null, boolean and text values are skipped.
"""
from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import Any, Iterator

SKIPPED_KEYS = frozenset({"step", "kind", "time"})
GROUPS = {"status": "train"}
INSTALL_HINT = "pip install -e '.[tensorboard]'"


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package (which torch's SummaryWriter needs) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def _leaves(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], float]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, path + (str(k),))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _leaves(v, path + (str(i),))
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        yield path, float(value)


def record_scalars(record: dict) -> dict[str, float]:
    """The TensorBoard scalars of one metrics record: ``{tag: value}`` (see the module doc)."""
    group = GROUPS.get(record.get("kind"), record.get("kind") or "metrics")
    out = {}
    for key, value in record.items():
        if key in SKIPPED_KEYS:
            continue
        for path, v in _leaves(value, (str(key),)):
            parts = path[1:] if path[0] == group and len(path) > 1 else path
            out["/".join((group, *parts))] = v
    return out


class TensorBoardWriter:
    """Writes metrics records as scalars into event files under ``logdir`` (flushed per record,
    so a live TensorBoard follows the run).

    ``purge_step``: for a resumed run, the first step it writes again; TensorBoard then drops the
    earlier events from that step on (as the resume drops those metrics.jsonl records)."""

    def __init__(self, logdir: str | os.PathLike, purge_step: int | None = None):
        if not tensorboard_available():
            raise ImportError(f"train.tensorboard needs the tensorboard package: {INSTALL_HINT}")
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = Path(logdir)
        self._writer = SummaryWriter(log_dir=str(self.logdir), purge_step=purge_step)

    def add_record(self, record: dict) -> None:
        step = record.get("step")
        if not isinstance(step, int):
            return
        for tag, value in record_scalars(record).items():
            self._writer.add_scalar(tag, value, global_step=step)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()
