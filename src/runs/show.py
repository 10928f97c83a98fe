"""What `python -m src.cli.runs show RUN_DIR [--plot FILE.png]` prints and draws."""
from __future__ import annotations

import os
import re
import shlex
from datetime import datetime, timezone
from pathlib import Path

import yaml

from src.runs import monitor
from src.runs.files import WriteError, atomic_write_bytes
from src.runs.rundir import RunDir


class ShowError(Exception):
    """The folder cannot be shown (not a run), or the plot cannot be drawn."""


class PlotPathError(ShowError):
    """The plot file cannot be written there (a bad --plot argument: exit 2)."""


def _config_summary(rd: RunDir) -> list[str]:
    try:
        cfg = yaml.safe_load(rd.config_path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ["config:   (config.yaml missing or unreadable)"]
    if not isinstance(cfg, dict):
        return ["config:   (config.yaml is not a mapping)"]
    game, agent, train = (cfg.get(k) if isinstance(cfg.get(k), dict) else {} for k in ("game", "agent", "train"))
    gp, ap = game.get("params") or {}, agent.get("params") or {}
    sampler = train.get("opponent_sampler") or {}
    lines = [
        f"game:     {game.get('id', '?')} {_board(game.get('id'), gp)}",
        "agent:    " + f"{agent.get('id', '?')}  " + "  ".join(
            f"{k}={ap[k]}" for k in ("learning_rate", "gamma", "batch_size", "replay_buffer_size",
                                     "updates_per_step", "hidden_sizes", "device") if k in ap),
        "train:    " + "  ".join(
            f"{k}={train[k]}" for k in ("total_steps", "num_envs", "start_policy") if k in train)
        + f"  opponents={sampler.get('type', '?')}",
    ]
    cbs = [c.get("type", "?") for c in (train.get("callbacks") or []) if isinstance(c, dict)]
    lines.append(f"callbacks: checkpoint (always){''.join(', ' + c for c in cbs if c != 'checkpoint')}")
    if isinstance(cfg.get("eval"), dict):
        ev = cfg["eval"]
        lines.append(f"eval:     every {ev.get('interval', 10000)} steps, {ev.get('games', 200)} games vs "
                     f"{', '.join(map(str, ev.get('opponents', ['random'])))}"
                     + (f", accuracy on {ev['accuracy']} positions" if ev.get("accuracy") else "")
                     + (f", {ev['perfect_games']} games per seat vs perfect" if ev.get("perfect_games") else "")
                     + (f", benchmark {ev['benchmark']} ({ev.get('benchmark_positions', 1000)} per set)"
                        if ev.get("benchmark") else ""))
    return lines


def format_perfect_games(r: dict) -> list[str]:
    """Per seat: the W/D/L rates against ``perfect`` and the mean game length."""
    lines = []
    for seat, note in (("first", "(a perfect first player always wins)"),
                       ("second", "(perfect against perfect lasts 41 plies)")):
        x = r.get(seat)
        if isinstance(x, dict):
            lines.append(f"  seated {seat:<7} win {x['win']:.3f}  draw {x['draw']:.3f}  loss {x['loss']:.3f}  "
                         f"mean length {x['mean_plies']:.1f} plies, {x['games']} games  {note}")
    return lines


def _board(game_id, params: dict) -> str:
    """The game's params as the config gives them, ``k=v`` (``obs_dtype`` left out)."""
    return " ".join(f"{k}={v}" for k, v in params.items() if k != "obs_dtype")


def format_accuracy(acc: dict) -> list[str]:
    """A small table of an accuracy result (overall and per ply band)."""
    def cell(s):
        return f"{s['value']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]" if s["value"] is not None else "-"

    lines = [f"  {'plies':<7}{'positions':>9}   {'perfect (95% CI)':<22}  {'good (95% CI)':<22}",
             f"  {'4-24':<7}{acc['positions']:>9}   {cell(acc['perfect']):<22}  {cell(acc['good']):<22}"]
    for band, b in acc["bands"].items():
        lines.append(f"  {band:<7}{b['positions']:>9}   {cell(b['perfect']):<22}  {cell(b['good']):<22}")
    return lines


def _checkpoint_step(p: Path) -> int:
    m = re.search(r"_(\d+)\.pt$", p.name)
    return int(m.group(1)) if m else -1


def latest_eval(rd: RunDir) -> dict | None:
    evals = [r for r in rd.read_metrics() if r.get("kind") == "eval" and isinstance(r.get("eval"), dict)]
    return evals[-1] if evals else None


def show_report(run_dir: str | os.PathLike, now: datetime | None = None) -> list[str]:
    """The lines of `runs show`. Raises ShowError for a folder that is not a run."""
    now = now or datetime.now(timezone.utc)
    info = monitor.inspect_run(run_dir, now)
    if info is None:
        raise ShowError(f"{run_dir} is not a run directory (no status.json, meta.json, config.yaml or pid)")
    rd = RunDir(run_dir)
    meta = rd.read_meta() or {}
    lines = [f"run:      {info.name}  ({rd.path})", "status:   " + monitor.format_run_line(info, now).strip()[len(info.name):].strip()]
    git = meta.get("git_commit")
    lines.append(f"started:  {meta.get('start_time_iso', '?')}  device={meta.get('device', '?')}  seed={meta.get('seed')}"
                 f"  git={git[:10] if isinstance(git, str) else '-'}{' (dirty)' if meta.get('git_dirty') else ''}")
    if meta.get("command"):
        lines.append(f"command:  {meta['command']}")
    resumes = rd.read_resumes()
    if resumes:
        last = resumes[-1]
        lines.append(f"resumed:  {len(resumes)} time(s), last at {last.get('time', '?')} from step {last.get('from_step', '?')}"
                     + ("" if last.get("exact", True) else " (not exact: replay ring refilled)"))
    lines += _config_summary(rd)
    status = info.status_record or {}
    extras = [f"{k}={status[k]}" for k in ("steps_per_sec", "loss", "mean_q", "learning_rate", "updates") if status.get(k) is not None]
    if extras:
        lines.append("progress: " + "  ".join(extras))
    ev = latest_eval(rd)
    if ev is None:
        lines.append("evaluation: none yet")
    else:
        lines.append(f"evaluation at step {ev.get('step')}:")
        for name, r in ev["eval"].items():
            if isinstance(r, dict):
                lines.append(f"  {name:<24} score {r.get('score', float('nan')):.3f}  (win {r.get('win', 0):.3f}  "
                             f"draw {r.get('draw', 0):.3f}  loss {r.get('loss', 0):.3f}, {r.get('games', '?')} games)")
        acc = ev.get("accuracy")
        if isinstance(acc, dict):
            lines.append(f"  accuracy on {acc.get('positions', '?')} random positions (seed {acc.get('seed', '?')}), "
                         "judged by the perfect solver:")
            try:
                lines += ["  " + line for line in format_accuracy(acc)]
            except (KeyError, TypeError, IndexError):
                lines.append("    (unreadable accuracy record)")
        if isinstance(ev.get("perfect_games"), dict):
            lines.append("  against perfect, from the empty board:")
            try:
                lines += ["  " + line for line in format_perfect_games(ev["perfect_games"])]
            except (KeyError, TypeError, ValueError):
                lines.append("    (unreadable perfect_games record)")
        for name, b in (ev.get("benchmark") or {}).items() if isinstance(ev.get("benchmark"), dict) else ():
            lines.append(f"  benchmark {name}, judged by the perfect solver:")
            try:
                lines += ["  " + line for line in format_pons(b)]
            except (KeyError, TypeError, IndexError, AttributeError):
                lines.append("    (unreadable benchmark record)")
    ckpts = sorted(rd.checkpoints.glob("*.pt"), key=_checkpoint_step) if rd.checkpoints.is_dir() else []
    ckpts = [p for p in ckpts if not p.name.startswith(".")]
    lines.append(f"checkpoints ({len(ckpts)}): " + (", ".join(p.name for p in ckpts[-6:]) if ckpts else "none"))
    if len(ckpts) > 6:
        lines[-1] += f"  (and {len(ckpts) - 6} older)"
    if ckpts:
        lines.append(f"latest:   {ckpts[-1]}")
    states = rd.state_steps()
    lines.append(f"resume:   {'from step ' + str(states[-1]) if states else 'no training state saved'}")
    if rd.tensorboard_path.is_dir():
        lines.append(f"tensorboard: tensorboard --logdir {shlex.quote(str(rd.tensorboard_path))}")
    return lines


def plot_run(run_dir: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Draw the learning curves of a run (evaluation score per opponent, solver-judged accuracy
    when measured, loss, steps/s against step) from metrics.jsonl into the PNG ``out``. Needs matplotlib (``pip install -e .[plot]``)."""
    try:
        import matplotlib
    except ImportError:
        raise ShowError("--plot needs matplotlib, which is not installed; install it with: "
                        "pip install -e '.[plot]'  (or: pip install matplotlib)") from None
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    rd = RunDir(run_dir)
    if monitor.inspect_run(run_dir) is None:
        raise ShowError(f"{run_dir} is not a run directory")
    records = rd.read_metrics()
    status = [r for r in records if r.get("kind") == "status"]
    evals = [r for r in records if r.get("kind") == "eval" and isinstance(r.get("eval"), dict)]
    acc = [r for r in evals if isinstance(r.get("accuracy"), dict)]
    pg = [r for r in evals if isinstance(r.get("perfect_games"), dict)]
    bench = [r for r in evals if isinstance(r.get("benchmark"), dict) and r["benchmark"]]
    extra = bool(acc) + bool(pg) + bool(bench)
    fig, axes = plt.subplots(3 + extra, 1, figsize=(8, 9 + 3 * extra), sharex=True)
    ax = axes[0]
    names = sorted({n for r in evals for n in r["eval"]})
    for name in names:
        pts = [(r["step"], r["eval"][name]["score"]) for r in evals if isinstance(r["eval"].get(name), dict)]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
    ax.set_ylabel("eval score\n(win + draw/2)")
    ax.set_ylim(-0.02, 1.02)
    if names:
        ax.legend(loc="lower right", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no evaluation in this run", ha="center", va="center", transform=ax.transAxes)
    if acc:
        ax = axes[1]
        for key, label in (("perfect", "perfect (best-score) moves"), ("good", "good (outcome-keeping) moves")):
            pts = [(r["step"], r["accuracy"][key]) for r in acc if isinstance(r["accuracy"].get(key), dict)]
            steps = [p[0] for p in pts]
            ax.plot(steps, [p[1]["value"] for p in pts], marker="o", label=label)
            ax.fill_between(steps, [p[1]["ci95"][0] for p in pts], [p[1]["ci95"][1] for p in pts], alpha=0.2)
        ax.set_ylabel("solver-judged\naccuracy")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="lower right", fontsize="small")
    panel = 1 + bool(acc)
    if pg:
        _plot_perfect_games(axes[panel], pg)
        panel += 1
    if bench:
        _plot_benchmark(axes[panel], bench)
    for ax, key, label in ((axes[-2], "loss", "loss"), (axes[-1], "steps_per_sec", "agent steps/s")):
        pts = [(r["step"], r[key]) for r in status if isinstance(r.get(key), (int, float))]
        ax.plot([p[0] for p in pts], [p[1] for p in pts])
        ax.set_ylabel(label)
    axes[-1].set_xlabel("agent step")
    fig.suptitle(rd.path.name)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    out = Path(out)
    try:
        atomic_write_bytes(out, buf.getvalue())
    except WriteError as e:  # a read-only place, a missing folder, a directory of that name
        raise PlotPathError(str(e)) from None
    return out


def _plot_perfect_games(ax, evals: list[dict]) -> None:
    """Seated first: win and draw rates against perfect; seated second: mean game length (right axis)."""
    for seat, key, label in (("first", "win", "seated first: wins"), ("first", "draw", "seated first: draws"),
                             ("second", "draw", "seated second: draws")):
        pts = [(r["step"], r["perfect_games"][seat][key]) for r in evals if isinstance(r["perfect_games"].get(seat), dict)]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    ax.set_ylabel("vs perfect\n(rate)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="upper left", fontsize="small")
    right = ax.twinx()
    pts = [(r["step"], r["perfect_games"]["second"]["mean_plies"]) for r in evals
           if isinstance(r["perfect_games"].get("second"), dict)]
    right.plot([p[0] for p in pts], [p[1] for p in pts], marker="s", color="black", label="seated second: mean length")
    right.axhline(41, color="grey", linestyle=":", linewidth=1)  # perfect against perfect
    right.set_ylabel("plies (41: perfect)")
    right.set_ylim(0, 43)
    right.legend(loc="lower right", fontsize="small")


def _plot_benchmark(ax, evals: list[dict]) -> None:
    """Each benchmark's overall best-score and outcome-keeping shares, with their 95% intervals."""
    for name in sorted({n for r in evals for n in r["benchmark"]}):
        for key, label in (("perfect", "best-score"), ("good", "outcome-keeping")):
            pts = [(r["step"], r["benchmark"][name][key]) for r in evals if isinstance(r["benchmark"].get(name), dict)]
            steps = [p[0] for p in pts]
            ax.plot(steps, [p[1]["value"] for p in pts], marker="o", label=f"{name}: {label} moves")
            ax.fill_between(steps, [p[1]["ci95"][0] for p in pts], [p[1]["ci95"][1] for p in pts], alpha=0.2)
    ax.set_ylabel("benchmark\n(all sets)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(loc="lower right", fontsize="small")


def format_pons(result: dict) -> list[str]:
    """A small table of a ``measure_pons`` result: one row per set and the overall one."""
    def cell(s):
        return f"{s['value']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]" if s["value"] is not None else "-"

    lines = [f"  {'set':<15}{'file':<12}{'positions':>9}   {'perfect (95% CI)':<22}  {'good (95% CI)':<22}"]
    for label, s in result["sets"].items():
        lines.append(f"  {label:<15}{s['file']:<12}{s['positions']:>9}   {cell(s['perfect']):<22}  {cell(s['good']):<22}")
    total = sum(s["positions"] for s in result["sets"].values())
    lines.append(f"  {'all six':<15}{'':<12}{total:>9}   {cell(result['perfect']):<22}  {cell(result['good']):<22}")
    return lines
