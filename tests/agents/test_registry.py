"""The trainer is agent-generic: it drives any registered Learner, and the packages below it
never import the training or CLI code."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch

from src.agents import AGENTS, AgentEntry
from src.config.schema import ConfigError, Field, Schema
from src.training.config import validate_config
from src.training.trainer import Trainer
from tests.training.helpers import REPO, tiny_config

LOWER = ["kernels", "src/config", "src/games", "src/agents", "src/opponents", "src/runs", "src/seeding.py"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_lower_packages_never_import_training_or_cli():
    files = []
    for part in LOWER:
        p = REPO / part
        files += [p] if p.is_file() else sorted(p.rglob("*.py"))
    assert len(files) > 20
    offenders = {str(f.relative_to(REPO)): sorted(m for m in imported_modules(f)
                                                  if m.startswith(("src.training", "src.cli")))
                 for f in files}
    assert {f: m for f, m in offenders.items() if m} == {}


def test_config_schema_package_imports_nothing_of_the_project():
    for f in (REPO / "src/config").rglob("*.py"):
        assert all(not m.startswith(("src.", "kernels")) or m.startswith("src.config") for m in imported_modules(f)), f


class UniformAgent:
    """A registered agent that plays uniformly at random and learns a single counter."""

    agent_id = "uniform"

    def __init__(self, seed):
        self.generator = torch.Generator().manual_seed(seed or 0)
        self.num_updates = 0

    def act(self, obs, legal_mask, deterministic=True):
        u = torch.rand(legal_mask.shape, generator=self.generator)
        return torch.where(legal_mask, u + 1, 0.0).argmax(1)

    def state_dict(self):
        return {"generator": self.generator.get_state(), "num_updates": self.num_updates}

    def load_state_dict(self, state):
        self.generator.set_state(state["generator"])
        self.num_updates = state["num_updates"]

    def checkpoint(self, extra=None):
        return {"agent_id": self.agent_id, "state": self.state_dict(), **(extra or {})}


class UniformLearner:
    def __init__(self, params, game, device, agent_seed, replay_seed):
        self.agent, self.game, self.seen = UniformAgent(agent_seed), game, 0

    def act(self, state, legal, deterministic):
        return self.agent.act(self.game.game.observe(state), legal, deterministic)

    def observe(self, batch):
        self.seen += int(batch["action"].shape[0])

    def on_game_end(self, done, reward):
        self.finished = getattr(self, "finished", 0) + int(done.sum())

    def learn(self):
        self.agent.num_updates += 1

    def status_fields(self):
        return {"updates": self.agent.num_updates, "learning_rate": None, "loss": None, "mean_q": None}

    def reset_report(self):
        pass

    def state_dict(self, include_replay=True):
        return {"agent": self.agent.state_dict(), "seen": self.seen}

    def load_state_dict(self, state):
        self.agent.load_state_dict(state["agent"])
        self.seen = state["seen"]


UNIFORM_PARAMS = Schema({
    "device": Field("str", None, "", nullable=True),
    "num_actions": Field("int", None, "", nullable=True),
    "action_space": Field("any", None, "", nullable=True),
    "observation_shape": Field("list", None, "", nullable=True),
})


@pytest.fixture
def uniform_registered(monkeypatch):
    monkeypatch.setitem(AGENTS, "uniform", AgentEntry(UniformAgent, UniformLearner, UNIFORM_PARAMS, optimizer_attrs=()))


def uniform_config(**sections):
    raw = tiny_config(**sections)
    raw["agent"] = {"id": "uniform", "params": {"device": "cpu"}}
    return raw


def test_the_trainer_drives_any_registered_learner(uniform_registered):
    cfg = validate_config(uniform_config(train={"total_steps": 160}))
    trainer = Trainer(cfg, progress=False)
    assert trainer.train() == "completed"
    assert isinstance(trainer.learner, UniformLearner) and trainer.learner.seen == 160
    assert trainer.learner.finished == int(trainer.episode_dev) > 0  # the game-end hook saw every game
    assert trainer.agent.num_updates == 10  # one learn() per batch step of 16 games
    assert trainer.last_status["epsilon"] is None and trainer.last_status["updates"] == 10
    state = trainer.state_dict()
    again = Trainer(cfg, progress=False)
    again.load_state_dict(state)
    assert again.step == 160 and again.learner.seen == 160


def test_callbacks_the_agent_cannot_take_are_config_errors(uniform_registered):
    with pytest.raises(ConfigError, match="has no epsilon to decay") as e:
        validate_config(uniform_config(train={"callbacks": [{"type": "epsilon_decay"}]}))
    assert e.value.key == "train.callbacks[0].type"
    with pytest.raises(ConfigError, match="has no optimizer attribute 'optimizer'"):
        validate_config(uniform_config(train={"callbacks": [{"type": "lr_decay"}]}))
