"""``python -m src.agents.pretrained.bundle CHECKPOINT``: make CHECKPOINT the bundled agent.

Writes ``src/agents/pretrained/alphazero_connect4.pt``: CHECKPOINT without its optimizer state
(``strip_checkpoint``), and prints its size. Then measure it and update the README's figures
with the commands listed in ``src/agents/pretrained/README.md``.
"""
from __future__ import annotations

import io
import sys

import torch


def main(argv: list[str] | None = None) -> int:
    import argparse

    from src.agents import CheckpointError, read_checkpoint
    from src.agents.pretrained import BUNDLED_PATH, strip_checkpoint
    from src.runs.files import atomic_write_bytes

    ap = argparse.ArgumentParser(prog="python -m src.agents.pretrained.bundle", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", metavar="CHECKPOINT", help="a model file written by the trainer")
    args = ap.parse_args(argv)
    try:
        ckpt = read_checkpoint(args.checkpoint)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    buf = io.BytesIO()
    torch.save(strip_checkpoint(ckpt), buf)
    atomic_write_bytes(BUNDLED_PATH, buf.getvalue())
    print(f"{BUNDLED_PATH}: {len(buf.getvalue()) / 1024:.0f} KiB, step {ckpt.get('step', '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
