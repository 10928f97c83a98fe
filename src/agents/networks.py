"""Q-networks over observation planes [N, 2, rows, cols]."""
from __future__ import annotations

import torch
from torch import nn


class QNetwork(nn.Module):
    """Optional 3x3 conv layers, then dense layers, then one Q-value per column.

    obs: float32 [N, 2, rows, cols] -> q: float32 [N, num_actions].
    """

    def __init__(self, observation_shape: tuple[int, int, int], num_actions: int,
                 hidden_sizes: list[int], conv_channels: list[int]):
        super().__init__()
        c, rows, cols = observation_shape
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
        return self.body(obs)
