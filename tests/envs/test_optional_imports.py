"""``import src.envs`` works without the optional libraries; what needs one says how to install it."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys

    for name in ("gymnasium", "pettingzoo"):  # as if not installed: import fails, find_spec is None
        sys.modules[name] = None
    import src.envs
    for make in (src.envs.connect4_aec_env, lambda: src.envs.Connect4Env, lambda: src.envs.Connect4VectorEnv):
        try:
            make()
        except ImportError as e:
            print(e)
""")


def test_import_without_gymnasium_and_pettingzoo_succeeds_and_names_the_extras_to_install():
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "pettingzoo is not installed; install it with: pip install -e '.[pettingzoo]'",
        "gymnasium is not installed; install it with: pip install -e '.[gym]'",
        "gymnasium is not installed; install it with: pip install -e '.[gym]'",
    ]
