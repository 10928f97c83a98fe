"""Q-networks over observation planes [N, 2, rows, cols]."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FEATURES = ("planes", "threats")
_DIRECTIONS = ((0, 1), (1, 0), (1, 1), (1, -1))


def win_cells(stones: torch.Tensor, empty: torch.Tensor) -> torch.Tensor:
    """float [B, rows, cols]: empty cells where ``stones`` (0/1 [B, rows, cols]) would complete
    four in a row in some direction (whether or not the cell is playable yet).

    For each direction, ``s(j)`` is the plane shifted j cells along it; a cell completes a four
    if the three other cells of one of the four windows through it hold stones:
    s(1)s(2)s(3), s(-1)s(1)s(2), s(-2)s(-1)s(1) or s(-3)s(-2)s(-1) (shared pair products)."""
    rows, cols = stones.shape[-2:]
    padded = F.pad(stones, (3, 3, 3, 3))
    found = torch.zeros_like(stones)
    for dr, dc in _DIRECTIONS:
        def s(j: int) -> torch.Tensor:
            return padded[:, 3 + j * dr:3 + j * dr + rows, 3 + j * dc:3 + j * dc + cols]

        ahead, behind = s(1) * s(2), s(-1) * s(-2)
        found = torch.maximum(found, torch.maximum(torch.maximum(ahead * s(3), ahead * s(-1)),
                                                   torch.maximum(behind * s(1), behind * s(-3))))
    return found * empty


def threat_planes(obs: torch.Tensor) -> torch.Tensor:
    """[B, 5, rows, cols] from [B, 2, rows, cols]: the two stone planes, the playable cells
    (empty with a stone or the floor below), and the cells where the side to move / the other
    side would complete four. Fixed arithmetic, no parameters: the network still learns what
    to do with them."""
    own, opp = obs[:, 0], obs[:, 1]
    occupied = own + opp
    empty = 1.0 - occupied
    below = F.pad(occupied, (0, 0, 1, 0), value=1.0)[:, :-1, :]  # row 0 (bottom) rests on the floor
    both = win_cells(torch.cat((own, opp)), torch.cat((empty, empty)))  # one conv for both sides
    b = own.shape[0]
    return torch.stack((own, opp, empty * below, both[:b], both[b:]), dim=1)


class QNetwork(nn.Module):
    """Optional input features, optional 3x3 conv layers, dense layers, one Q-value per column.

    obs: float32 [N, 2, rows, cols] -> q: float32 [N, num_actions]. ``features="threats"``
    first expands the planes with ``threat_planes``, unless given the 5 planes already (the
    trainer builds them from bitboards: ``kernels.connect4_torch.feature_planes``).
    """

    def __init__(self, observation_shape: tuple[int, int, int], num_actions: int,
                 hidden_sizes: list[int], conv_channels: list[int], features: str = "planes"):
        super().__init__()
        if features not in FEATURES:
            raise ValueError(f"unknown features {features!r}; expected one of {', '.join(FEATURES)}")
        self.features = features
        c, rows, cols = observation_shape
        if features == "threats":
            c = 5
        layers: list[nn.Module] = []
        for ch in conv_channels:
            layers += [nn.Conv2d(c, ch, kernel_size=3, padding=1), nn.ReLU()]
            c = ch
        layers.append(nn.Flatten())
        width = c * rows * cols
        for h in hidden_sizes:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, num_actions))
        self.body = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.features == "threats" and obs.shape[1] == 2:  # 5-plane input is already expanded
            obs = threat_planes(obs)
        return self.body(obs)
