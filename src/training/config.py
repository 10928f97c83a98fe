"""Config loading and validation for ``python -m src.cli.train``.

One schema per component (see ``SCHEMAS``); the YAML file only fills them in. Everything is
validated here, before a run directory is created, and every error names its key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from src.agents import AGENTS
from src.config.schema import REQUIRED, ConfigError, Field, Schema, suggest, type_name
from src.games.backends import OBS_DTYPES

START_POLICIES = ("random", "agent_first", "opponent_first")
# the step counter is saved as int64 (state files, TensorBoard's global step)
MAX_STEPS = 2 ** 63 - 1
# seeds reach torch.manual_seed (64 bits) after small offsets per stream (src.seeding)
SEED_LIMIT = 2 ** 62
SAMPLER_TYPES = ("random", "pool", "self_play")
CALLBACK_TYPES = ("checkpoint", "epsilon_decay", "lr_decay", "opening_schedule")


def _tensorboard(value: bool, key: str) -> bool:
    from src.runs.tensorboard import INSTALL_HINT, tensorboard_available

    if value and not tensorboard_available():
        raise ConfigError(key, f"TensorBoard logging needs the tensorboard package, which is not installed: {INSTALL_HINT}")
    return value


# every game's params take obs_dtype besides its own (``GameEntry.params``)
GAME_COMMON = {
    "obs_dtype": Field("str", "float32", "dtype of the env API's observation planes (the trainer itself works on "
                       "the game's state words): float32, or uint8/bool for callers that convert on their device",
                       choices=tuple(OBS_DTYPES)),
}


def game_params_schema(game_id: str) -> Schema:
    """The schema of ``game.params`` for ``game_id``: the game's own fields, then ``obs_dtype``."""
    from src.games import GAMES

    return Schema({**GAMES[game_id].params.fields, **GAME_COMMON})


def _game_schemas() -> dict[str, Schema]:
    from src.games import GAMES

    return {f"game.params ({gid})": game_params_schema(gid) for gid in GAMES}


RANDOM_SAMPLER = Schema({"seed": Field("int", None, "opponent seed; falls back to the top-level seed", nullable=True)})

CALLBACK_PARAMS = {
    "checkpoint": Schema({
        "interval": Field("int", 2000, "steps between checkpoints", min=1),
        "prefix": Field("str", "model", "checkpoint file prefix: checkpoints/<prefix>_<step>.pt"),
        "keep_last": Field("int", 2, "training-state files (state/state_<step>.pt, for --resume) kept, newest first; "
                           "null: all (model files are always all kept)", nullable=True, min=1),
    }),
    "epsilon_decay": Schema({
        "every": Field("str", "step", "decay per agent step or per finished episode", choices=("step", "episode")),
    }),
    "lr_decay": Schema({
        "interval_steps": Field("int", 5000, "steps between decays", min=1),
        "decay_factor": Field("float", 0.5, "learning-rate multiplier", gt=0, max=1),
        "min_lr": Field("float", 0.0, "learning-rate floor", min=0),
        "optimizer_attr": Field("str", "optimizer", "agent attribute holding the optimizer"),
        "metric_key": Field("str", "learning_rate", "name under which the rate is reported"),
    }),
    "opening_schedule": Schema({
        "from_step": Field("int", 0, "the step from which the new opening length applies", min=0),
        "plies": Field("int", 0, "AlphaZero: from from_step on, self-play games open with k ~ uniform{0..plies} "
                       "random moves (agent.params.random_opening_plies before it); several entries apply in "
                       "the order listed", min=0),
    }),
}

EVAL = Schema({
    "interval": Field("int", 10_000, "steps between evaluations", min=1),
    "games": Field("int", 200, "games per opponent per evaluation (half with the agent first)", min=1),
    "opponents": Field("list", ["random"], "opponent names or checkpoint paths (may be empty when accuracy is on)"),
    "deterministic": Field("bool", True, "greedy agent during evaluation"),
    "accuracy": Field("int", 0, "solver-judged accuracy on this many random 4-24-ply positions per evaluation "
                      "(0: off; needs the solver extra and a 6x7 board)", min=0),
    "accuracy_seed": Field("int", 0, "seed of the accuracy position set (labelled once, then cached)", min=0),
    "perfect_games": Field("int", 0, "games against `perfect` from each seat per evaluation, from the empty board: "
                           "win/draw/loss per seat and the mean game length (0: off; needs the solver extra and a "
                           "6x7 board)", min=0),
    "benchmark": Field("str", None, "a benchmark of positions with exact scores judged per evaluation: pons "
                       "(Pascal Pons' six sets, benchmarks/data/pons/; null: off)", nullable=True, choices=("pons",)),
    "benchmark_positions": Field("int", 1000, "positions per benchmark set (the first N of each)", min=1, max=1000),
})

