"""Data-parallel training with torchrun (``src.training.distributed``): two gloo processes on the
CPU train one run. Each test launches real ``torchrun --nproc_per_node=2`` subprocesses with a
tiny config and checks the run directory and what the ranks report in status.json."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from src.runs.monitor import DEAD, inspect_run, list_report, stop_run
from src.seeding import rank_seed
from tests.training.helpers import REPO, child_env, tiny_config, wait_until, write_config

NUM_ENVS = 16
WORLD = 2
POOL = tiny_config(train={
    "total_steps": 1024, "num_envs": NUM_ENVS,
    "opponent_sampler": {"type": "pool", "params": {
        "self_play": {"start_episode": 8, "current_self_fraction": 0.2, "past_self_fraction": 0.4,
                      "max_frozen_agents": 2, "save_every": 20},
        "heuristic_distribution": {"random": 0.7, "heuristic": 0.3}}},
    "callbacks": [{"type": "checkpoint", "params": {"interval": 320}},
                  {"type": "epsilon_decay", "params": {"every": "step"}},
                  {"type": "lr_decay", "params": {"interval_steps": 256, "decay_factor": 0.5}}]},
    eval={"interval": 512, "games": 4, "opponents": ["random"]})
AZ_SELF_PLAY = tiny_config(
    train={"total_steps": 640, "num_envs": NUM_ENVS, "opponent_sampler": {"type": "self_play"},
           "callbacks": [{"type": "checkpoint", "params": {"interval": 320}}]},
    eval={"interval": 320, "games": 4, "opponents": ["random"]})
AZ_SELF_PLAY["agent"] = {"id": "alphazero", "params": {
    "device": "cpu", "channels": 8, "blocks": 1, "simulations": 4, "act_simulations": 4, "batch_size": 16,
    "replay_buffer_size": 600, "learning_starts": 64, "temperature_moves": 4}}
LONG = tiny_config(train={"total_steps": 10_000_000, "num_envs": NUM_ENVS,
                          "callbacks": [{"type": "checkpoint", "params": {"interval": 100_000}}]})


def torchrun(*args, module: str = "src.cli.train", env: dict | None = None) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={WORLD}",
           "-m", module, *map(str, args)]
    return subprocess.Popen(cmd, cwd=REPO, env={**child_env(), **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(proc: subprocess.Popen, timeout: float = 90) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"torchrun did not finish in {timeout} s:\n{out[-3000:]}")
    return out


def status(run_dir: Path) -> dict:
    return json.loads((run_dir / "status.json").read_text())


def running_at(run_dir: Path, min_step: int):
    def probe():
        try:
            s = status(run_dir)
        except (OSError, ValueError):
            return None
        return s if s["status"] == "running" and s["step"] >= min_step else None
    return probe


def worker_pids(proc: subprocess.Popen) -> dict[int, int]:
    """rank -> pid of torchrun's worker processes."""
    out = {}
    for p in psutil.Process(proc.pid).children(recursive=True):
        try:
            rank = p.environ().get("RANK")
        except psutil.Error:
            continue
        if rank is not None:
            out[int(rank)] = p.pid
    return out


def assert_same_on_both_ranks(s: dict) -> None:
    digests = s["rank_digests"]
    assert len(digests) == WORLD
    assert digests[0] == digests[1], digests


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("dist")
    run_dir = tmp / "runs" / "pool2"
    proc = torchrun("--config", write_config(tmp / "pool.yaml", POOL), "--run_dir", run_dir)
    out = finish(proc)
    assert proc.returncode == 0, out[-3000:]
    return run_dir, out


