"""The agent that comes with the repository: the name ``bundled`` wherever a checkpoint is accepted.

``alphazero_connect4.pt`` is the final agent of ``configs/alphazero_connect4.yaml``, stripped to
what acting needs (``strip_checkpoint``: no optimizer state). How it was made and how strong it
is: the README beside this file, and the README's "The bundled agent" section.
"""
from __future__ import annotations

from pathlib import Path

BUNDLED = "bundled"
BUNDLED_PATH = Path(__file__).resolve().parent / "alphazero_connect4.pt"


def resolve_name(spec) -> Path | None:
    """The file behind an agent name (``bundled``), or None for anything else."""
    return BUNDLED_PATH if isinstance(spec, str) and spec == BUNDLED else None


def strip_checkpoint(ckpt: dict) -> dict:
    """The checkpoint with only what ``load_agent`` needs to act: the optimizer's state (Adam's
    moments, twice the network's size) dropped; everything else kept as it was."""
    state = {k: v for k, v in ckpt["state"].items() if k != "optimizer"}
    return {**ckpt, "state": state}