TRAIN = Schema({
    "total_steps": Field("int", 10_000, "agent transitions (self-play: plies) to train for, summed over all games",
                         min=1, max=MAX_STEPS),
    "num_envs": Field("int", None, "games played at once (null: 256 on CPU, 16384 on CUDA)", nullable=True, min=1),
    "deterministic": Field("bool", False, "greedy acting during training (no epsilon)"),
    "track_timings": Field("bool", False, "record and print a timing breakdown"),
    "tensorboard": Field("bool", False, "also write metrics.jsonl's scalars as TensorBoard event files under "
                         "RUN_DIR/tensorboard/ (needs the tensorboard extra)", check=_tensorboard),
    "checkpoint_replay": Field("bool", True, "save the replay ring in each checkpoint's training state; false: "
                               "smaller files, but a resumed run refills the ring and is not exact"),
    "start_policy": Field("str", "random", "who moves first in each game (self-play: unused, the agent plays both)",
                          choices=START_POLICIES),
    "opponent_sampler": Field("dict", doc="how opponents are chosen ({type, params})"),
    "callbacks": Field("list", [], "list of {type, enabled?, params?}"),
})

TOP = Schema({
    "seed": Field("int", None, f"global seed (stored in meta.json), from -2^62 to 2^62", nullable=True,
                  min=-SEED_LIMIT, max=SEED_LIMIT),
    "game": Field("dict", doc="{id, params}"),
    "agent": Field("dict", doc="{id, params}"),
    "train": Field("dict", doc="training options"),
    "eval": Field("dict", None, "evaluation options", nullable=True),
})

SCHEMAS = {**_game_schemas(), **{f"agent.params ({aid})": e.params for aid, e in AGENTS.items()},
           "train": TRAIN, "eval": EVAL,
           "train.opponent_sampler.params (random)": RANDOM_SAMPLER,
           **{f"callbacks.{k}.params": v for k, v in CALLBACK_PARAMS.items()}}


def _component(value: dict, path: str, id_key: str, known: tuple[str, ...]) -> tuple[str, Any]:
    for k in value:
        if k not in (id_key, "params") and not (id_key == "type" and k == "enabled"):
            allowed = (id_key, "params", "enabled") if id_key == "type" else (id_key, "params")
            raise ConfigError(f"{path}.{k}", "unknown key" + suggest(k, allowed) + f"; known keys: {', '.join(allowed)}")
    if id_key not in value:
        raise ConfigError(f"{path}.{id_key}", "is required but missing")
    ident = value[id_key]
    if not isinstance(ident, str):
        raise ConfigError(f"{path}.{id_key}", f"must be a string, got {type_name(ident)} {ident!r}")
    if ident not in known:
        raise ConfigError(f"{path}.{id_key}", f"unknown {id_key} {ident!r}" + suggest(ident, known)
                          + f"; known: {', '.join(known)}")
    return ident, value.get("params")


def _validate_game(game: dict) -> dict:
    from src.games import GAMES

    gid, params = _component(game, "game", "id", tuple(GAMES))
    params = game_params_schema(gid).fill(params, "game.params")
    if GAMES[gid].check is not None:  # the game's own checks across its params
        GAMES[gid].check(params, "game.params")
    return {"id": gid, "params": params}


def game_rules(game: dict):
    """The rules object (``Game``, CPU, torch) of a validated ``game`` section: what the checks
    below ask for the number of actions, the observation shape and the feature sets."""
    from src.games import rules_for

    return rules_for(game, None, "cpu", "torch")


