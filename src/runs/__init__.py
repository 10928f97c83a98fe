"""Run directory library: crash-safe files (`files`), the run directory (`rundir`), and the `runs` CLI logic (`monitor`)."""

from src.runs.files import (
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
)
from src.runs.rundir import RunDir, RunDirError, default_run_dir, make_meta, utc_now_iso

__all__ = [
    "RunDir",
    "RunDirError",
    "atomic_torch_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "default_run_dir",
    "make_meta",
    "read_json",
    "utc_now_iso",
]