def test_two_gloo_ranks_train_one_run_counting_steps_of_both_with_identical_networks(pool_run):
    run_dir, out = pool_run
    s = status(run_dir)
    assert s["status"] == "completed" and s["world_size"] == WORLD and s["num_envs"] == NUM_ENVS
    # a batch step adds the games of both ranks: 1024 = 32 batch steps of 2 x 16 transitions
    assert s["step"] == s["total_steps"] == 1024
    assert s["updates"] == 1024 // (WORLD * NUM_ENVS) - 1  # one per batch step once 32 transitions are stored
    assert_same_on_both_ranks(s)
    assert s["rank_digests"][0]["snapshots"], "the pool took frozen snapshots"  # same on both ranks (above)
    # intervals count summed transitions: checkpoints at the first batch step past each 320
    assert sorted((run_dir / "checkpoints").iterdir()) == sorted(
        run_dir / "checkpoints" / f"model_{k}.pt" for k in (320, 640, 960, 1024))
    assert s["learning_rate"] == pytest.approx(1e-3 * 0.5 ** 4)
    evals = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals if e["kind"] == "eval"] == [512, 1024]
    # only rank 0 writes: one run directory, one progress line stream
    assert sorted(p.name for p in run_dir.parent.iterdir()) == ["pool2"]
    assert not (run_dir / "pid").exists() and not (run_dir / "error.log").exists()
    assert out.count("run directory:") == 1 and out.count("completed:") == 1


def test_runs_list_shows_a_distributed_run_as_one_line_with_its_world_size(pool_run):
    run_dir, _ = pool_run
    report = list_report(run_dir.parent, show_all=True)
    assert len(report.lines) == 1
    assert "completed" in report.lines[0] and "world=2" in report.lines[0]


