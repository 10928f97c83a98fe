"""The AlphaZero policy/value network: a residual conv tower with a policy and a value head."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from src.agents.networks import FEATURES, threat_planes


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # in place on the convolutions' fresh outputs (their backward needs only their inputs):
        # fewer allocations, the same function
        return F.relu(self.conv2(F.relu(self.conv1(x), inplace=True)).add_(x), inplace=True)


class PolicyValueNet(nn.Module):
    """obs float32 [N, 2 (or 5 with 'threats'), rows, cols] -> (logits float32 [N, cols],
    value float32 [N] in (-1, 1), for the side to move).

    A 3x3 conv stem to ``channels``, ``blocks`` residual blocks (two 3x3 convs each), then a
    policy head (1x1 conv to 2 planes, linear to one logit per column) and a value head (1x1
    conv to ``value_planes`` planes, 1 in AlphaZero's, a hidden layer of ``value_hidden``, tanh).
    No batch norm: acting and learning use the same function, and frozen copies need no
    statistics.
    """

    def __init__(self, observation_shape: tuple[int, int, int], num_actions: int, channels: int = 32,
                 blocks: int = 2, features: str = "planes", value_hidden: int = 64, reply_head: bool = False,
                 value_planes: int = 1):
        super().__init__()
        if features not in FEATURES:
            raise ValueError(f"unknown features {features!r}; expected one of {', '.join(FEATURES)}")
        self.features = features
        _, rows, cols = observation_shape
        c_in = 5 if features == "threats" else 2
        self.stem = nn.Conv2d(c_in, channels, 3, padding=1)
        self.tower = nn.Sequential(*[ResidualBlock(channels) for _ in range(blocks)])
        self.policy_conv = nn.Conv2d(channels, 2, 1)
        self.policy_fc = nn.Linear(2 * rows * cols, num_actions)
        self.value_conv = nn.Conv2d(channels, value_planes, 1)
        self.value_fc1 = nn.Linear(value_planes * rows * cols, value_hidden)
        self.value_fc2 = nn.Linear(value_hidden, 1)
        if reply_head:  # an auxiliary policy head: the opponent's reply (its search's policy at the next ply)
            self.reply_conv = nn.Conv2d(channels, 2, 1)
            self.reply_fc = nn.Linear(2 * rows * cols, num_actions)
        self.reply_head = reply_head

    def forward(self, obs: torch.Tensor, reply: bool = False):
        """(logits, value); with ``reply`` (a network built with ``reply_head``) also the reply
        head's logits float32 [N, A], the opponent's move in the position after this one."""
        if self.features == "threats" and obs.shape[1] == 2:  # 5-plane input is already expanded
            obs = threat_planes(obs)
        if obs.device.type == "cpu":  # oneDNN's CPU convolutions run about 1.3x faster on NHWC
            obs = obs.contiguous(memory_format=torch.channels_last)  # (benchmarks/RESULTS.md)
        x = self.tower(F.relu(self.stem(obs), inplace=True))
        logits = self.policy_fc(F.relu(self.policy_conv(x)).flatten(1))
        v = F.relu(self.value_fc1(F.relu(self.value_conv(x)).flatten(1)))
        value = torch.tanh(self.value_fc2(v)).squeeze(1)
        if reply:
            return logits, value, self.reply_fc(F.relu(self.reply_conv(x)).flatten(1))
        return logits, value
