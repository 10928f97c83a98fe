"""The engine above ``src/games/`` sees a game only through the ``Game`` protocol: an AST scan of
``src/`` finds no module outside the Connect4 package (and the Connect4-only modules listed
below) that names Connect4's state words or board size, or imports its kernels."""
from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"

# Connect4's state words and board size, as attributes, keyword arguments, parameters or dict keys
WORDS = {"cur", "mask", "rows", "cols", "next_cur", "next_mask"}
PARAMETERS = {"cur", "rows", "cols", "next_cur", "next_mask"}  # 'mask' alone is a common word (action masks)
CONNECT4_NAMES = {"Geometry", "BatchedConnect4", "C4State", "geometry"}
CONNECT4_MODULES = ("kernels.connect4_numba", "kernels.connect4_torch", "kernels.geometry", "kernels.opponents_numba",
                    "kernels.opponents_torch", "kernels.minibatch_numba", "src.games.connect4")

# Connect4-only pieces, each named once: they say so when asked for on another game
CONNECT4_ONLY = {
    "games/connect4",               # the package: rules, env, backend adapters, fused minibatch
    "opponents/base.py",            # kernel opponents over Connect4 bitboards (heuristics, search:D)
    "opponents/heuristics.py",
    "opponents/solver.py",          # the bitbully solver opponents (6x7)
    "opponents/spec.py",            # opponent specs build the Connect4 opponents
    "training/accuracy.py",         # the solver-judged accuracy measure
    "training/pons.py",             # Pascal Pons' Connect4 benchmark positions, judged by the solver
    "web",                          # play --web draws a 6x7 Connect4 board
    "envs/connect4_gym.py",         # Connect4Env / Connect4VectorEnv: rows, cols keyword arguments
    "envs/connect4_pettingzoo.py",  # connect_four_v3's observations
}

# imports of the Connect4 package that generic modules need, and why
ALLOWED_IMPORTS = {
    ("games/__init__.py", "src.games.connect4"),  # the registry registers the game packages
    ("games/backends.py", "src.games.connect4"),  # make_ops, kept importable from its old place
}


def _connect4_only(path: Path) -> bool:
    rel = path.relative_to(SRC).as_posix()
    return any(rel == p or rel.startswith(p + "/") for p in CONNECT4_ONLY)


def offences(tree: ast.AST, rel: str = "") -> list[str]:
    found = []
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute) and node.attr in WORDS | {"geometry"}:
            found.append(f"{where}: attribute .{node.attr}")
        elif isinstance(node, ast.keyword) and node.arg in WORDS:
            found.append(f"{where}: keyword {node.arg}=")
        elif isinstance(node, ast.arg) and node.arg in PARAMETERS:
            found.append(f"{where}: parameter {node.arg}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in WORDS:
            found.append(f"{where}: string {node.value!r}")  # a dict key, a .get(), a field name
        elif isinstance(node, ast.Name) and node.id in CONNECT4_NAMES - {"geometry"}:
            found.append(f"{where}: name {node.id}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if isinstance(node, ast.ImportFrom):
                names += [f"{node.module}.{a.name}" for a in node.names]
            for name in names:
                allowed = any(rel == m and name.startswith(prefix) for m, prefix in ALLOWED_IMPORTS)
                if name.startswith(CONNECT4_MODULES) and not allowed:
                    found.append(f"{where}: import {name}")
    return found


def scan() -> dict[str, list[str]]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        if _connect4_only(path):
            continue
        rel = path.relative_to(SRC).as_posix()
        hits = offences(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), rel)
        if hits:
            out[rel] = hits
    return out


def test_no_module_outside_connect4_names_its_state_words_board_size_or_kernels():
    assert scan() == {}


def test_the_scan_finds_what_it_looks_for():
    src = '''
from kernels.geometry import Geometry
def f(game, cur):
    game.cur, x = game.mask, batch["next_mask"]
    return make(rows=6), g.cols
'''
    hits = offences(ast.parse(src))
    assert len(hits) == 8, hits  # import, name, parameter, .cur, .mask, 'next_mask', rows=, .cols
    assert offences(ast.parse("def g(legal_mask, action_mask): return legal_mask & action_mask")) == []


def test_the_connect4_only_list_names_existing_modules():
    for p in CONNECT4_ONLY:
        assert (SRC / p).exists(), p