def _validate_agent(agent: dict, game: dict) -> dict:
    aid, params = _component(agent, "agent", "id", tuple(AGENTS))
    params = AGENTS[aid].params.fill(params, "agent.params")
    rules = game_rules(game)
    actions, shape = rules.num_actions, list(rules.observation_shape)
    # the spec's keys every agent has: num_actions, action_space, observation_shape, device
    if params["num_actions"] is not None and params["num_actions"] != actions:
        raise ConfigError("agent.params.num_actions", f"is {params['num_actions']} but the game has {actions} actions")
    space = params["action_space"]
    if space is not None:
        n = space.get("n") if isinstance(space, dict) else space
        if n != actions or isinstance(n, bool):
            raise ConfigError("agent.params.action_space", f"must describe {actions} discrete actions, got {space!r}")
    if params["observation_shape"] is not None and list(params["observation_shape"]) != shape:
        raise ConfigError("agent.params.observation_shape", f"is {params['observation_shape']} but the game's is {shape}")
    features = params.get("features", "planes")
    if features not in rules.features:
        raise ConfigError("agent.params.features", f"'{features}' is not a feature set of game '{game['id']}' "
                          f"(it has: {', '.join(rules.features)})")
    if AGENTS[aid].check is not None:  # the agent's own checks across its params
        AGENTS[aid].check(params, "agent.params")
    return {"id": aid, "params": params}


def _validate_callbacks(callbacks: list) -> list[dict]:
    out = []
    for i, cb in enumerate(callbacks):
        path = f"train.callbacks[{i}]"
        if not isinstance(cb, dict):
            raise ConfigError(path, f"must be a mapping {{type, enabled?, params?}}, got {type_name(cb)} {cb!r}")
        ctype, params = _component(cb, path, "type", CALLBACK_TYPES)
        enabled = cb.get("enabled", True)
        if not isinstance(enabled, bool):
            raise ConfigError(f"{path}.enabled", f"must be true or false, got {type_name(enabled)} {enabled!r}")
        if ctype == "checkpoint" and not enabled:
            raise ConfigError(f"{path}.enabled", "the checkpoint callback cannot be disabled (every run keeps "
                              "checkpoints/); set its interval instead")
        out.append({"type": ctype, "enabled": enabled, "params": CALLBACK_PARAMS[ctype].fill(params, f"{path}.params")})
    return out


def _check_callbacks_fit_agent(callbacks: list[dict], agent_id: str) -> None:
    entry = AGENTS[agent_id]
    attrs = entry.optimizer_attrs
    for i, cb in enumerate(callbacks):
        if cb["type"] == "epsilon_decay" and cb["enabled"] and not entry.epsilon:
            raise ConfigError(f"train.callbacks[{i}].type", f"agent '{agent_id}' has no epsilon to decay")
        if cb["type"] == "opening_schedule" and cb["enabled"] and "random_opening_plies" not in entry.params.fields:
            raise ConfigError(f"train.callbacks[{i}].type", f"agent '{agent_id}' has no random openings to schedule "
                              "(agent.params.random_opening_plies)")
        if cb["type"] == "lr_decay" and cb["params"]["optimizer_attr"] not in attrs:
            name = cb["params"]["optimizer_attr"]
            raise ConfigError(f"train.callbacks[{i}].params.optimizer_attr",
                              f"agent '{agent_id}' has no optimizer attribute {name!r}" + suggest(name, attrs)
                              + f"; it has: {', '.join(attrs)}")


def _validate_sampler(sampler: dict, seed: int | None) -> dict:
    stype, params = _component(sampler, "train.opponent_sampler", "type", SAMPLER_TYPES)
    if stype == "self_play":
        if params:
            raise ConfigError("train.opponent_sampler.params", f"the self_play sampler takes no params, got {params!r}")
        return {"type": stype, "params": {}}
    if stype == "random":
        params = RANDOM_SAMPLER.fill(params, "train.opponent_sampler.params")
        if params["seed"] is None:
            params["seed"] = seed
        return {"type": stype, "params": params}
    from src.opponents.pool import validate_pool_params  # the pool's own schema

    return {"type": stype, "params": validate_pool_params(params, seed)}


def _check_usable(specs, key: str, game: dict) -> None:
    """Opponent names that parse but cannot play here: an opponent of another game, a solver
    opponent on a board other than 6x7, or without the solver installed."""
    from src.games import GAMES
    from src.opponents import check_opponent_usable, parse_opponent_spec

    rules = game_rules(game)
    known = GAMES[game["id"]].opponents
    for name, spec in specs:
        try:
            opponent = parse_opponent_spec(spec)[0]
            if opponent not in known:
                raise ValueError(f"opponent {opponent!r} does not play {game['id']} (its opponents: {', '.join(known)})")
            check_opponent_usable(spec, rules)
        except (ValueError, RuntimeError) as e:
            raise ConfigError(f"{key}{name}", str(e)) from None


