"""What the engine needs of a game: the ``Game`` protocol, its numba search rules, ``GameEntry``.

Everything above ``src/games/`` (Versus, replay, learners, search, opponents' samplers,
evaluation, CLIs, env adapters) sees a game only through these names, in the spirit of pgx's
``Env`` and mctx's ``recurrent_fn``. A game is one package under ``src/games/`` (plus its
kernels) that registers a ``GameEntry`` in ``src.games.GAMES``.

State
-----
A batch of ``N`` positions is a ``State``: a small ``typing.NamedTuple`` of tensors that only
the game interprets (Connect4: ``(cur, mask)``; Othello: ``(mine, theirs)``, plus a word for the
side to move or passes if ``to_move`` cannot be told from the discs). Every field is
an **int64 [N] tensor** ("a word per game"), so the engine can store, index, select and stack
positions without knowing what they mean (``index_state``, ``where_state``, ``stack_words``),
the replay ring keeps one int64 column per field (``Game.State._fields``), and the search tree
keeps ``W = len(State._fields)`` words per node. A position always has **the side to move**
as its point of view: what ``observe`` draws as plane 0, what ``legal_mask`` is for, whom
``play`` moves for.

Reward and end
--------------
``reward`` (float32 [N]) is for **the player who just moved**: +1 when the move wins the game,
-1 when it loses it (an illegal move loses and ends the game; in Othello a move that ends the
game with fewer discs), 0 otherwise (draws included). ``done`` (bool [N]) is true when the
move ended the game. The value of a finished position for *its* side to move is ``-reward``.

Backends
--------
A ``Game`` object is bound to a device and a backend (``'torch'``: any device;
``'numba'``: the CPU, numpy views of the same tensors) and owns one seeded random stream
(``random_actions``); its methods take and return torch tensors on its device, for any batch
size ``N`` (not only the env's ``num_envs``). The two backends give the same results bit for
bit (``random_actions`` excepted: each backend has its own stream).

Search
------
The numba tree search (``kernels.mcts_numba``) is generic: ``Game.numba_rules()`` hands it the
game's per-game ``@njit`` functions (``NumbaRules``), which read and write a node's words in
the tree array ``words`` int64 [n, S, W] in place, so the search names no game. The torch
search uses ``Game.play`` and ``Game.legal_mask`` on ``State`` s unstacked from its int64
[n, S, W] tree (``unstack_words``). The numba kernels are compiled per game (``NumbaRules.key``)
and cached on disk; the numba-cuda search (``kernels.mcts_cuda``) compiles the same rules'
Python functions for the GPU.

Acting on a state
-----------------
Opponents and opponent samplers are called as ``act(*state, active=None)``: the state's words
spread as positional arguments (so a game's own opponents may name them, e.g. Connect4's
``act(cur, mask, active=None)``; a generic one writes ``act(self, *words, active=None)`` and
rebuilds ``game.State(*words)``), ``active`` bool [N] or None by keyword; they return int64 [N].
Agents' ``encode(*state)`` (network input) takes the words the same way. Learners, the search
and ``Versus`` take the ``State`` itself.

Symmetries
----------
``Game.symmetries`` lists the board symmetries for data augmentation, the identity first:
each ``Symmetry`` maps an observation (``transform``, on tensors [..., *observation_shape[1:]]:
any leading dims, the spatial ones last) and an action (``actions[a]`` is the image of action
``a``; a permutation of ``range(num_actions)``). Connect4 has 2 (identity, mirror), Othello 8
(the dihedral group). ``apply_symmetries`` applies one per sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, NamedTuple, Protocol, Sequence

import torch

from src.config.schema import Schema

State = tuple  # a game's NamedTuple of int64 [N] tensors (for type hints: the concrete class is Game.State)


class Symmetry(NamedTuple):
    """One board symmetry. ``transform(x)``: x [..., H, W] (the observation planes' spatial dims
    last, any leading dims) -> the same shape, transformed; ``actions[a]``: the action that
    action ``a`` becomes (a permutation of ``range(num_actions)``)."""
    name: str
    transform: Callable[[torch.Tensor], torch.Tensor]
    actions: tuple[int, ...]


class NumbaRules(NamedTuple):
    """A game's per-game rules as numba ``@njit`` functions, for the generic numba search.

    ``words`` is a tree's int64 array [n, S, W] (W = ``num_words``): node ``s`` of game ``i``
    is ``words[i, s, :]``, a position with its side to move, laid out as ``Game.State``.

    * ``play(words, i, src, dst, a) -> (reward float32, done bool)``: writes into
      ``words[i, dst, :]`` the position after the side to move at ``words[i, src, :]`` plays
      the legal action ``a`` (int64); reward for the mover (+1 won, -1 lost, 0 else). The
      search calls it only with legal actions.
    * ``is_legal(words, i, s, a) -> bool``: whether action ``a`` is legal at ``words[i, s, :]``.

    The CUDA search (``kernels.mcts_cuda``) compiles the Python functions of ``play`` and
    ``is_legal`` again as CUDA device functions (numba-cuda), so they must stay within what both
    targets compile: scalar numpy arithmetic, the tree array's indexing, and calls to other
    ``@njit`` functions of scalars (numba-cuda compiles those for the GPU too); under the CUDA
    simulator they also run as plain Python, so their integer casts must wrap as numba's do.

    ``max_plies``: the most moves a game can last (bounds a search path's length). ``key``: a
    name of these rules that is the same in every process and differs between games and
    params (e.g. ``'connect4:6x7'``); the search's compiled kernels are cached on disk under it.
    """
    num_actions: int
    num_words: int
    max_plies: int
    play: Callable
    is_legal: Callable
    key: str = ""  # "": the play function's module and name with the sizes (fine for module-level rules)


class Game(Protocol):
    """The rules of one game on one device and backend, with one seeded random stream.

    Shapes: ``N`` games per call (any N), ``A = num_actions``, ``obs [N, *observation_shape]``.
    ``actions`` are int64 [N] on the game's device.
    """

    game_id: ClassVar[str]
    State: ClassVar[type]  # the NamedTuple class: every field int64 [N]
    device: torch.device
    backend: str  # 'torch' | 'numba'
    params: dict  # the game's params as filled by its schema (GameEntry.params)
    num_actions: int  # A
    observation_shape: tuple[int, ...]  # (planes, H, W): plane 0 = side to move's pieces, plane 1 = the other's
    symmetries: tuple[Symmetry, ...]  # the identity first
    max_plies: int  # the most moves one game can last

    def init(self, n: int) -> State:
        """``n`` games at the starting position (first player to move)."""
        ...

    def play(self, state: State, actions: torch.Tensor, active: torch.Tensor | None = None):
        """Play ``actions`` for the side to move in the ``active`` games (bool [N]; None = all);
        no reset. Returns ``(state, reward, done, illegal)``: the new positions (the other side to
        move where a move was made), reward float32 [N] for the mover, done bool [N] (the game
        ended: won, lost, drawn, or an illegal move), illegal bool [N] (out of range or not legal:
        the position is kept, done, reward -1). Inactive games keep their position and get
        reward 0, done False, illegal False."""
        ...

    def step(self, state: State, actions: torch.Tensor):
        """``play`` every game, then auto-reset: games that ended start again from ``init``.
        Returns ``(state, reward, done)``, reward/done as ``play``'s (of the move, before the reset)."""
        ...

    def reset_where(self, state: State, done: torch.Tensor) -> State:
        """The games flagged in ``done`` (bool [N]) back at the starting position."""
        ...

    def legal_mask(self, state: State) -> torch.Tensor:
        """bool [N, A]: the legal actions of the side to move (all False in a finished game
        only where the game has no move at all; callers never act in finished games)."""
        ...

    def observe(self, state: State, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """obs [N, *observation_shape] of ``dtype`` (0/1 planes): the network's input, from the
        side to move's view (plane 0 its pieces, plane 1 the opponent's)."""
        ...

    def from_observation(self, obs: torch.Tensor) -> State:
        """The positions drawn by ``observe`` (obs [N, *observation_shape], any 0/1 dtype):
        its inverse, for agents given observations that search on states (``load_agent``)."""
        ...

    features: tuple[str, ...]  # network input encodings the game offers, 'planes' first

    def encode(self, state: State, features: str = "planes") -> torch.Tensor:
        """float32 [N, feature_planes(features), H, W]: network input; ``'planes'`` is
        ``observe(state)``, other names are the game's own (Connect4's ``'threats'``)."""
        ...

    def feature_planes(self, features: str = "planes") -> int:
        """The number of input planes of ``encode(state, features)``."""
        ...

    def ply(self, state: State) -> torch.Tensor:
        """int64 [N]: moves made since the start of the game (Connect4: stones on the board;
        a game may leave passes uncounted). Openings and temperature schedules count with it."""
        ...

    def to_move(self, state: State) -> torch.Tensor:
        """int64 [N]: who moves, 0 = the player who moved first in the game, 1 = the other."""
        ...

    def random_actions(self, state: State) -> torch.Tensor:
        """int64 [N]: a uniformly random legal action per game, from this object's stream (0 where
        there is none)."""
        ...

    def env_step(self, state: State, actions: torch.Tensor):
        """The env API's fused step: ``play`` + auto-reset + ``observe`` (of the env's obs dtype).
        Returns ``(state, obs, reward, done, illegal)``. The numba backend may update ``state``'s
        tensors in place and return obs/reward/done/illegal in buffers the next call reuses."""
        ...

    def fused_minibatch(self, replay, features: str, gamma: float):
        """Optional fast path of the DQN minibatch (``src.agents.minibatch``) for this game's
        replay ring, or None for the generic torch one (a new game returns None)."""
        ...

    def numba_rules(self) -> NumbaRules:
        """The per-game njit functions of the numba search (see ``NumbaRules``)."""
        ...

    def render(self, state: State, i: int = 0) -> str:
        """Game ``i``'s board as text for ``play`` (several lines, no trailing newline), drawn
        with the first player as ``X`` and the second as ``O``, with the action labels."""
        ...

    def parse_action(self, text: str) -> int | None:
        """The action a human typed (e.g. Connect4 ``'4'`` -> 3, Othello ``'d3'`` -> 19, ``'pass'`` -> 64),
        or None if it names none. Legality is the caller's check (``legal_mask``)."""
        ...

    def action_name(self, action: int) -> str:
        """How ``parse_action`` would spell ``action`` (the inverse)."""
        ...

    move_help: str  # what a human may type for a move, for ``play``'s prompt (Connect4 '1-7')

    def read_move(self, text: str, legal: Sequence[bool]) -> int | str:
        """The legal action a human typed (``text`` stripped, not empty; ``legal`` the side to
        move's ``legal_mask`` row), or one short line naming what is wrong with it (not a move,
        off the board, not legal here) for ``play`` to print before asking again."""
        ...

    def with_seed(self, seed: int | None) -> "Game":
        """The same game (params, device, backend) with its own random stream seeded by ``seed``."""
        ...

    def state_dict(self) -> dict:
        """The random stream's state."""
        ...

    def load_state_dict(self, state: dict) -> None: ...


@dataclass(frozen=True)
class GameEntry:
    """One registered game (``src.games.GAMES[game_id]``).

    ``make(device, backend, seed, compile, obs_dtype, **params) -> Game`` builds the rules
    object (``device`` a torch.device, ``backend`` 'torch' | 'numba' already resolved, ``seed``
    int | None of its random stream, ``compile`` whether the torch env step is
    ``torch.compile`` d, ``obs_dtype`` the torch dtype of ``env_step``'s observations).
    ``params``: the schema of ``game.params`` (the shared ``obs_dtype`` key is added by the
    config); ``check(params, key)``: checks across params, raising ConfigError naming ``key``.
    ``env_cls``: the batched env class ``make_game`` returns (``src.games.env.BatchedGame`` or a
    subclass with the game's own conveniences). ``opponents``: the opponent names (spec names
    of ``src.opponents``) that play this game; ``extras``: game-only measures (``'accuracy'``).
    Asked for anything the game lacks (an opponent, a feature set, an extra), the config
    check fails with one line naming the key.
    """
    game_id: str
    make: Callable[..., Game]
    params: Schema
    env_cls: type
    check: Callable[[dict, str], None] | None = None
    opponents: tuple[str, ...] = ("random",)  # opponent names (src.opponents) that play this game
    extras: frozenset[str] = field(default_factory=frozenset)  # e.g. 'accuracy' (solver-judged measure)
    # the game's own opponents: make_opponent(name, params, game, device, backend, seed) -> an
    # object with act(*state, active=None) -> int64 [N], spec, on_host, state_dict/load_state_dict;
    # None: only 'random' (from Game.random_actions), or Connect4's kernel opponents for Connect4
    make_opponent: Callable[..., Any] | None = None
    # the params of the game whose observations have this shape (checkpoints written before
    # they recorded their game); None: the shape does not tell
    params_for_shape: Callable[[tuple[int, ...]], dict] | None = None
    # the game with these (filled) params in a message, e.g. '6x7 boards'; None: the id and params
    describe: Callable[[dict], str] | None = None
    # a warning to print once before training with these (filled) params, else None
    warning: Callable[[dict], str | None] | None = None


def shown_input(text: str, limit: int = 40) -> str:
    """``text`` to echo back in a message: itself, or its first ``limit`` characters and its length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# -- generic helpers over states: the engine's only operations on a game's words ---------------

def index_state(state: State, idx: Any) -> State:
    """The positions ``state[idx]`` (idx: int64 [M] or bool [N] or a slice) of every field."""
    return type(state)(*(w[idx] for w in state))


def where_state(cond: torch.Tensor, a: State, b: State) -> State:
    """Per game, ``a`` where ``cond`` (bool [N]) else ``b``."""
    return type(a)(*(torch.where(cond, x, y) for x, y in zip(a, b)))


def clone_state(state: State) -> State:
    return type(state)(*(w.clone() for w in state))


def stack_words(state: State) -> torch.Tensor:
    """int64 [N, W]: the fields side by side (W = number of fields, in field order)."""
    return torch.stack(tuple(state), dim=1)


def unstack_words(state_cls: type, words: torch.Tensor) -> State:
    """The ``state_cls`` of int64 words [N, W] (``stack_words``'s inverse)."""
    return state_cls(*(w.contiguous() for w in words.unbind(1)))


def state_to(state: State, device: torch.device | str) -> State:
    return type(state)(*(w.to(device, torch.int64).contiguous() for w in state))


def uniform_legal(legal: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """int64 [N]: a uniformly random legal action per row of ``legal`` (bool [N, A]), 0 where none,
    from ``generator`` (one ``torch.rand`` [N, A] draw; the argmax of the legal entries' uniforms)."""
    u = torch.rand(legal.shape, device=legal.device, generator=generator)
    return torch.where(legal, u + 1.0, 0.0).argmax(dim=1)


def symmetry_tables(game: Game, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(perm, inverse)`` int64 [K, A]: ``perm[k, a]`` the image of action ``a`` under symmetry
    ``k``; ``inverse[k]`` its inverse permutation (``policy.gather(1, inverse[k])`` maps a
    per-action tensor)."""
    # built once per game object and device: no host-to-device copy per minibatch
    cache = game.__dict__.setdefault("_symmetry_tables", {})
    key = str(torch.device(device))
    if key not in cache:
        perm = torch.tensor([s.actions for s in game.symmetries], dtype=torch.int64, device=device)
        cache[key] = (perm, perm.argsort(dim=1))
    return cache[key]


def draw_symmetries(batch: int, count: int, device, generator: torch.Generator | None) -> torch.Tensor:
    """int64 [batch]: a uniform symmetry index in ``range(count)`` per sample, from one
    ``torch.rand`` draw: ``count - 1 - floor(count * u)`` (for 2 symmetries: the mirror where
    ``u < 0.5``, the draw the engine has always used)."""
    return symmetries_from_uniform(torch.rand((batch,), device=device, generator=generator), count)


def symmetries_from_uniform(u: torch.Tensor, count: int) -> torch.Tensor:
    """``draw_symmetries`` from its uniform draw ``u`` (float [B]): int64 [B] in ``range(count)``."""
    return count - 1 - (u * count).long().clamp(max=count - 1)


def apply_symmetries(game: Game, k: torch.Tensor, obs: Sequence[torch.Tensor] = (),
                     actions: Sequence[torch.Tensor] = (), per_action: Sequence[torch.Tensor] = ()):
    """Apply symmetry ``k[b]`` (int64 [B]) to sample ``b`` of each tensor. ``obs``: [B, C, H, W];
    ``actions``: int64 [B]; ``per_action``: [B, A] (policies, legal masks: entry ``a`` moves to
    the image of ``a``). Returns ``(obs, actions, per_action)`` as lists. Selection only (no
    arithmetic), so a sample with the identity is returned unchanged bit for bit."""
    sym = game.symmetries
    perm, inv = symmetry_tables(game, k.device)
    out_obs = []
    for x in obs:
        y = x
        for j in range(1, len(sym)):
            y = torch.where((k == j).view(-1, *([1] * (x.dim() - 1))), sym[j].transform(x), y)
        out_obs.append(y)
    out_actions = [perm[k, a] for a in actions]
    out_per = [p.gather(1, inv[k]) for p in per_action]
    return out_obs, out_actions, out_per
