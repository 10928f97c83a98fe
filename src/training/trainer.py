"""The batched training loop.

One batch step, top to bottom (see ``Trainer.train``): the agent acts in every game, each
game's opponent replies, finished games reset, the transitions go to the replay ring, the
callbacks run, and the learner makes ``updates_per_step`` gradient steps. With the
``self_play`` sampler (``src.training.selfplay``) the agent is the side to move in every game
and nobody replies: a batch step is one ply in every game. Counters that live on the device
(episodes, results, loss) are read by the host only when status is written.

Step semantics: ``step`` counts agent moves summed over all games (of all ranks): against an
opponent an agent transition (an agent move and the opponent's reply), in self-play one ply
(every mover is the agent). A batch step adds ``steps_per_batch`` = ``num_envs`` times the
world size; ``episode`` counts finished games.

Data-parallel (``torchrun``, see ``src.training.distributed``): every rank runs this loop on its
own ``num_envs`` games, replay ring and random streams (``rank_seed``); the learner's gradients
are averaged by DistributedDataParallel, so the networks stay identical. ``step`` counts the
transitions of all ranks (a batch step adds ``num_envs * world_size``). At the end of every
batch step the ranks agree, by one small all-reduce, whether to stop (a signal on any rank,
the stop file on rank 0) and whether status is due (rank 0's clock), so they leave the loop
after the same batch step. Rank 0 alone evaluates and writes the run directory.

Resume: ``state_dict()`` gathers every component's state at a batch-step boundary (the
checkpoint callback saves it in ``on_step_end``); ``load_state_dict()`` puts it back, and
``train()`` then continues with the next batch step, without resetting the running games.
"""
from __future__ import annotations

import copy
import math
import sys
import time
from pathlib import Path

import torch

from src.agents import AGENTS
from src.games import make_game
from src.seeding import rank_seed, stream_seed
from src.runs.files import atomic_write_json
from src.runs.rundir import RunDir, utc_now_iso
from src.training.callbacks import build_callbacks, crossed
from src.training.distributed import Distributed, weights_digest
from src.training.state import STATE_FORMAT, STATE_VERSION
from src.training.selfplay import SelfPlay
from src.training.timing import NullTimer, Timer
from src.training.versus import Versus

DEFAULT_NUM_ENVS = {"cpu": 256, "cuda": 16384}
STATUS_MIN_SECONDS = 1.0  # status.json at most about once a second...
STATUS_MAX_SECONDS = 10.0  # ...and at least every 10 s


def build_sampler(cfg: dict, game, learner, rank: int = 0):
    sampler_cfg = cfg["train"]["opponent_sampler"]
    if sampler_cfg["type"] == "self_play":  # the agent's own search replies (agents registered with self_play)
        return learner.make_self_play_sampler()
    if sampler_cfg["type"] == "random":
        from src.opponents.samplers import RandomSampler

        return RandomSampler(game.game, stream_seed(rank_seed(sampler_cfg["params"]["seed"], rank), "sampler.random"))
    from src.opponents.pool import PoolSampler

    return PoolSampler(sampler_cfg["params"], game, learner.agent,
                       stream_seed(rank_seed(cfg["seed"], rank), "sampler.pool"))


def build_games(cfg: dict, game, sampler, learner, seed: int | None):
    """Who plays the training games: ``SelfPlay`` (the agent on both sides, one ply per game per
    batch step) for the ``self_play`` sampler, else ``Versus`` (an agent move and the reply)."""
    if sampler.kind == "self_play":
        return SelfPlay(game, on_game_end=learner.on_game_end)
    return Versus(game, sampler, cfg["train"]["start_policy"], seed=seed, on_game_end=learner.on_game_end,
                  compile=compiled_batch_step(cfg, game))


def compiled_batch_step(cfg: dict, game) -> bool:
    """Whether the batch step's own tensor work (the move against the opponent, the results
    count) goes through torch.compile: with the agent's ``compile: true`` (DQN) and the games on
    the torch backend (the numba backend's kernels are compiled already)."""
    return bool(cfg["agent"]["params"].get("compile")) and game.game.backend == "torch"