def test_resume_of_a_distributed_run_is_refused_with_one_line(pool_run):
    run_dir, _ = pool_run
    proc = subprocess.run([sys.executable, "-m", "src.cli.train", "--resume", run_dir, "--total_steps", "2048"],
                          cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "trained by 2 processes" in proc.stderr


def test_alphazero_self_play_trains_on_two_ranks_with_identical_networks(tmp_path):
    """Each rank stores the positions of its own finished games (different counts): the ranks
    agree to start learning together, so they make the same updates."""
    run_dir = tmp_path / "az"
    proc = torchrun("--config", write_config(tmp_path / "az.yaml", AZ_SELF_PLAY), "--run_dir", run_dir)
    out = finish(proc)
    assert proc.returncode == 0, out[-3000:]
    s = status(run_dir)
    assert s["status"] == "completed" and s["step"] == 640 and s["world_size"] == WORLD
    assert s["updates"] > 0
    assert_same_on_both_ranks(s)


@pytest.mark.parametrize("how", ["runs_stop", "stop_file", "sigterm_torchrun", "ctrl_c"])
def test_stop_mid_run_ends_both_ranks_after_the_same_batch_step_with_a_final_checkpoint(tmp_path, how):
    run_dir = tmp_path / "run"
    proc = torchrun("--config", write_config(tmp_path / "long.yaml", LONG), "--run_dir", run_dir)
    try:
        wait_until(running_at(run_dir, 64), 60, "the run to be training")
        if how == "runs_stop":
            assert stop_run(run_dir).ok
        elif how == "stop_file":
            (run_dir / "stop").write_text("")
        elif how == "sigterm_torchrun":
            proc.send_signal(signal.SIGTERM)
        else:  # Ctrl-C in a terminal: SIGINT to the whole process group, so twice to each worker
            os.killpg(proc.pid, signal.SIGINT)
        out = finish(proc, 60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # torchrun itself exits 1 after forwarding a signal it received (its SignalException);
    # the workers it forwarded SIGTERM to stop gracefully, as after the other two requests
    assert proc.returncode == (1 if how in ("sigterm_torchrun", "ctrl_c") else 0), out[-3000:]
    s = status(run_dir)
    assert s["status"] == "stopped" and s["world_size"] == WORLD, out[-3000:]
    assert 0 < s["step"] < LONG["train"]["total_steps"] and s["step"] % (WORLD * NUM_ENVS) == 0
    assert (run_dir / "checkpoints" / f"model_{s['step']}.pt").is_file()
    assert (run_dir / "state" / f"state_{s['step']}.pt").is_file()
    assert_same_on_both_ranks(s)  # both ranks left the loop after the same batch step
    assert inspect_run(run_dir).status == "stopped"


def test_a_killed_rank_ends_the_whole_run_within_60s_as_dead_with_an_error_log(tmp_path):
    run_dir = tmp_path / "run"
    proc = torchrun("--config", write_config(tmp_path / "long.yaml", LONG), "--run_dir", run_dir)
    try:
        wait_until(running_at(run_dir, 64), 60, "the run to be training")
        pids = wait_until(lambda: (lambda w: w if len(w) == WORLD else None)(worker_pids(proc)), 10, "worker pids")
        killed_at = time.monotonic()
        psutil.Process(pids[1]).kill()
        out = finish(proc, 60)
        assert time.monotonic() - killed_at < 60
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert wait_until(lambda: not psutil.pid_exists(pids[0]) or psutil.Process(pids[0]).status() == psutil.STATUS_ZOMBIE,
                      10, "rank 0 to exit")
    info = inspect_run(run_dir)
    assert info.status == DEAD, (info, out[-3000:])
    log = (run_dir / "error.log").read_text()
    assert "=== rank 0 of 2" in log and "Traceback" in log
    assert f"rank 1 (pid {pids[1]}) ended without a traceback" in log
    assert "rank 1" in info.note  # `runs list` names the rank that died
    s = status(run_dir)  # rank 0 recorded it before exiting (torchrun's SIGTERM did not cut it short)
    assert s["status"] == "dead" and s["error"].startswith("run dead: rank 1 (pid")
    assert not (run_dir / "pid").exists()


def test_a_failing_rank_writes_its_traceback_to_error_log_and_the_run_is_dead(tmp_path):
    run_dir = tmp_path / "run"
    proc = torchrun("--config", write_config(tmp_path / "long.yaml", LONG), "--run_dir", run_dir,
                    module="tests.training.dist_fault",
                    env={"C4ENGINE_TEST_FAIL_RANK": "1", "C4ENGINE_TEST_FAIL_STEP": "320"})
    out = finish(proc, 60)
    assert proc.returncode != 0
    assert inspect_run(run_dir).status == DEAD, out[-3000:]
    log = (run_dir / "error.log").read_text()
    section = log.split("=== rank 1 of 2")[1]
    assert "Traceback" in section and "RuntimeError: injected failure on rank 1 at step 320" in section
    assert log.rstrip().endswith("run dead: rank 1 failed (traceback above)")  # rank 0's closing line
    s = status(run_dir)
    assert s["status"] == "dead" and s["error"] == "run dead: rank 1 failed (traceback above)"


def test_resume_under_torchrun_is_refused_with_one_line(tmp_path):
    proc = torchrun("--resume", tmp_path / "whatever")
    out = finish(proc, 60)
    assert proc.returncode != 0
    assert out.count("error: cannot resume") == 1 and "under torchrun (world size 2)" in out


def test_rank_seeds_keep_rank_0_and_differ_between_ranks():
    assert rank_seed(7, 0) == 7 and rank_seed(None, 3) is None
    seeds = {rank_seed(7, r) for r in range(64)} | {rank_seed(8, r) for r in range(1, 64)}
    assert len(seeds) == 127 and all(0 <= s < 2 ** 62 for s in seeds)


def test_one_process_is_world_size_1_with_no_process_group(monkeypatch):
    from src.training.distributed import Distributed
    from tests.training.helpers import make_trainer

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d = Distributed.from_env()
    assert (d.rank, d.world_size, d.active, d.is_main) == (0, 1, False, True)
    assert d.agree([True, False]) == [True, False] and d.sum_ints([3, 4]) == [3, 4] and d.gather("x") == ["x"]
    monkeypatch.setenv("WORLD_SIZE", "1")  # torchrun --nproc_per_node=1: the plain path too
    assert not Distributed.from_env().active
    trainer = make_trainer(tiny_config(train={"total_steps": 64}))
    trainer.train()
    assert trainer.last_status["world_size"] == 1 and "rank_digests" not in trainer.last_status
    assert trainer.step == 64 and trainer.steps_per_batch == NUM_ENVS
