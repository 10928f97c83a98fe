"""Evaluation games against fixed opponents (the config's ``eval`` section)."""
from __future__ import annotations

from pathlib import Path

from src.opponents.samplers import OpponentSampler
from src.seeding import child_seed
from src.training.callbacks import crossed
from src.config.schema import ConfigError


def resolve_checkpoint_path(spec: str, config_dir: Path) -> Path | None:
    """A checkpoint path as given (relative to the working directory), else relative to the
    config; ``bundled``: the agent that comes with the repository."""
    from src.agents.pretrained import resolve_name

    if resolve_name(spec) is not None:
        return resolve_name(spec) if resolve_name(spec).is_file() else None
    for base in (Path("."), config_dir):
        p = (base / spec)
        if p.is_file():
            return p.resolve()
    return None


def is_checkpoint_spec(spec) -> bool:
    """An eval opponent given as a checkpoint path (or ``bundled``) rather than an opponent name."""
    from src.agents.pretrained import resolve_name

    return isinstance(spec, str) and (spec.endswith(".pt") or "/" in spec or "\\" in spec
                                      or resolve_name(spec) is not None)


def validate_eval_opponents(opponents: list, key: str, config_dir: Path, game: dict | None = None) -> list:
    """Each entry is an opponent name (see ``src.opponents.parse_opponent_spec``) or a checkpoint
    path; with ``game`` (``{id, params}`` as a config records it), a checkpoint must play that game."""
    from src.opponents import parse_opponent_spec

    if not opponents:
        raise ConfigError(key, "must list at least one opponent")
    out = []
    for i, spec in enumerate(opponents):
        k = f"{key}[{i}]"
        if is_checkpoint_spec(spec):
            path = resolve_checkpoint_path(spec, config_dir)
            if path is None:
                raise ConfigError(k, f"checkpoint not found: {spec}")
            from src.agents import CheckpointError, read_checkpoint

            try:
                ckpt = read_checkpoint(path)
            except CheckpointError as e:
                raise ConfigError(k, str(e)) from None
            if game is not None:
                from src.games import describe_game, rules_for

                theirs = rules_for(ckpt.get("game"), ckpt["observation_shape"], "cpu", "torch")
                ours = rules_for(game, None, "cpu", "torch")
                if (theirs.game_id, theirs.params) != (ours.game_id, ours.params):
                    raise ConfigError(k, f"{spec} plays {describe_game(theirs.game_id, theirs.params)}, "
                                      f"not {describe_game(ours.game_id, ours.params)}")
            out.append(str(path))
            continue
        try:
            parse_opponent_spec(spec)
        except ValueError as e:
            raise ConfigError(k, str(e)) from None
        out.append(spec)
    return out


class FixedSampler(OpponentSampler):
    """Every game faces the same opponent object (``act(*state, active=None) -> int64 [N]``)."""

    def __init__(self, opponent):
        self.opponent = opponent

    def act(self, *words, active=None):
        return self.opponent.act(*words, active=active)


class AgentOpponent:
    """A frozen agent as an opponent: greedy over legal moves of the position it faces.
    ``game``: the ``Game`` (a Connect4 ``Geometry`` is taken for its board)."""

    def __init__(self, agent, game):
        from src.games import as_game

        self.agent = agent
        self.game = as_game(game, getattr(agent, "device", "cpu"))

    on_host = False

    def act(self, *words, active=None):
        state = self.game.State(*words)
        return self.agent.act(self.game.observe(state), self.game.legal_mask(state), deterministic=True)


def play_games(agent, opponent, geometry, device, games: int, deterministic: bool = True,
               seed: int | None = None, opening_plies: int = 0, seats: bool = False) -> dict:
    """Play ``games`` games of ``agent`` against ``opponent`` (``act(cur, mask)``), the agent
    first in half of them (the extra one, if odd, with the agent first), each exactly once,
    in a fresh env so no training state or RNG stream is touched.

    ``opening_plies`` > 0 (games with openings, Connect4's): game i of each half starts from the
    i-th of the game's ``random_openings`` (seeded by ``seed``), so the agent meets every opening once from each seat; "first" then
    means the first move after the opening. Two deterministic players need this to play more
    than two distinct games.

    Returns ``{"games", "win", "draw", "loss", "score"}`` with rates (score = win + draw / 2);
    with ``seats`` also ``"first"`` and ``"second"``: the same rates of the agent's games in each
    seat (a seat without games is left out).
    """
    counts = {"win": 0, "draw": 0, "loss": 0}
    by_seat = play_seats(agent, opponent, geometry, device, (games + 1) // 2, games // 2, deterministic,
                         seed, opening_plies)
    for r in by_seat.values():
        for k in counts:
            counts[k] += r["counts"][k]
    out = _rates(counts)
    if seats:
        out.update({seat: _rates(r["counts"]) for seat, r in by_seat.items()})
    return out