def _validate_eval(ev: dict | None, game: dict, config_dir: Path) -> dict | None:
    if ev is None:
        return None
    ev = EVAL.fill(ev, "eval")
    from src.training.evaluation import is_checkpoint_spec, validate_eval_opponents

    if ev["opponents"] or not (ev["accuracy"] or ev["perfect_games"] or ev["benchmark"]):
        ev["opponents"] = validate_eval_opponents(ev["opponents"], "eval.opponents", config_dir, game)
    _check_usable([(f"[{i}]", s) for i, s in enumerate(ev["opponents"]) if not is_checkpoint_spec(s)],
                  "eval.opponents", game)
    for key in ("accuracy", "perfect_games", "benchmark"):
        if ev[key]:
            from src.games import GAMES

            if "accuracy" not in GAMES[game["id"]].extras:
                raise ConfigError(f"eval.{key}", f"the solver-judged measures are Connect4's; game "
                                  f"'{game['id']}' has none (leave eval.{key} unset)")
            from src.training.accuracy import check_accuracy_usable

            try:
                check_accuracy_usable(**game_rules(game).params)
            except (ValueError, RuntimeError) as e:
                raise ConfigError(f"eval.{key}", str(e)) from None
    return ev


def validate_config(raw: Any, config_dir: Path = Path(".")) -> dict:
    """Validate a parsed YAML document; returns the config with every default filled in."""
    if raw is None:
        raise ConfigError("", "the file is empty; expected a mapping with game, agent and train")
    cfg = TOP.fill(raw, "")
    out = {"seed": cfg["seed"], "game": _validate_game(cfg["game"])}
    out["agent"] = _validate_agent(cfg["agent"], out["game"])
    train = TRAIN.fill(cfg["train"], "train")
    train["callbacks"] = _validate_callbacks(train["callbacks"])
    _check_callbacks_fit_agent(train["callbacks"], out["agent"]["id"])
    train["opponent_sampler"] = _validate_sampler(train["opponent_sampler"], cfg["seed"])
    if train["opponent_sampler"]["type"] == "self_play" and not AGENTS[out["agent"]["id"]].self_play:
        raise ConfigError("train.opponent_sampler.type", f"agent '{out['agent']['id']}' cannot play itself "
                          f"(self_play is for: {', '.join(a for a, e in AGENTS.items() if e.self_play)})")
    if train["opponent_sampler"]["type"] == "pool":
        dist = train["opponent_sampler"]["params"]["heuristic_distribution"]
        _check_usable([(f".{n}", n) for n in dist], "train.opponent_sampler.params.heuristic_distribution", out["game"])
    out["train"] = train
    out["eval"] = _validate_eval(cfg["eval"], out["game"], config_dir)
    _check_eval_fits_agent(out)
    _check_sizes_fit(out)
    return out


def _check_eval_fits_agent(cfg: dict) -> None:
    """What the evaluation will need of the agent, checked before the first step."""
    ev, aid = cfg["eval"], cfg["agent"]["id"]
    if ev is not None and not ev["deterministic"] and not AGENTS[aid].epsilon:
        raise ConfigError("eval.deterministic", f"agent '{aid}' has no epsilon to explore with during evaluation; "
                          "set it to true (greedy moves)")


def _acting_tree_bytes(agent: dict, rules, self_play: bool) -> int:
    """A search agent's tree per game: in self-play with ``simulations``, when acting with
    ``act_simulations`` (AlphaZero; 0 for an agent without search)."""
    from src.config.memory import tree_bytes

    p = agent["params"]
    if "simulations" not in p:
        return 0
    sims = p["simulations"] if self_play or p.get("act_simulations") is None else p["act_simulations"]
    return tree_bytes(sims, rules) if sims else 0


