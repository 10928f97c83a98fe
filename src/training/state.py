"""The training-state file of a checkpoint (``state/state_<step>.pt``) and how a resume finds one.

A state file holds everything ``Trainer.load_state_dict`` needs to continue a run exactly (see
``Trainer.state_dict``), under a format name and a version number. A reader refuses a version
above ``STATE_VERSION``: a newer format may hold state this code would silently drop.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

STATE_FORMAT = "c4engine.train_state"
STATE_VERSION = 2
# version 2: an AlphaZero self-play batch step is one ply per game and `step` counts plies
# (version 1 states of self-play runs cannot be resumed: see src.training.run.prepare_resume)
SELF_PLAY_PLY_VERSION = 2


class StateError(ValueError):
    """A state file that cannot be used; ``newer`` when it was written by a newer format."""

    def __init__(self, message: str, newer: bool = False):
        super().__init__(message)
        self.newer = newer


def read_state(path: str | Path) -> dict:
    """The training state at ``path`` (tensors on the CPU); StateError when unusable."""
    import torch

    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except (PermissionError, IsADirectoryError) as e:
        raise StateError(f"cannot read {path}: {e.strerror}") from None
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError,
            AttributeError, ImportError, IndexError, KeyError, TypeError):
        raise StateError(f"{path} is not a state file (truncated or not a torch file)") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise StateError(f"{path} is not a training state of this project")
    version = state.get("version")
    if not isinstance(version, int) or version < 1:
        raise StateError(f"{path} has no valid format version")
    if version > STATE_VERSION:
        raise StateError(f"{path} was written by a newer checkpoint format (version {version}; "
                         f"this code reads up to {STATE_VERSION})", newer=True)
    return state


def newest_state(run_dir) -> tuple[int, dict] | None:
    """``(step, state)`` of the newest complete state file of ``run_dir`` (a ``RunDir``), or None
    (see ``find_newest_state``, which also reports the unreadable files passed over)."""
    return find_newest_state(run_dir)[0]


def find_newest_state(run_dir) -> tuple[tuple[int, dict] | None, list[tuple[Path, str]]]:
    """``((step, state) or None, unreadable)``: the newest complete state file of ``run_dir``
    (a ``RunDir``), and the ``(path, why)`` of each newer file that could not be used.

    A file that cannot be read (damaged outside our atomic writes) is passed over for the one
    before it; a file of a newer format raises StateError(newer=True): resuming from an older
    one would silently go back in the run.
    """
    unreadable: list[tuple[Path, str]] = []
    for step in reversed(run_dir.state_steps()):
        path = run_dir.state_path(step)
        try:
            state = read_state(path)
        except StateError as e:
            if e.newer:
                raise
            unreadable.append((path, str(e)))
            continue
        if state.get("step") == step:
            return (step, state), unreadable
        unreadable.append((path, f"{path} holds the state of step {state.get('step')!r}, not {step}"))
    return None, unreadable