def _rates(counts: dict) -> dict:
    total = sum(counts.values())
    rates = {k: v / total for k, v in counts.items()}
    return {"games": total, **{k: round(v, 4) for k, v in rates.items()},
            "score": round(rates["win"] + 0.5 * rates["draw"], 4)}


def play_seats(agent, opponent, geometry, device, first: int, second: int, deterministic: bool = True,
               seed: int | None = None, opening_plies: int = 0) -> dict:
    """``first`` games with the agent seated first and ``second`` with it seated second (see
    ``play_games``): ``{"first": {"counts": {win, draw, loss}, "plies": int64 [first]}, "second": ...}``,
    ``plies`` being each game's length in stones on the board at its end (openings included);
    a seat with no games is left out."""
    import torch

    from src.games import as_game, make_game
    from src.training.versus import Versus

    game = as_game(geometry, device)
    generator = torch.Generator(device=device)
    generator.manual_seed(0 if seed is None else seed)
    if opening_plies:
        openings = game.random_openings(max(first, second), opening_plies, 0 if seed is None else seed)
    out = {}
    for seat, policy, n in (("first", "agent_first", first), ("second", "opponent_first", second)):
        if n == 0:
            continue
        env = make_game(game.game_id, n, device=device, seed=None if seed is None else seed + len(policy),
                        **game.params)
        versus = Versus(env, FixedSampler(opponent), policy, seed=seed)
        if opening_plies:
            versus.start_from(env.game.State(*(w[:n].to(device) for w in openings)))
        else:
            versus.reset()
        outcome = torch.zeros(n, dtype=torch.int8, device=device)
        plies = torch.zeros(n, dtype=torch.int64, device=device)
        finished = torch.zeros(n, dtype=torch.bool, device=device)
        for _ in range(game.max_plies):  # a game lasts at most this many agent moves
            obs, legal = versus.observe(), versus.legal_mask()
            actions = agent.act(obs, legal, deterministic=True) if deterministic else \
                _explore(agent, obs, legal, generator)
            batch = versus.step(actions)
            first_done = batch["done"] & ~finished
            outcome = torch.where(first_done, batch["reward"].sign().to(torch.int8), outcome)
            ended = env.game.State(*(batch[f"next_{f}"] for f in env.game.State._fields))
            plies = torch.where(first_done, env.game.ply(ended), plies)
            finished |= batch["done"]
            if bool(finished.all()):
                break
        out[seat] = {"counts": {"win": int((outcome > 0).sum()), "draw": int((outcome == 0).sum()),
                                "loss": int((outcome < 0).sum())}, "plies": plies.cpu()}
    return out


def perfect_games(agent, geometry, device, games: int, seed: int = 0) -> dict:
    """``games`` games against ``perfect`` from each seat, from the empty board:
    ``{"games": games, "first": {games, win, draw, loss, score, mean_plies}, "second": {...}}``.

    A perfect first player always wins, so seated first only a perfect agent avoids losing;
    seated second every game is lost against perfect play, and the mean length (in plies,
    41 for perfect against perfect) says how long the agent holds. The agent plays greedily
    (a searching agent deterministically), so the games differ only through ``perfect``, which
    draws among its equally scored moves from its own stream (seeded by ``seed``): there are
    many such ties in the opening, and each one sends a game down its own line.
    """
    from src.opponents import make_opponent

    opponent = make_opponent("perfect", geometry, device, None, seed)
    out = {"games": games}
    for seat, r in play_seats(agent, opponent, geometry, device, games, games, True, seed).items():
        out[seat] = {**_rates(r["counts"]), "mean_plies": round(float(r["plies"].float().mean()), 2)}
    return out


def _explore(agent, obs, legal, generator):
    """Epsilon-greedy with the agent's current epsilon but the evaluation's own RNG stream."""
    import torch

    from src.agents.dqn import masked_argmax, random_legal

    greedy = masked_argmax(agent.q_values(obs), legal)
    explore = torch.rand(greedy.shape, device=greedy.device, generator=generator) < agent.epsilon
    return torch.where(explore, random_legal(legal, generator), greedy)