def _check_sizes_fit(cfg: dict) -> None:
    """``train.num_envs`` and ``eval.games`` that cannot fit in memory (see src.config.memory)."""
    from src.config.memory import check_fits, game_bytes

    rules = game_rules(cfg["game"])
    device = cfg["agent"]["params"].get("device")
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    n = cfg["train"]["num_envs"]
    if n is not None:
        check_fits(n, game_bytes(rules) + _acting_tree_bytes(cfg["agent"], rules, True),
                   "train.num_envs", "games", device)
    if cfg["eval"] is not None and cfg["eval"]["opponents"]:
        # play_games plays the games in two halves, one seat first in each
        per_game = game_bytes(rules) + _acting_tree_bytes(cfg["agent"], rules, False)
        check_fits(cfg["eval"]["games"], (per_game + 1) // 2, "eval.games", "games", device)


def unwinnable_warning(cfg: dict) -> str | None:
    """The game's warning to print once before training (Connect4: a board where no one can win)."""
    from src.games import game_warning

    return game_warning(cfg["game"]["id"], cfg["game"]["params"])


class DuplicateKeyError(yaml.YAMLError):
    """A mapping of the config names one key twice (``key`` dotted, lines 1-based)."""

    def __init__(self, key: str, first: int, second: int):
        super().__init__(f"duplicate key {key!r}")
        self.key, self.first, self.second = key, first, second


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (PyYAML keeps the last)."""

    def construct_document(self, node):
        self._c4_root = node  # for the dotted path of a duplicate key
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in seen:
                    raise DuplicateKeyError(f"{_node_path(self, node)}{key}", seen[key], line)
            except TypeError:  # an unhashable key: SafeLoader's own error follows
                break
            seen[key] = line
        return super().construct_mapping(node, deep)


def _node_path(loader, node) -> str:
    """The dotted prefix of ``node`` inside the document ('train.' for the train mapping)."""
    path: list[str] = []

    def find(current, trail) -> bool:
        if current is node:
            path.extend(trail)
            return True
        if isinstance(current, yaml.MappingNode):
            return any(find(v, trail + [str(k.value)]) for k, v in current.value)
        if isinstance(current, yaml.SequenceNode):
            return any(find(v, trail[:-1] + [f"{trail[-1]}[{i}]"] if trail else [f"[{i}]"])
                       for i, v in enumerate(current.value))
        return False

    root = getattr(loader, "_c4_root", None)
    if root is not None and find(root, []):
        return "".join(p + "." for p in path)
    return ""


def load_config(path: str | Path, config_dir: Path | None = None) -> tuple[str, dict]:
    """Read and validate a YAML config. Returns ``(text, config)``; raises ConfigError.

    Checkpoint paths in ``eval.opponents`` are looked up relative to the working directory,
    then ``config_dir`` (default: the file's folder; a resumed run passes the original one)."""
    path = Path(path)
    if not path.exists():
        raise ConfigError("", f"config file not found: {path}")
    if not path.is_file():
        raise ConfigError("", f"config path is not a file: {path}")
    try:
        text = path.read_bytes().decode("utf-8")  # not read_text: keep \r\n for the byte-exact copy
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("", f"cannot read {path}: {e}") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except DuplicateKeyError as e:
        raise ConfigError(e.key, f"appears twice in {path}: line {e.first} and line {e.second} "
                          "(remove one; YAML would silently keep the last)") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError("", f"malformed YAML in {path}{where}: {problem}") from None
    return text, validate_config(raw, config_dir if config_dir is not None else path.resolve().parent)


def reference_markdown() -> str:
    """The config reference (docs/config.md), generated from the schemas."""
    from src.opponents.pool import POOL, SELF_PLAY

    sections = dict(SCHEMAS)
    sections["train.opponent_sampler.params (pool)"] = POOL
    sections["train.opponent_sampler.params.self_play (pool)"] = SELF_PLAY
    out = ["# Config reference", "",
           "Generated from the schemas in `src/training/config.py`, the agents' (`src/agents/`) and `src/opponents/pool.py` by",
           "`python -m src.training.config > docs/config.md`; a test keeps it current.",
           "Top-level keys: `seed` (optional), `game`, `agent`, `train` (required), `eval` (optional).",
           "Components are `{id, params}` (game, agent) or `{type, params}` (sampler, callbacks; callbacks also take `enabled`)."]
    for name, schema in sections.items():
        out += ["", f"## `{name}`", "", "| key | default | meaning |", "|---|---|---|"]
        for key, field in schema.fields.items():
            if field.default is REQUIRED:
                default = "required"
            elif callable(field.default):
                default = f"`{field.default()}`"
            else:
                default = f"`{yaml.safe_dump(field.default, default_flow_style=True).strip().removesuffix('...').strip()}`"
            out.append(f"| `{key}` | {default} | {field.doc} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(reference_markdown(), end="")
