"""Wall-clock breakdown of the training loop by section (``train.track_timings``).

Sections nest: time spent in an inner section is not counted in the outer one. On CUDA the
timer synchronises at section boundaries so the numbers mean something; that costs speed,
which is why timings are off unless asked for.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import torch


class Timer:
    def __init__(self, device: torch.device):
        self.sync = device.type == "cuda"
        self.totals: dict[str, float] = {}
        self._stack: list[tuple[str, float]] = []

    def _now(self) -> float:
        if self.sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    @contextmanager
    def section(self, name: str):
        now = self._now()
        if self._stack:  # pause the enclosing section
            outer, since = self._stack[-1]
            self.totals[outer] = self.totals.get(outer, 0.0) + now - since
        self._stack.append((name, now))
        try:
            yield
        finally:
            end = self._now()
            _, since = self._stack.pop()
            self.totals[name] = self.totals.get(name, 0.0) + end - since
            if self._stack:
                outer, _ = self._stack[-1]
                self._stack[-1] = (outer, end)

    def report(self, wall: float) -> dict:
        total = sum(self.totals.values())
        rows = {k: {"seconds": round(v, 4), "fraction": round(v / wall, 4) if wall > 0 else None}
                for k, v in sorted(self.totals.items(), key=lambda kv: -kv[1])}
        return {"wall_seconds": round(wall, 4), "sections": rows, "other_seconds": round(max(0.0, wall - total), 4)}

    @staticmethod
    def format(report: dict) -> str:
        lines = [f"Timing breakdown ({report['wall_seconds']:.2f} s wall):"]
        for name, row in report["sections"].items():
            frac = f"{100 * row['fraction']:5.1f}%" if row["fraction"] is not None else "     "
            lines.append(f"  {name:<10} {row['seconds']:9.3f} s  {frac}")
        lines.append(f"  {'other':<10} {report['other_seconds']:9.3f} s")
        return "\n".join(lines)


class NullTimer:
    @contextmanager
    def section(self, name: str):
        yield