class Evaluator:
    """Every ``eval.interval`` agent steps (and once at the end), play ``eval.games`` games
    against each ``eval.opponents`` entry in fresh envs with their own seeds, so the training
    envs, opponents and RNG streams are untouched: a run with evaluation trains exactly as
    one without. Results go to metrics.jsonl (``kind: eval``) and status.json (``eval``)."""

    def __init__(self, cfg: dict, game, device, seed: int | None = None):
        """``game``: the ``Game`` played (a Connect4 ``Geometry`` is taken for its board)."""
        from src.games import as_game

        game = as_game(game, device)
        ev = cfg["eval"]
        self.interval, self.games = ev["interval"], ev["games"]
        self.opponents, self.deterministic = list(ev["opponents"]), ev["deterministic"]
        self.accuracy, self.accuracy_seed = ev.get("accuracy", 0), ev.get("accuracy_seed", 0)
        self.perfect_games = ev.get("perfect_games", 0)
        self.benchmark, self.benchmark_positions = ev.get("benchmark"), ev.get("benchmark_positions", 1000)
        self.game, self.device = game, device
        self.seed = 0 if seed is None else seed
        self.latest: dict | None = None
        self.last_step: int | None = None

    def maybe_evaluate(self, trainer) -> None:
        if crossed(trainer.step - trainer.steps_per_batch, trainer.step, self.interval):
            self.evaluate(trainer)

    def finish(self, trainer) -> None:
        if self.last_step != trainer.step:
            self.evaluate(trainer)

    def make_opponent(self, spec: str, index: int):
        from src.games.backends import resolve_backend

        backend = resolve_backend(None, self.device)
        if is_checkpoint_spec(spec):
            from src.agents import load_agent

            return AgentOpponent(load_agent(spec, self.device), self.game.with_seed(0))
        from src.opponents import make_opponent

        return make_opponent(spec, self.game, self.device, backend, child_seed(self.seed, "eval.opponent", index))

    def evaluate(self, trainer) -> dict:
        import time

        from src.runs.rundir import utc_now_iso

        t = time.perf_counter()
        results = {}
        for i, spec in enumerate(self.opponents):
            name = Path(spec).name if is_checkpoint_spec(spec) else spec
            results[name] = play_games(trainer.agent, self.make_opponent(spec, i), self.game, self.device,
                                       self.games, self.deterministic, seed=child_seed(self.seed, "eval.games", i))
        measures = {}
        if self.accuracy:
            measures["accuracy"] = self.measure_accuracy(trainer.agent)
        if self.perfect_games:
            measures["perfect_games"] = perfect_games(trainer.agent, self.game, self.device, self.perfect_games,
                                                      child_seed(self.seed, "eval.perfect_games", 0))
        if self.benchmark:
            measures["benchmark"] = {self.benchmark: self.measure_benchmark(trainer.agent)}
        self.latest = {"step": trainer.step, "time": utc_now_iso(), "results": results,
                       "seconds": round(time.perf_counter() - t, 3), **measures}
        self.last_step = trainer.step
        if trainer.run_dir is not None:
            record = {"kind": "eval", "step": trainer.step, "episode": int(trainer.episode_dev),
                      "time": self.latest["time"], "eval": results, **measures}
            trainer.run_dir.append_metrics(record)
        return self.latest

    def measure_accuracy(self, agent) -> dict:
        """Solver-judged accuracy of the agent's greedy moves (``src.training.accuracy``); the
        position set is labelled on the first call (or read from the cache) and kept."""
        from src.training.accuracy import measure, position_set

        ps = position_set(self.accuracy, self.accuracy_seed, self.game)  # Connect4 only (config-checked)
        return measure(AgentOpponent(agent, self.game.with_seed(0)), ps, self.device)

    def measure_benchmark(self, agent) -> dict:
        """The agent's greedy moves on the benchmark's position sets (``src.training.pons``)."""
        from src.training.pons import measure_pons  # Connect4 only (config-checked)

        return measure_pons(AgentOpponent(agent, self.game.with_seed(0)), self.benchmark_positions, self.device)

    # -- state (resume) ---------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What a resumed run needs: when it last evaluated and what it found. Evaluations
        draw from streams seeded afresh each time (``seed``), so no stream position is kept."""
        return {"last_step": self.last_step, "latest": self.latest, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.last_step, self.latest, self.seed = state["last_step"], state["latest"], state["seed"]