def count_results(done, reward, episodes, wins, losses, draws) -> None:
    """Add the games that ended (``done`` bool [N], ``reward`` from the agent's side) to the
    counters (int64 0-d tensors, in place)."""
    episodes += done.sum()
    wins += (done & (reward > 0)).sum()
    losses += (done & (reward < 0)).sum()
    draws += (done & (reward == 0)).sum()


class Trainer:
    def __init__(self, cfg: dict, run_dir: RunDir | None = None, status_interval: int = 100,
                 progress: bool = True, out=None, dist: Distributed | None = None):
        self.cfg = cfg
        # one process, or this rank of a torchrun job (its process group already joined)
        self.dist = dist if dist is not None else Distributed()
        self.world_size = self.dist.world_size
        self.run_dir = run_dir
        self.status_interval = status_interval
        self.out = out if out is not None else sys.stdout
        self.progress = progress and self.dist.is_main
        seed = cfg["seed"]
        if seed is not None:
            torch.manual_seed(seed)
        params = cfg["agent"]["params"]
        self.device = self.dist.device(params["device"])
        if self.device.type == "cuda" and params.get("tf32", False):
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        train = cfg["train"]
        self.num_envs = train["num_envs"] or DEFAULT_NUM_ENVS.get(self.device.type, 256)
        # agent moves a batch step adds to ``step``: one per game of every rank
        self.steps_per_batch = self.num_envs * self.world_size
        self.total_steps = train["total_steps"]
        self.checkpoint_replay = train["checkpoint_replay"]
        self.deterministic = train["deterministic"]
        gp = cfg["game"]["params"]
        rseed = rank_seed(seed, self.dist.rank)  # this rank's games and streams (the seed itself on rank 0)
        self.game = make_game(cfg["game"]["id"], self.num_envs, device=self.device, seed=stream_seed(rseed, "game"), **gp)
        # the agent being trained, behind the Learner protocol (src.agents.protocol)
        self.learner = AGENTS[cfg["agent"]["id"]].learner_cls(
            params, self.game, self.device, stream_seed(rseed, "agent"), stream_seed(rseed, "replay"))
        self.agent = self.learner.agent
        self.sampler = build_sampler(cfg, self.game, self.learner, self.dist.rank)
        if self.dist.active:
            self.learner.distribute(self.dist)
            self.sampler.distribute(self.dist.sum_ints)
        self.versus = build_games(cfg, self.game, self.sampler, self.learner, stream_seed(rseed, "versus"))
        self._count = torch.compile(count_results, dynamic=False) if compiled_batch_step(cfg, self.game) else count_results
        self.callbacks = build_callbacks(train["callbacks"])
        self.evaluator = None
        if cfg.get("eval") and self.dist.is_main:  # evaluation: rank 0 only
            from src.training.evaluation import Evaluator

            self.evaluator = Evaluator(cfg, self.game.game, self.device, seed=stream_seed(seed, "eval"))
        self.timer = Timer(self.device) if train["track_timings"] else NullTimer()
        self.step = 0
        self.stop_reason: str | None = None  # asked for on this process (signal, stop file)
        self.rank_digests: list[dict] | None = None  # each rank's weights sha256, at the end (world size > 1)
        self._stopping = False  # agreed by every rank (the same as ``stop_reason`` for one process)
        self._zero_counters()
        self.episode = 0
        self.start_time = utc_now_iso()
        self.last_status: dict = {}
        self.resumed_from: int | None = None  # the step of the state loaded by load_state_dict
        self._metrics_step: int | None = None  # step of the last status record in metrics.jsonl
        self.resume_fields: dict = {}  # added to status.json by a resumed run (see src.training.run)

    # -- counters that stay on the device between status writes ----------------------------
    def _zero_counters(self) -> None:
        z = lambda: torch.zeros((), dtype=torch.int64, device=self.device)  # noqa: E731
        self.episode_dev, self.wins_dev, self.losses_dev, self.draws_dev = z(), z(), z(), z()

    def request_stop(self, reason: str) -> None:
        """Stop at the end of the current batch step (signal handlers call this)."""
        self.stop_reason = reason

    # -- the loop ---------------------------------------------------------------------------
    def train(self) -> str:
        """Train until ``total_steps`` or a stop request; returns 'completed' or 'stopped'.

        With ``train.tensorboard`` the run directory mirrors every metrics record to
        TensorBoard event files (``RUN_DIR/tensorboard/``) for the length of the run."""
        if self.run_dir is not None and self.cfg["train"].get("tensorboard"):
            self.run_dir.enable_tensorboard(self.resume_fields.get("resumed_from_step"))
        try:
            return self._train()
        finally:
            if self.run_dir is not None:
                self.run_dir.close()

    def _train(self) -> str:
        self.t0 = self._last_write = time.perf_counter()
        self._steps_at_last_write = self._steps_at_start = self.step
        resumed = self.resumed_from is not None
        if not resumed:  # a resumed run continues the games it was playing
            self.versus.reset()
        for cb in self.callbacks:
            cb.on_train_start(self)
        self.write_status("running")
        # one process stops as soon as asked; ranks stop when they have agreed to
        while self.step < self.total_steps and not (self._stopping if self.dist.active else self.stop_reason):
            with self.timer.section("agent"):
                action = self.learner.act(self.game.state, self.versus.legal_mask(), self.deterministic)
            with self.timer.section("env"):
                batch = self.versus.step(action, timer=self.timer)
            with self.timer.section("learner"):
                self.learner.observe(batch)
            self.step += self.steps_per_batch
            self._count_results(batch)
            with self.timer.section("callbacks"):
                for cb in self.callbacks:
                    cb.on_step(self, batch)
            with self.timer.section("learner"):
                self.learner.learn()
            if self.evaluator is not None:
                with self.timer.section("eval"):
                    self.evaluator.maybe_evaluate(self)
            if self.dist.active:
                self._end_step_distributed()
                continue
            self._maybe_write_status()
            with self.timer.section("callbacks"):
                for cb in self.callbacks:
                    cb.on_step_end(self)
            if self.run_dir is not None and self.stop_reason is None and self.run_dir.stop_requested():
                self.stop_reason = "stop file"
        status = "completed" if self.step >= self.total_steps else "stopped"
        if self.dist.active:  # proof that the ranks trained the same network and took the same snapshots
            mine = {"weights": weights_digest(*self.dist.wrapped), **self.sampler.consistency(weights_digest)}
            self.rank_digests = self.dist.gather(mine)
        if self.evaluator is not None and status == "completed":
            with self.timer.section("eval"):
                self.evaluator.finish(self)
        for cb in self.callbacks:
            cb.on_train_end(self, status)
        self.write_status(status)
        self._finish_progress(status)
        if isinstance(self.timer, Timer):
            self._report_timings()
        return status

    def _end_step_distributed(self) -> None:
        """The end of a batch step on every rank: agree on stop and status (one all-reduce),
        write status, run the step-end callbacks, and leave the loop together."""
        if self.run_dir is not None and self.stop_reason is None and self.run_dir.stop_requested():
            self.stop_reason = "stop file"
        stop, due = self.dist.agree([self.stop_reason is not None, self.dist.is_main and self._status_due()])
        if due:
            self.write_status("running")
        with self.timer.section("callbacks"):
            for cb in self.callbacks:
                cb.on_step_end(self)
        if stop:
            self._stopping = True
            if self.stop_reason is None:
                self.stop_reason = "stop on another rank"

    def _report_timings(self) -> None:
        self.timing_report = self.timer.report(time.perf_counter() - self.t0)
        if self.run_dir is not None:
            atomic_write_json(self.run_dir.path / "timings.json", self.timing_report)
        if self.progress:
            self.out.write(Timer.format(self.timing_report) + "\n")

    def _count_results(self, batch: dict) -> None:
        self._count(batch["done"], batch["reward"], self.episode_dev, self.wins_dev, self.losses_dev, self.draws_dev)

    # -- status, checkpoints, progress ------------------------------------------------------
    def _status_due(self) -> bool:
        since = time.perf_counter() - self._last_write
        due = crossed(self.step - self.steps_per_batch, self.step, self.status_interval)
        return bool((due and since >= STATUS_MIN_SECONDS) or since >= STATUS_MAX_SECONDS)

    def _maybe_write_status(self) -> None:
        if self._status_due():
            self.write_status("running")

    def status_fields(self, status: str) -> dict:
        """The spec's status.json fields plus extras; synchronises with the device (once)."""
        now = time.perf_counter()
        # summed over the ranks (a collective: every rank writes status at the same step)
        episodes, w, l, d = self.dist.sum_ints([int(self.episode_dev), int(self.wins_dev), int(self.losses_dev),
                                                int(self.draws_dev)])
        self.episode = episodes
        window = max(now - self._last_write, 1e-9)
        sps_now = (self.step - self._steps_at_last_write) / window
        elapsed = now - self.t0
        fields = {
            "status": status,
            "step": self.step,
            "total_steps": self.total_steps,
            "episode": episodes,
            "epsilon": None,
            "start_time": self.start_time,
            "last_heartbeat": utc_now_iso(),
            "num_envs": self.num_envs,
            "world_size": self.world_size,
            "device": str(self.device),
            "steps_per_sec": round((self.step - self._steps_at_start) / elapsed, 1) if elapsed > 0 else None,
            "recent_steps_per_sec": round(sps_now, 1),
            **self.learner.status_fields(),
            "results": {"wins": w, "losses": l, "draws": d},
            **self.resume_fields,
        }
        if self.rank_digests is not None:
            fields["rank_digests"] = self.rank_digests
        fields.update(self.sampler.status())
        if self.evaluator is not None and self.evaluator.latest is not None:
            fields["eval"] = self.evaluator.latest
        for cb in self.callbacks:
            cb.on_status(self, fields)
        return fields

    def write_status(self, status: str) -> None:
        with self.timer.section("io"):
            fields = self.status_fields(status)
            self.last_status = fields
            if self.run_dir is not None:
                self.run_dir.write_status(fields)
                if self.step != self._metrics_step:  # one status record per step
                    self.run_dir.append_metrics(self._metrics_record(fields))
                    self._metrics_step = self.step
        self._print_progress(fields)
        self.learner.reset_report()  # loss and mean Q are reported per status window
        self._last_write = time.perf_counter()
        self._steps_at_last_write = self.step

    def _metrics_record(self, f: dict) -> dict:
        rec = {k: f.get(k) for k in ("step", "episode", "epsilon", "learning_rate", "loss", "mean_q", "updates")}
        rec.update(time=f["last_heartbeat"], steps_per_sec=f["recent_steps_per_sec"], kind="status")
        n = sum(f["results"].values())
        if n:
            rec["train_win_rate"] = round(f["results"]["wins"] / n, 4)
        return rec

    def save_checkpoint(self, prefix: str, keep_last: int | None = None) -> Path | None:
        """The model file ``checkpoints/<prefix>_<step>.pt`` (for ``load_agent``), then the whole
        training state ``state/state_<step>.pt`` (for resume; the newest ``keep_last`` kept).
        Call at a batch-step boundary. Returns the model file's path."""
        if self.run_dir is None and not self.dist.active:
            return None  # nothing to write, and no rank waits on this one: no host sync
        episode = self.dist.sum_ints([int(self.episode_dev)])[0]  # every rank saves at the same steps
        if self.run_dir is None:
            return None
        with self.timer.section("io"):
            ckpt = self.agent.checkpoint({"step": self.step, "episode": episode,
                                          "game": self.cfg["game"], "seed": self.cfg["seed"]})
            path = self.run_dir.save_checkpoint(ckpt, prefix, self.step)
            self.run_dir.save_state(self.state_dict(), self.step, keep_last)
            return path

    # -- the whole training state -----------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue this run exactly from the current batch-step boundary.

        ``report`` (and the learner's own report window) holds what only feeds status.json:
        it is restored, but depends on when status was written, so two runs may differ there.
        With ``train.checkpoint_replay: false`` the learner leaves its replay ring's contents
        out (``exact`` is False): the ring refills on resume, which is then not exact.
        """
        cuda = self.device.type == "cuda"
        return {
            "format": STATE_FORMAT, "version": STATE_VERSION,
            "step": self.step, "total_steps": self.total_steps, "num_envs": self.num_envs,
            "device": self.device.type, "agent_id": self.agent.agent_id, "world_size": self.world_size,
            "counters": {"step": self.step, "episode": self.episode_dev.clone(), "wins": self.wins_dev.clone(),
                         "losses": self.losses_dev.clone(), "draws": self.draws_dev.clone()},
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state(self.device) if cuda else None},
            "exact": self.checkpoint_replay,
            "learner": self.learner.state_dict(include_replay=self.checkpoint_replay),
            "versus": self.versus.state_dict(),
            "sampler": self.sampler.state_dict(),
            "callbacks": [cb.state_dict() for cb in self.callbacks],
            "evaluator": self.evaluator.state_dict() if self.evaluator is not None else None,
            "report": {"start_time": self.start_time},
            "config": copy.deepcopy(self.cfg),  # what a resume compares config.yaml with
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from ``state`` (from ``state_dict``, tensors anywhere): the next ``train()``
        goes on with the batch step after ``state["step"]``. ``total_steps`` stays as built."""
        if state["agent_id"] != self.agent.agent_id or state["num_envs"] != self.num_envs \
                or state["device"] != self.device.type:
            raise ValueError(f"training state of a {state['agent_id']} agent with {state['num_envs']} games on "
                             f"{state['device']} does not fit this {self.agent.agent_id} trainer with "
                             f"{self.num_envs} games on {self.device.type}")
        if len(state["callbacks"]) != len(self.callbacks) or (state["evaluator"] is None) != (self.evaluator is None):
            raise ValueError("training state does not match the configured callbacks or eval section")
        c = state["counters"]
        self.step = c["step"]
        for name in ("episode", "wins", "losses", "draws"):
            getattr(self, f"{name}_dev").copy_(c[name])
        self.episode = int(self.episode_dev)
        torch.set_rng_state(state["rng"]["torch"].cpu())
        if state["rng"]["cuda"] is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), self.device)
        self.learner.load_state_dict(state["learner"])
        self.versus.load_state_dict(state["versus"])
        self.sampler.load_state_dict(state["sampler"])
        for cb, s in zip(self.callbacks, state["callbacks"]):
            cb.load_state_dict(s)
        if self.evaluator is not None:
            self.evaluator.load_state_dict(state["evaluator"])
        r = state["report"]
        self.start_time = r["start_time"]
        self.resumed_from = self._metrics_step = self.step  # that step's record is in metrics.jsonl

    # -- console ----------------------------------------------------------------------------
    def _progress_line(self, f: dict) -> str:
        pct = 100.0 * min(f["step"], f["total_steps"]) / f["total_steps"]
        sps = f["recent_steps_per_sec"] or f["steps_per_sec"] or 0.0
        eta = (f["total_steps"] - f["step"]) / sps if sps > 0 and f["step"] < f["total_steps"] else 0.0
        eps = f"{f['epsilon']:.4f}" if f["epsilon"] is not None else "-"
        loss = f"  loss {f['loss']:.4f}" if f["loss"] is not None else ""
        return (f"step {f['step']}/{f['total_steps']} ({pct:.1f}%)  ep {f['episode']}  ε {eps}  "
                f"{sps:,.0f} steps/s  ETA {format_seconds(eta)}{loss}")

    def _print_progress(self, f: dict) -> None:
        if not self.progress:
            return
        line = self._progress_line(f)
        if _isatty(self.out):
            self.out.write("\r\x1b[2K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def _finish_progress(self, status: str) -> None:
        if not self.progress:
            return
        if _isatty(self.out):
            self.out.write("\n")
        why = f" ({self.stop_reason})" if status == "stopped" and self.stop_reason else ""
        self.out.write(f"{status}{why}: {self.step} steps, {self.episode} episodes in "
                       f"{format_seconds(time.perf_counter() - self.t0)}\n")
        self.out.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def format_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h {m:02d}m {sec:02d}s" if h else (f"{m}m {sec:02d}s" if m else f"{sec}s")
