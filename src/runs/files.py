"""Crash-safe file writes for the run directory.

Every file a run writes goes through `atomic_write_bytes`: the data lands in a
temp file in the same directory, is fsynced, and is renamed over the destination
(rename is atomic on POSIX), then the directory entry is fsynced. A kill -9 at any
moment therefore leaves either the old file or the new one, never a torn one; at
worst a `.<name>.<random>.tmp` file is left behind, which readers ignore.
See https://lwn.net/Articles/457667/ for why both fsyncs are needed.

torch is imported lazily so that `python -m src.cli.runs` stays fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import time.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# mkstemp creates files 0600; give them the mode a plain open() would.
_FILE_MODE = 0o666 & ~_current_umask()


class WriteError(OSError):
    """A write to the run directory failed (disk full, read-only filesystem, ...); ``str()`` is
    one line naming the file: ``cannot write PATH: No space left on device``."""

    def __init__(self, path: str | os.PathLike, error: OSError):
        super().__init__(error.errno, error.strerror or str(error), str(path))
        self.path = Path(path)

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.strerror}"


@contextlib.contextmanager
def writes_to(path: str | os.PathLike):
    """Turn an OSError of the block into a WriteError naming ``path`` (once: no nesting)."""
    try:
        yield
    except WriteError:
        raise
    except OSError as e:
        raise WriteError(path, e) from None


def is_temp_file(path: str | os.PathLike) -> bool:
    """True for the temp files `atomic_write_bytes` uses (left behind only by a kill)."""
    name = Path(path).name
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def fsync_dir(directory: str | os.PathLike) -> None:
    """Flush a directory entry (a rename or a new file) to disk; best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace `path` with `data` atomically; on any error `path` is untouched and no temp file
    stays. An OSError (disk full, read-only filesystem) is raised as a WriteError naming `path`."""
    path = Path(path)
    with writes_to(path):
        _atomic_write(path, data)
    fsync_dir(path.parent)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMP_PREFIX}{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), _FILE_MODE)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """`atomic_write_bytes` of `text` encoded as UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write `obj` as indented JSON atomically; serialization errors happen before anything is written."""
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """`torch.save(obj, path)`, but atomic: serialized in memory first, then `atomic_write_bytes`."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def read_json(path: str | os.PathLike) -> dict | None:
    """The JSON object in `path`, or None if it is missing, unreadable, not JSON, or not an object."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # ValueError covers JSONDecodeError and UnicodeDecodeError
        return None
    return obj if isinstance(obj, dict) else None


def append_jsonl(path: str | os.PathLike, record: dict) -> None:
    """Append one JSON line to `path` and fsync it.

    An append cannot be atomic, so a kill can leave a torn last line; the next
    append starts on a fresh line so that only that one record is lost.
    """
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    with writes_to(path), open(path, "a+b") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() > 0:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                line = b"\n" + line
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The JSON-object lines of `path`, skipping torn or corrupt lines; [] if the file is missing."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return []
    records = []
    for line in raw.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            records.append(obj)
    return records
