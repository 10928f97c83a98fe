"""kill -9 at random moments while run files are being written: every file present must still load."""

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from src.runs.files import is_temp_file, read_json, read_jsonl
from src.runs.monitor import list_report
from tests.runs.helpers import CRASH_WRITER, spawn

torch = pytest.importorskip("torch")

KILLS = 30


def line_reader(proc: subprocess.Popen) -> queue.Queue:
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def next_line(lines: queue.Queue) -> str:
    line = lines.get(timeout=60)
    assert line is not None, "the crash writer exited"
    return line


def check_every_file_loads(run_dir) -> int:
    """Assert each run file loads; return the number of temp files a kill left behind."""
    temps = 0
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        if is_temp_file(path):
            temps += 1
        elif path.suffix == ".json":
            assert isinstance(json.loads(path.read_text()), dict), path
        elif path.suffix == ".pt":
            ckpt = torch.load(path, weights_only=True)
            assert ckpt["weights"].shape == (64 * 1024,) and ckpt["weights"][0].item() == ckpt["step"], path
        elif path.suffix == ".jsonl":
            steps = [r["step"] for r in read_jsonl(path)]
            assert steps == sorted(steps), path
        else:
            assert path.name == "config.yaml" and path.read_text() == "seed: 1\n", path
    return temps


def test_sigkill_at_random_moments_never_leaves_an_unreadable_file(tmp_path):
    run_dir = tmp_path / "crashy"
    rng = random.Random(1234)
    with spawn([sys.executable, str(CRASH_WRITER), str(run_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
               text=True) as writer:
        lines = line_reader(writer)
        for _ in range(KILLS):
            writer.stdin.write("go\n")
            writer.stdin.flush()
            worker = int(next_line(lines))
            time.sleep(rng.uniform(0.0, 0.15))
            os.kill(worker, signal.SIGKILL)
            assert next_line(lines) == "reaped"
            temps = check_every_file_loads(run_dir)
        writer.stdin.close()
    # Kills between mkstemp and rename leave a temp file: proof that some kills landed mid-write.
    assert temps >= 1, "no kill landed inside a write; the test did not test anything"
    assert read_json(run_dir / "status.json")["step"] >= 3  # the writers got somewhere between kills
    assert len(list((run_dir / "checkpoints").glob("model_*.pt"))) >= 1
    assert list_report(tmp_path, show_all=True).lines[0].split()[:2] == ["crashy", "dead"]
