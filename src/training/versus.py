"""Agent-vs-opponent play on a batch of games, from the agent's side.

The exposed position of every game always has the agent to move. ``step(actions)`` plays the
agent's moves, lets each game's opponent reply, resets finished games (the one auto-reset of
this loop, ``_start_games``) and, where the opponent starts a new game, plays its first move.
Rewards are from the agent's side: +1 win, -1 loss (or an illegal agent move), 0 draw or ongoing.
"""
from __future__ import annotations

import torch

from src.games.backends import seeded_generator
from src.games.env import BatchedGame
from src.games.protocol import clone_state


class Versus:
    def __init__(self, game: BatchedGame, opponents, start_policy: str = "random", seed: int | None = None,
                 on_game_end=None, compile: bool = False):
        """``game`` is the batched env (its ``state`` is played here; its ``game`` gives the rules).
        ``opponents`` is an ``OpponentSampler`` (``src.opponents.samplers``): ``act(*state,
        active=...)``, ``on_new_games`` (called before a new game's first move) and ``on_game_end``.
        ``on_game_end(done, reward)``, if given, is called too, before finished games restart
        (the learner's hook: AlphaZero assigns game outcomes there). ``compile``: ``step`` goes
        through torch.compile (for games on the torch backend: the rules, the replies and the
        restarts as a few generated kernels; random draws stay eager, from the same streams in the
        same order, so the results are the eager step's bit for bit)."""
        self.game = game
        self.rules = game.game
        self.opponents = opponents
        self.start_policy = start_policy
        self.num_envs = game.num_envs
        self.device = game.device
        self.generator = seeded_generator(self.device, seed)
        self.agent_first = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self.listener = on_game_end
        self._step = torch.compile(self._play_step, dynamic=False) if compile else self._play_step

    @property
    def state(self):
        """The agent's current positions (the game's ``State``)."""
        return self.game.state

    def __getattr__(self, name: str):
        # the state's words by name (``versus.cur`` for Connect4), for tests and tools
        state = self.__dict__.get("game").state if "game" in self.__dict__ else None
        if state is not None and name in type(state)._fields:
            return getattr(state, name)
        raise AttributeError(name)

    def reset(self) -> None:
        for w, z in zip(self.game.state, self.rules.init(self.num_envs)):
            w.copy_(z)
        self._start_games(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))

    def start_from(self, state) -> None:
        """Like ``reset``, from the given running positions (the game's ``State``) instead of the
        start: the seats are chosen, and where the opponent starts it plays its first move from there."""
        self.game.state = clone_state(state)
        self._start_games(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))

    def legal_mask(self) -> torch.Tensor:
        """bool [N, A] of the agent's current positions."""
        return self.rules.legal_mask(self.game.state)

    def observe(self) -> torch.Tensor:
        """float32 [N, *observation_shape] of the agent's current positions."""
        return self.rules.observe(self.game.state)

    def _start_games(self, new: torch.Tensor) -> None:
        """Start fresh games where ``new``: choose the seat, then the opponent's first move."""
        if self.start_policy == "agent_first":
            opp_first = torch.zeros_like(new)
        elif self.start_policy == "opponent_first":
            opp_first = new.clone()
        else:
            coin = torch.rand(new.shape, device=self.device, generator=self.generator) < 0.5
            opp_first = new & coin
        self.agent_first = torch.where(new, ~opp_first, self.agent_first)
        self.opponents.on_new_games(new)
        state = self.game.state
        replies = self.opponents.act(*state, active=opp_first)
        self.game.state = self.rules.play(state, replies, opp_first)[0]

    def step(self, actions: torch.Tensor, timer=None) -> dict[str, torch.Tensor]:
        """Play the agent's ``actions`` (int64 [N]); returns the transitions of this step: the
        position the agent moved from (one key per state word, e.g. ``cur``/``mask``), action,
        reward, done, the agent's next position before any reset (``next_`` + each word), plus
        ``agent_first`` of each game and ``agent_ended`` (bool [N]: the agent's own move ended the game)."""
        return self._step(actions, timer)

    def _play_step(self, actions: torch.Tensor, timer=None) -> dict[str, torch.Tensor]:
        state = self.game.state
        s1, r1, d1, _ = self.rules.play(state, actions)
        with _section(timer, "opponents"):
            replies = self.opponents.act(*s1, active=~d1)
        s2, r2, d2, _ = self.rules.play(s1, replies, ~d1)
        reward = torch.where(d1, r1, -r2)
        done = d1 | d2
        fields = state._fields
        out = {**dict(zip(fields, state)), "action": actions, "reward": reward, "done": done,
               **{f"next_{f}": w for f, w in zip(fields, s2)}, "agent_first": self.agent_first,
               "agent_ended": d1}
        self.opponents.on_game_end(done, reward)
        if self.listener is not None:
            self.listener(done, reward)
        self.game.state = self.rules.reset_where(s2, done)
        with _section(timer, "opponents"):
            self._start_games(done)
        return out

    def state_dict(self) -> dict:
        return {"game": self.game.state_dict(), "generator": self.generator.get_state(),
                "agent_first": self.agent_first.clone()}

    def load_state_dict(self, state: dict) -> None:
        self.game.load_state_dict(state["game"])
        self.generator.set_state(state["generator"])
        self.agent_first = state["agent_first"].to(self.device)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _section(timer, name):
    return timer.section(name) if timer is not None else _Null()
