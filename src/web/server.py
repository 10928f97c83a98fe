"""``python -m src.cli.play --web``: the page and a small JSON API on 127.0.0.1, standard library only.

Routes (JSON bodies; every answer is JSON except the page):

* ``GET /``: the page (``page.html``).
* ``POST /api/new`` ``{"first": "human" | "agent"}``: a new game; answers its state with its ``game`` id.
* ``GET /api/state?game=ID``: the state of a game.
* ``POST /api/move`` ``{"game": ID, "ply": P, "column": C}``: the person plays column C
  (0-based) in the position with P stones; the agent replies at once.
* ``POST /api/undo`` ``{"game": ID, "ply": P}``: take back the person's last move and the reply.

A refused request gets ``{"error": "..."}`` with 400 (malformed), 404 (no such game or path),
409 (stale: made at another ply), 413 (body too large) or 422 (an illegal move), and the game
is unchanged. Each tab starts its own game and keeps its id, so tabs play separate games.
One lock serialises the games: the agent's search is not reentrant, and one person clicks slowly.
"""
from __future__ import annotations

import json
import secrets
import sys
import threading
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from src.web.game import MoveError, WebGame, geometry_of

PAGE = Path(__file__).resolve().parent / "page.html"
MAX_BODY = 4096  # bytes: a request is a few small fields
MAX_GAMES = 256  # the oldest games are dropped past this many


class Games:
    """The open games by id, and what every request does to them (under one lock)."""

    def __init__(self, player, default_first: str = "human"):
        self.player = player  # src.cli.players.Player
        self.default_first = default_first
        self.games: OrderedDict[str, WebGame] = OrderedDict()
        self.lock = threading.Lock()

    def _game(self, gid) -> WebGame:
        if not isinstance(gid, str) or gid not in self.games:
            raise MoveError(f"no such game: {gid!r} (start a new game)", 404)
        self.games.move_to_end(gid)
        return self.games[gid]

    def _answer(self, gid: str) -> dict:
        return {"game": gid, "agent": self.player.label, **self.games[gid].state()}

    def new(self, body: dict) -> dict:
        first = body.get("first", self.default_first)
        if first not in ("human", "agent"):
            raise MoveError(f"'first' must be 'human' or 'agent', got {first!r}")
        with self.lock:
            gid = secrets.token_hex(8)
            self.games[gid] = WebGame(self.player.agent, geometry_of(self.player.game, 'this agent'), human_first=first == "human")
            while len(self.games) > MAX_GAMES:
                self.games.popitem(last=False)
            return self._answer(gid)

    def state(self, gid) -> dict:
        with self.lock:
            self._game(gid)
            return self._answer(gid)

    def move(self, body: dict) -> dict:
        with self.lock:
            self._game(body.get("game")).human_move(body.get("column"), body.get("ply"))
            return self._answer(body["game"])

    def undo(self, body: dict) -> dict:
        with self.lock:
            self._game(body.get("game")).undo(body.get("ply"))
            return self._answer(body["game"])


class Handler(BaseHTTPRequestHandler):
    server_version = "c4engine"
    games: Games  # set on the subclass made by make_server
    quiet = True

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if not self.quiet:
            super().log_message(format, *args)

    def _send(self, status: int, payload, content_type: str = "application/json") -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"error": message})

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        if url.path in ("/", "/index.html"):
            self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
        elif url.path == "/api/state":
            gid = parse_qs(url.query).get("game", [None])[0]
            self._run(lambda: self.games.state(gid))
        else:
            self._error(404, f"no such page: {url.path}")

    def do_POST(self) -> None:  # noqa: N802
        routes = {"/api/new": self.games.new, "/api/move": self.games.move, "/api/undo": self.games.undo}
        route = routes.get(urlparse(self.path).path)
        if route is None:
            return self._error(404, f"no such endpoint: {self.path}")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return self._error(400, "Content-Length is not a number")
        if length < 0 or length > MAX_BODY:
            self.close_connection = True  # the body is not read
            return self._error(413, f"request body over {MAX_BODY} bytes")
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            return self._error(400, "the request body is not JSON")
        if not isinstance(body, dict):
            return self._error(400, "the request body must be a JSON object")
        self._run(lambda: route(body))

    def _run(self, fn) -> None:
        try:
            self._send(200, fn())
        except MoveError as e:
            self._error(e.status, str(e))
        except Exception as e:  # the agent failed: say so, keep serving
            self._error(500, f"internal error: {type(e).__name__}: {e}")


def warm_up(player) -> None:
    """One move from the empty board, so the first request does not wait for the kernels to compile."""
    WebGame(player.agent, geometry_of(player.game, 'this agent'), human_first=False)


def make_server(player, port: int = 8000, default_first: str = "human", host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """A server (not yet serving) for ``player`` on ``host:port`` (0: a free port; see ``server_address``).
    OSError when the port cannot be bound."""
    handler = type("BoundHandler", (Handler,), {"games": Games(player, default_first)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True  # a stop never waits on an open connection
    return server


def serve(player, port: int, default_first: str, out) -> int:
    """Serve until Ctrl-C (or SIGTERM); returns the exit code."""
    import signal

    try:
        server = make_server(player, port, default_first)
    except OSError as e:
        print(f"error: cannot listen on 127.0.0.1:{port}: {e.strerror or e} (choose another with --port)",
              file=sys.stderr)
        return 2

    out.write(f"{player.label}: getting ready...\n")
    out.flush()
    warm_up(player)

    def stop(signum, frame):
        raise KeyboardInterrupt

    # SIGINT too: a process started in the background of a non-interactive shell inherits SIGINT
    # ignored, and Python then leaves it so (no KeyboardInterrupt): Ctrl-C must stop it all the same
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    host, bound = server.server_address[:2]
    out.write(f"{player.label}: playing at http://{host}:{bound}/ (Ctrl-C to stop)\n")
    out.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        out.write("\nstopped\n")
    finally:
        server.server_close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
