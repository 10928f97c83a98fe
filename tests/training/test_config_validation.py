"""Every config error is a ConfigError naming its key, raised by ``load_config`` before anything
is written (a few go through the real CLI in test_cli.py)."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from src.training.config import load_config
from src.config.schema import ConfigError
from tests.training.helpers import merge, tiny_config, without, write_config


def pool(**params) -> dict:
    base = {"self_play": {"start_episode": 0, "current_self_fraction": 0.2, "past_self_fraction": 0.3,
                          "max_frozen_agents": 2, "save_every": 100},
            "heuristic_distribution": {"random": 0.5, "heuristic": 0.5}}
    return tiny_config(train={"opponent_sampler": {"type": "pool", "params": merge(base, params)}})


AP = "agent.params"
# (id, raw config, key named by the error, words the message must contain)
CASES = [
    ("missing game", without(tiny_config(), "game"), "game", "required"),
    ("missing agent", without(tiny_config(), "agent"), "agent", "required"),
    ("missing train", without(tiny_config(), "train"), "train", "required"),
    ("missing opponent_sampler", without(tiny_config(), "train.opponent_sampler"), "train.opponent_sampler", "required"),
    ("missing game id", without(tiny_config(), "game.id"), "game.id", "required"),
    ("top-level typo suggests train", {**without(tiny_config(), "train"), "trian": tiny_config()["train"]},
     "trian", "did you mean 'train'"),
    ("nested typo suggests learning_rate", tiny_config(agent={"params": {"learnig_rate": 0.1}}),
     f"{AP}.learnig_rate", "did you mean 'learning_rate'"),
    ("typo in component keys suggests params", {**tiny_config(), "agent": {"id": "dqn", "param": {}}},
     "agent.param", "did you mean 'params'"),
    ("sampler seed at the wrong level", tiny_config(train={"opponent_sampler": {"type": "random", "seed": 1}}),
     "train.opponent_sampler.seed", "unknown key"),
    ("learning_rate not a number", tiny_config(agent={"params": {"learning_rate": "fast"}}),
     f"{AP}.learning_rate", "must be a number"),
    ("total_steps not an integer", tiny_config(train={"total_steps": 1.5}), "train.total_steps", "must be an integer"),
    ("total_steps boolean", tiny_config(train={"total_steps": True}), "train.total_steps", "must be an integer"),
    ("hidden size zero", tiny_config(agent={"params": {"hidden_sizes": [0]}}), f"{AP}.hidden_sizes[0]", "positive integer"),
    ("hidden sizes not a list", tiny_config(agent={"params": {"hidden_sizes": 32}}), f"{AP}.hidden_sizes", "must be a list"),
    ("game not a mapping", {**tiny_config(), "game": "connect4"}, "game", "must be a mapping"),
    ("gamma above 1", tiny_config(agent={"params": {"gamma": 1.5}}), f"{AP}.gamma", "<= 1"),
    ("gamma nan", tiny_config(agent={"params": {"gamma": float("nan")}}), f"{AP}.gamma", "finite"),
    ("negative epsilon", tiny_config(agent={"params": {"epsilon": -0.1}}), f"{AP}.epsilon", ">= 0"),
    ("epsilon_min above epsilon", tiny_config(agent={"params": {"epsilon": 0.1, "epsilon_min": 0.5}}),
     f"{AP}.epsilon_min", "must not exceed epsilon"),
    ("total_steps zero", tiny_config(train={"total_steps": 0}), "train.total_steps", ">= 1"),
    ("num_envs zero", tiny_config(train={"num_envs": 0}), "train.num_envs", ">= 1"),
    ("batch larger than replay", tiny_config(agent={"params": {"batch_size": 600, "replay_buffer_size": 512}}),
     f"{AP}.batch_size", "must not exceed replay_buffer_size"),
    ("board 8x8 does not fit", tiny_config(game={"params": {"rows": 8, "cols": 8}}), "game.params", "does not fit"),
    ("zero rows", tiny_config(game={"params": {"rows": 0}}), "game.params.rows", ">= 1"),
    ("negative cols", tiny_config(game={"params": {"cols": -1}}), "game.params.cols", ">= 1"),
    ("unknown obs dtype", tiny_config(game={"params": {"obs_dtype": "float16"}}), "game.params.obs_dtype",
     "must be one of float32, uint8, bool"),
    ("num_actions disagrees with the board", tiny_config(agent={"params": {"num_actions": 6}}),
     f"{AP}.num_actions", "7 actions"),
    ("unknown game id", tiny_config(game={"id": "connect5"}), "game.id", "did you mean 'connect4'"),
    ("unknown agent id", tiny_config(agent={"id": "dqm"}), "agent.id", "did you mean 'dqn'"),
    ("unknown sampler type", tiny_config(train={"opponent_sampler": {"type": "pol"}}),
     "train.opponent_sampler.type", "did you mean 'pool'"),
    ("unknown callback type", tiny_config(train={"callbacks": [{"type": "checkpont"}]}),
     "train.callbacks[0].type", "did you mean 'checkpoint'"),
    ("callback not a mapping", tiny_config(train={"callbacks": ["checkpoint"]}), "train.callbacks[0]", "mapping"),
    ("callback enabled not a boolean", tiny_config(train={"callbacks": [{"type": "lr_decay", "enabled": "yes"}]}),
     "train.callbacks[0].enabled", "true or false"),
    ("checkpoint callback disabled", tiny_config(train={"callbacks": [{"type": "checkpoint", "enabled": False}]}),
     "train.callbacks[0].enabled", "cannot be disabled"),
    ("accuracy on a 5x6 board", tiny_config(game={"params": {"rows": 5, "cols": 6}}, eval={"accuracy": 100}),
     "eval.accuracy", "6x7 boards only; this board is 5x6"),
    ("perfect eval opponent on a 5x6 board", tiny_config(game={"params": {"rows": 5, "cols": 6}},
                                                         eval={"opponents": ["random", "perfect"]}),
     "eval.opponents[1]", "6x7 boards only"),
    ("solver depth out of range", tiny_config(eval={"opponents": ["solver:50"]}), "eval.opponents[0]",
     "solver depth must be an integer from 1 to 42"),
    ("negative accuracy", tiny_config(eval={"accuracy": -1}), "eval.accuracy", ">= 0"),
    ("no eval opponents and no accuracy", tiny_config(eval={"opponents": []}), "eval.opponents", "at least one"),
    ("unknown callback param", tiny_config(train={"callbacks": [{"type": "checkpoint", "params": {"intervall": 5}}]}),
     "train.callbacks[0].params.intervall", "did you mean 'interval'"),
    ("checkpoint interval zero", tiny_config(train={"callbacks": [{"type": "checkpoint", "params": {"interval": 0}}]}),
     "train.callbacks[0].params.interval", ">= 1"),
    ("bad start_policy", tiny_config(train={"start_policy": "agent_frist"}), "train.start_policy",
     "did you mean 'agent_first'"),
    ("bad epsilon_decay every", tiny_config(train={"callbacks": [
        {"type": "checkpoint"}, {"type": "epsilon_decay", "params": {"every": "batch"}}]}),
     "train.callbacks[1].params.every", "step, episode"),
    ("lr decay factor zero", tiny_config(train={"callbacks": [{"type": "lr_decay", "params": {"decay_factor": 0}}]}),
     "train.callbacks[0].params.decay_factor", "> 0"),
    ("bad device name", tiny_config(agent={"params": {"device": "tpu"}}), f"{AP}.device", "'cpu', 'cuda'"),
    ("pool without a top-level seed", {k: v for k, v in pool().items() if k != "seed"}, "seed", "requires a top-level seed"),
    ("pool fraction above 1", pool(self_play={"current_self_fraction": 1.5}),
     "train.opponent_sampler.params.self_play.current_self_fraction", "<= 1"),
    ("pool fractions sum above 1", pool(self_play={"current_self_fraction": 0.6, "past_self_fraction": 0.6}),
     "train.opponent_sampler.params.self_play", "exceeds 1"),
    ("pool unknown opponent name", pool(heuristic_distribution={"heuristik": 1.0}),
     "train.opponent_sampler.params.heuristic_distribution.heuristik", "did you mean 'heuristic'"),
    ("pool negative weight", pool(heuristic_distribution={"random": -1}),
     "train.opponent_sampler.params.heuristic_distribution.random", "non-negative"),
    ("pool all weights zero", pool(heuristic_distribution={"random": 0, "heuristic": 0}),
     "train.opponent_sampler.params.heuristic_distribution", "not all be zero"),
    ("pool unknown self_play key", pool(self_play={"save_evry": 10}),
     "train.opponent_sampler.params.self_play.save_evry", "did you mean 'save_every'"),
    ("eval unknown opponent", tiny_config(eval={"opponents": ["randon"]}), "eval.opponents[0]", "did you mean 'random'"),
    ("eval games zero", tiny_config(eval={"games": 0}), "eval.games", ">= 1"),
    ("eval missing checkpoint", tiny_config(eval={"opponents": ["random", "runs/nowhere/model_5.pt"]}),
     "eval.opponents[1]", "checkpoint not found"),
    ("eval no opponents", tiny_config(eval={"opponents": []}), "eval.opponents", "at least one"),
]


@pytest.mark.parametrize("raw, key, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_config_raises_config_error_naming_the_key(tmp_path, raw, key, words):
    path = write_config(tmp_path / "bad.yaml", raw)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.key == key
    assert words in str(err.value)
    assert str(err.value).startswith(f"config key '{key}': ")
    assert "\n" not in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]  # nothing written


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_solver_features_without_the_solver_name_the_install_line(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "bitbully.bitbully_core", None)  # as if bitbully were not installed
    for raw, key in [(tiny_config(eval={"accuracy": 50}), "eval.accuracy"),
                     (tiny_config(eval={"opponents": ["perfect"]}), "eval.opponents[0]"),
                     (pool(heuristic_distribution={"solver:3": 1.0}),
                      "train.opponent_sampler.params.heuristic_distribution.solver:3")]:
        with pytest.raises(ConfigError) as e:
            load_config(write_config(tmp_path / "c.yaml", raw))
        assert e.value.key == key and "pip install -e '.[solver]'" in str(e.value)


def test_pool_solver_opponent_on_a_5x6_board_is_a_config_error(tmp_path):
    raw = merge(pool(heuristic_distribution={"perfect": 1.0}), {"game": {"params": {"rows": 5, "cols": 6}}})
    with pytest.raises(ConfigError) as e:
        load_config(write_config(tmp_path / "c.yaml", raw))
    assert e.value.key == "train.opponent_sampler.params.heuristic_distribution.perfect"
    assert "6x7 boards only" in str(e.value)


def test_cuda_device_without_cuda_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path / "c.yaml", tiny_config(agent={"params": {"device": "cuda"}})))
    assert err.value.key == "agent.params.device" and "CUDA is not available" in str(err.value)


def test_lr_decay_optimizer_attr_the_agent_lacks_is_a_config_error(tmp_path):
    raw = tiny_config(train={"callbacks": [{"type": "lr_decay", "params": {"optimizer_attr": "optimiser"}}]})
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path / "c.yaml", raw))
    assert err.value.key == "train.callbacks[0].params.optimizer_attr"


# (id, file text, words the message must contain)
TEXT_CASES = [
    ("tab indentation", "game:\n\tid: connect4\n", "malformed YAML"),
    ("unclosed bracket", "game: {id: connect4, params: {rows: 6}\nagent: {id: dqn}\n", "malformed YAML"),
    ("empty file", "", "empty"),
    ("comments only", "# nothing here\n", "empty"),
    ("a list, not a mapping", "- game\n- agent\n", "must be a mapping"),
]


@pytest.mark.parametrize("text, words", [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES])
def test_unparseable_or_empty_file_is_a_config_error(tmp_path, text, words):
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_malformed_yaml_error_gives_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("seed: 1\ngame:\n\tid: connect4\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="line 3"):
        load_config(path)


def test_missing_file_and_directory_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not a file"):
        load_config(tmp_path)


def test_valid_config_gets_every_default_filled_in(tmp_path):
    raw = tiny_config()
    del raw["train"]["start_policy"], raw["agent"]["params"]["gamma"]
    raw["agent"]["params"]["learning_rate"] = "1e-3"  # PyYAML reads 1e-3 (no dot) as a string
    _, cfg = load_config(write_config(tmp_path / "ok.yaml", raw))
    assert cfg["train"]["start_policy"] == "random" and cfg["train"]["deterministic"] is False
    assert cfg["train"]["track_timings"] is False and cfg["agent"]["params"]["gamma"] == 0.99
    assert cfg["agent"]["params"]["learning_rate"] == 1e-3
    assert cfg["train"]["opponent_sampler"] == {"type": "random", "params": {"seed": 7}}  # falls back to seed
    assert cfg["eval"] is None


def test_load_config_returns_the_file_text_unchanged(tmp_path):
    text = "# a comment\n" + yaml.safe_dump(tiny_config(), sort_keys=False)
    path = tmp_path / "ok.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_config(path)[0] == text


def test_every_shipped_config_validates():
    configs = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))
    assert len(configs) >= 5
    for path in configs:
        _, cfg = load_config(path)
        assert cfg["agent"]["id"] in ("dqn", "alphazero"), path


@pytest.mark.parametrize("name", ["alphazero_connect4_gpu.yaml", "dqn_connect4_gpu.yaml"])
def test_gpu_configs_load_without_the_solver(name, monkeypatch):
    """The GPU machines have no bitbully: the GPU configs must not need it (issue 20)."""
    import sys

    monkeypatch.setitem(sys.modules, "bitbully.bitbully_core", None)  # as if bitbully were not installed
    _, cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / name)
    assert cfg["eval"]["accuracy"] == 0
