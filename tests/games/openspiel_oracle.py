"""One move of the env's random games and of their OpenSpiel twins, for the oracle tests."""
from __future__ import annotations

import numpy as np


def step_both(env, spiel: list, game, movers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Play one ``env.sample_actions()`` move in every env game and in its OpenSpiel state
    (``spiel[i]``, of the pyspiel ``game``); check that no move is illegal, that the same
    games end, and that each ended game's reward is OpenSpiel's return of the mover
    (``movers`` int64 [N]: who moved, 0 = the first player). Finished OpenSpiel states are
    replaced by new games (the env resets its own). Returns the actions int64 [N] and done bool [N]."""
    actions = env.sample_actions()
    a = actions.cpu().numpy().copy()
    _, reward, done, info = env.step(actions)
    reward, done = reward.cpu().numpy().copy(), done.cpu().numpy().copy()
    assert not info["illegal"].cpu().numpy().any()
    for i, s in enumerate(spiel):
        s.apply_action(int(a[i]))
        assert s.is_terminal() == done[i], i
        if done[i]:
            assert reward[i] == s.returns()[movers[i]], (i, reward[i], s.returns())
            spiel[i] = game.new_initial_state()
    return a, done
