"""The README's Gymnasium and PettingZoo examples run as written, each in a fresh interpreter."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Use the engine from Gymnasium / PettingZoo"


def readme_examples() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION):]
    section = section[:section.index("\n## ", len(SECTION))]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_section_has_a_gymnasium_and_a_pettingzoo_example():
    examples = readme_examples()
    assert len(examples) == 2
    assert "gym.make_vec(" in examples[0] and "connect4_aec_env()" in examples[1]


@pytest.mark.parametrize("index, needs", [(0, "gymnasium"), (1, "pettingzoo")])
def test_readme_example_runs_as_written(index, needs):
    pytest.importorskip(needs)
    out = subprocess.run([sys.executable, "-c", readme_examples()[index]], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    expected = "one game against heuristic, reward" if index == 0 else "final rewards"
    assert expected in out.stdout
