"""``play --web``'s server, driven directly over HTTP (http.client on 127.0.0.1): whole games checked
against stones dropped by hand, every kind of bad request (refused, game unchanged), separate
games per tab, take-backs, and the command itself (errors, Ctrl-C)."""
from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from tests.games.reference import winner
from tests.training.helpers import REPO, child_env


def drop(moves: list[int]) -> np.ndarray:
    """The board after ``moves`` (0-based columns), stones dropped by hand: int8 [6, 7], the top
    row first (as the server sends it), 1 = first player, 2 = second."""
    board = np.zeros((6, 7), dtype=np.int8)
    for i, c in enumerate(moves):
        r = 5 - int((board[:, c] != 0).sum())
        board[r, c] = 1 + i % 2
    return board


def result_by_hand(moves: list[int], human: int) -> str | None:
    board = drop(moves)[::-1]  # row 0 at the bottom for the reference's winner()
    w = winner(np.where(board == 0, 0, np.where(board == 1, 1, 2)).astype(np.int8))
    if w:
        return "human" if w == human else "agent"
    return "draw" if len(moves) == 42 else None


@pytest.fixture(scope="module")
def server():
    from src.cli.players import load_player
    from src.web.server import make_server

    player = load_player("heuristic", torch.device("cpu"), seed=0)  # quick: the server is under test
    srv = make_server(player, 0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def request(srv, method: str, path: str, body=None, raw: bytes | None = None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.server_address[1], timeout=60)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    res = conn.getresponse()
    payload = res.read()
    conn.close()
    ctype = res.getheader("Content-Type", "")
    return res.status, (json.loads(payload) if ctype.startswith("application/json") else payload)


def new_game(srv, first="human") -> dict:
    status, state = request(srv, "POST", "/api/new", {"first": first})
    assert status == 200, state
    return state


def move(srv, state, column, ply=None):
    return request(srv, "POST", "/api/move", {"game": state["game"], "ply": state["ply"] if ply is None else ply,
                                              "column": column})


def test_the_server_listens_on_localhost_only(server):
    assert server.server_address[0] == "127.0.0.1"


@pytest.mark.parametrize("first", ["human", "agent"])
def test_whole_games_match_the_stones_dropped_by_hand_and_the_result(server, first):
    state = new_game(server, first)
    human = 1 if first == "human" else 2
    assert len(state["moves"]) == (0 if first == "human" else 1)
    for _ in range(30):
        assert state["board"] == drop(state["moves"]).tolist()
        assert state["result"] == result_by_hand(state["moves"], human)
        if state["result"] is not None:
            break
        assert state["to_move"] == "human" and state["ply"] == len(state["moves"])
        col = next(c for c in (3, 2, 4, 1, 5, 0, 6) if state["legal"][c])
        status, after = move(server, state, col)
        assert status == 200, after
        assert after["moves"][:state["ply"] + 1] == state["moves"] + [col]
        assert len(after["moves"]) in (state["ply"] + 1, state["ply"] + 2)  # the agent replied unless it was over
        state = after
    assert state["result"] in ("human", "agent", "draw") and state["to_move"] is None
    status, err = move(server, state, 0)
    assert status == 422 and "the game is over" in err["error"]


def test_refused_requests_say_why_and_leave_the_game_unchanged(server):
    state = new_game(server)
    gid = state["game"]
    _, state = move(server, state, 3)
    before = request(server, "GET", f"/api/state?game={gid}")[1]
    cases = [
        (dict(raw=b"{not json"), 400, "not JSON"),
        (dict(raw=b"[1, 2]"), 400, "must be a JSON object"),
        (dict(body={"game": gid, "ply": state["ply"]}), 400, "'column' must be an integer"),
        (dict(body={"game": gid, "ply": state["ply"], "column": "3"}), 400, "'column' must be an integer"),
        (dict(body={"game": gid, "ply": state["ply"], "column": True}), 400, "'column' must be an integer"),
        (dict(body={"game": gid, "ply": state["ply"], "column": 2.0}), 400, "'column' must be an integer"),
        (dict(body={"game": gid, "column": 2}), 400, "'ply' must be an integer"),
        (dict(body={"game": gid, "ply": state["ply"], "column": 7}), 422, "off the board"),
        (dict(body={"game": gid, "ply": state["ply"], "column": -1}), 422, "off the board"),
        (dict(body={"game": gid, "ply": state["ply"] - 2, "column": 2}), 409, "stale request"),
        (dict(body={"game": gid, "ply": state["ply"] + 1, "column": 2}), 409, "stale request"),
        (dict(body={"game": "nope", "ply": state["ply"], "column": 2}), 404, "no such game"),
        (dict(body={"ply": state["ply"], "column": 2}), 404, "no such game"),
        (dict(raw=b"x" * 5000), 413, "over 4096 bytes"),
    ]
    for kwargs, status, message in cases:
        got, err = request(server, "POST", "/api/move", **kwargs)
        assert (got, message in err.get("error", "")) == (status, True), (kwargs, got, err)
        assert request(server, "GET", f"/api/state?game={gid}")[1] == before
    assert request(server, "POST", "/api/nothing", {})[0] == 404
    assert request(server, "GET", "/api/state?game=nope")[0] == 404
    assert request(server, "POST", "/api/new", {"first": "nobody"})[0] == 400
    assert request(server, "GET", f"/api/state?game={gid}")[1] == before


def test_a_repeated_or_stale_move_is_played_once(server):
    state = new_game(server)
    status, after = move(server, state, 3)
    assert status == 200
    again, err = move(server, state, 3)  # the same request again (a double click, a retry)
    assert again == 409 and "stale request" in err["error"]
    assert request(server, "GET", f"/api/state?game={state['game']}")[1]["moves"] == after["moves"]


def test_a_click_on_a_full_column_is_refused():
    """A scripted agent that always answers in column 0 fills it: x o x o x o, nobody wins."""
    from src.web.game import MoveError, WebGame

    class Column0:
        def act(self, obs, legal, deterministic=True):
            return torch.where(legal[:, 0], 0, legal.int().argmax(dim=1))

    from kernels.geometry import Geometry

    game = WebGame(Column0(), Geometry(), human_first=True)
    for _ in range(3):
        game.human_move(0, game.ply)
    assert game.moves == [0] * 6 and game.result is None
    with pytest.raises(MoveError, match=r"column 1 \(index 0\) is full") as e:
        game.human_move(0, 6)
    assert e.value.status == 422 and game.moves == [0] * 6


def test_take_back_undoes_the_persons_move_and_the_reply(server):
    state = new_game(server, "agent")
    opening = state["moves"]
    status, undo_nothing = request(server, "POST", "/api/undo", {"game": state["game"], "ply": state["ply"]})
    assert status == 422 and "no move of yours" in undo_nothing["error"]
    _, s1 = move(server, state, 0)
    _, s2 = move(server, s1, 6)
    stale, _ = request(server, "POST", "/api/undo", {"game": s2["game"], "ply": s1["ply"]})
    assert stale == 409
    status, back = request(server, "POST", "/api/undo", {"game": s2["game"], "ply": s2["ply"]})
    assert status == 200 and back["moves"] == s1["moves"] and back["board"] == drop(s1["moves"]).tolist()
    _, back = request(server, "POST", "/api/undo", {"game": s2["game"], "ply": back["ply"]})
    assert back["moves"] == opening and back["to_move"] == "human"


def test_tabs_play_separate_games(server):
    a, b = new_game(server), new_game(server, "agent")
    assert a["game"] != b["game"]
    _, a1 = move(server, a, 2)
    b_now = request(server, "GET", f"/api/state?game={b['game']}")[1]
    assert b_now["moves"] == b["moves"] and a1["moves"][0] == 2


def test_the_page_is_served_with_the_board_and_the_controls(server):
    status, page = request(server, "GET", "/")
    text = page.decode()
    assert status == 200 and text.startswith("<!doctype html>")
    for element in ('id="board"', 'id="new"', 'id="undo"', 'id="first-agent"', 'id="show-values"', "/api/move"):
        assert element in text


def test_a_searching_agent_reports_its_values_and_visits():
    from kernels.geometry import Geometry
    from src.agents import load_agent
    from src.web.game import WebGame

    agent = load_agent("bundled", simulations=12)
    game = WebGame(agent, Geometry(), human_first=False)
    a = game.state()["analysis"]
    assert a["ply"] == 0 and sum(a["visits"]) == 12 and len(a["values"]) == 7
    # it plays a most visited column of that search (Gumbel's halving breaks ties among them)
    assert a["visits"][game.moves[0]] == max(a["visits"])


# -- the command -----------------------------------------------------------------------------------
def run_play(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "src.cli.play", *map(str, args)], cwd=REPO, env=child_env(),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_web_refuses_boards_other_than_6x7_and_bad_options(tmp_path, capsys):
    from src.cli.play import main

    from src.agents.dqn import DQNAgent
    from src.training.config import validate_config
    from tests.training.helpers import tiny_config

    cfg = validate_config(tiny_config(game={"params": {"rows": 5, "cols": 6}}))
    path = tmp_path / "model_1.pt"
    torch.save(DQNAgent(cfg["agent"]["params"], (2, 5, 6), 6, "cpu", seed=0).checkpoint(
        {"step": 1, "game": cfg["game"]}), path)
    for args, message in (([path, "--web"], "--web shows 6x7 boards only"),
                          (["heuristic", "--web", "--port", "70000"], "--port must be from 0 to 65535"),
                          (["heuristic", "--web", "--opponent", "random"], "--opponent does not apply to --web"),
                          (["heuristic", "--port", "8000"], "--port applies to --web")):
        assert main([str(a) for a in args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1, err


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_web_stops_cleanly_on_ctrl_c_and_reports_a_busy_port():
    # started with SIGINT ignored, as a background job of a non-interactive shell is (a CI
    # launcher, `cmd &` in a script): Python then raises no KeyboardInterrupt, and the server
    # must still stop on Ctrl-C
    proc = subprocess.Popen([sys.executable, "-m", "src.cli.play", "heuristic", "--web", "--port", "0"], cwd=REPO,
                            env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            stdin=subprocess.DEVNULL, preexec_fn=_ignore_sigint)
    try:
        line = ""
        while "http://" not in line:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
        url = line.split("http://")[1].split("/")[0]
        host, port = url.split(":")
        assert host == "127.0.0.1"
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        conn.request("GET", "/")
        assert conn.getresponse().status == 200
        conn.close()
        busy = run_play("heuristic", "--web", "--port", port)
        assert busy.returncode == 2 and "cannot listen on 127.0.0.1:" in busy.stderr and "--port" in busy.stderr
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "stopped" in out and "Traceback" not in err
