"""Atomic writes: the destination is either the old or the new content, and no temp file stays."""

import json
import os
import stat

import pytest

from src.runs import files
from src.runs.files import (
    append_jsonl,
    atomic_torch_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    is_temp_file,
    read_json,
    read_jsonl,
)


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if is_temp_file(p))


def test_atomic_write_replaces_content_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "status.json"
    atomic_write_json(target, {"step": 1})
    atomic_write_json(target, {"step": 2, "epsilon": None})
    assert json.loads(target.read_text()) == {"step": 2, "epsilon": None}
    atomic_write_text(tmp_path / "config.yaml", "seed: 1\nname: ε\n")
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8") == "seed: 1\nname: ε\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml", "status.json"]


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_keeps_old_file_and_removes_temp(tmp_path, monkeypatch, failing):
    target = tmp_path / "meta.json"
    atomic_write_bytes(target, b"old")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(target, b"new content")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_unserializable_json_fails_before_touching_the_file(tmp_path):
    target = tmp_path / "status.json"
    atomic_write_json(target, {"step": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"step": object()})
    assert read_json(target) == {"step": 1}
    assert leftovers(tmp_path) == []


def test_atomic_torch_save_round_trips_and_failure_keeps_old_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    target = tmp_path / "model_200.pt"
    atomic_torch_save({"step": 200, "w": torch.ones(3)}, target)
    with pytest.raises(Exception):
        atomic_torch_save({"step": 400, "fn": lambda: 0}, target)  # lambdas cannot be pickled
    loaded = torch.load(target, weights_only=True)
    assert loaded["step"] == 200 and torch.equal(loaded["w"], torch.ones(3))
    assert leftovers(tmp_path) == []


def test_atomic_files_get_the_same_mode_as_plain_open(tmp_path):
    (tmp_path / "plain").write_bytes(b"x")
    atomic_write_bytes(tmp_path / "atomic", b"x")
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(tmp_path / "atomic") == mode(tmp_path / "plain")


@pytest.mark.parametrize("content", [None, b"", b"{\"step\": 1", b"[1, 2]", b"\xff\xfe\x00", b"null"])
def test_read_json_returns_none_for_missing_corrupt_or_non_object(tmp_path, content):
    path = tmp_path / "status.json"
    if content is not None:
        path.write_bytes(content)
    assert read_json(path) is None


def test_read_json_of_a_directory_is_none(tmp_path):
    assert read_json(tmp_path) is None


def test_metrics_survive_a_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    append_jsonl(path, {"step": 1})
    append_jsonl(path, {"step": 2})
    with open(path, "ab") as f:  # what a power cut in the middle of an append leaves
        f.write(b'{"step": 3, "lo')
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}]
    append_jsonl(path, {"step": 4})  # starts on a fresh line: only the torn record is lost
    assert read_jsonl(path) == [{"step": 1}, {"step": 2}, {"step": 4}]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_temp_file_names_are_hidden_and_recognisable(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(os.path.basename(src))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    atomic_write_text(tmp_path / "status.json", "{}")
    assert len(seen) == 1 and seen[0].startswith(".status.json.") and is_temp_file(seen[0])
    assert files.is_temp_file("status.json") is False
