"""``play --web`` in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``)
driven by selenium plays whole games against the bundled agent by clicking, and every board and
result it shows is checked against the game engine replaying the same moves.

Skips, naming what is missing, where the browser, its driver or selenium is not installed
(``.ci/run`` installs them; ``scripts/setup.sh`` installs selenium, the ``browser`` extra).
"""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
SIMULATIONS = 32  # the bundled agent's search per move here: enough to play well, quick to answer


def _missing() -> list[str]:
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (pip install -e '.[browser]')")
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        missing.append("chromium (apt-get install chromium)")
    if not shutil.which("chromedriver"):
        missing.append("chromedriver (apt-get install chromium-driver)")
    return missing


pytestmark = pytest.mark.skipif(bool(_missing()), reason="browser test needs " + ", ".join(_missing()))


@pytest.fixture(scope="module")
def site():
    from src.cli.players import load_player
    from src.web.server import make_server, warm_up

    player = load_player("bundled", torch.device("cpu"), simulations=SIMULATIONS)
    warm_up(player)
    srv = make_server(player, 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=760,800"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    # the driver is the installed one: selenium must not try to download a browser or a driver
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield driver
    driver.quit()


def wait_idle(driver, timeout: float = 120.0) -> None:
    """Until the page has a board and no request in flight."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if driver.execute_script("return document.body.dataset.busy === '0' && "
                                 "document.querySelectorAll('.cell').length === 42"):
            return
        time.sleep(0.05)
    raise AssertionError("the page did not settle: " + driver.find_element("id", "status").text)


def shown_board(driver) -> list[list[int]]:
    """The board the page shows: 6 rows, the top row first, 0 empty / 1 first player / 2 second."""
    cells = driver.execute_script("return Array.from(document.querySelectorAll('.cell')).map("
                                  "c => [c.id, Number(c.dataset.v)])")
    board = [[None] * 7 for _ in range(6)]
    for cid, v in cells:
        _, r, c = cid.split("-")
        board[int(r)][int(c)] = v
    return board


def engine_replay(moves: list[int]) -> tuple[list[list[int]], str | None]:
    """The board (as ``shown_board``) and the winner ('first', 'second', 'draw' or None) of the
    moves replayed by the engine's kernels (``kernels.connect4_torch.play``; nothing of the web package)."""
    from kernels import connect4_torch as kt
    from kernels.geometry import Geometry

    g = Geometry()
    cur, mask = torch.zeros(1, dtype=torch.int64), torch.zeros(1, dtype=torch.int64)
    first = 0  # the first player's stones
    result = None
    for i, col in enumerate(moves):
        assert result is None, "a move after the end of the game"
        assert bool(kt.legal_mask(mask, g)[0, col]), f"move {i + 1} ({col}) is illegal"
        new_mask = int(mask[0])
        cur, mask, reward, done, _ = kt.play(cur, mask, torch.tensor([col]), None, g)
        if i % 2 == 0:
            first |= int(mask[0]) ^ new_mask
        if bool(done[0]):
            result = ("first" if i % 2 == 0 else "second") if float(reward[0]) > 0 else "draw"
    m = int(mask[0])
    board = [[0 if not m & g.bit(r, c) else (1 if first & g.bit(r, c) else 2) for c in range(7)]
             for r in range(5, -1, -1)]
    return board, result


def game_state(driver) -> dict:
    return driver.execute_script("return state")


def click_column(driver, col: int) -> None:
    driver.find_element("id", f"col-{col}").click()
    wait_idle(driver)


def check_against_engine(driver) -> dict:
    st = game_state(driver)
    board, result = engine_replay(st["moves"])
    assert shown_board(driver) == board
    human = "first" if st["human"] == 1 else "second"
    expected = None if result is None else ("draw" if result == "draw" else ("human" if result == human else "agent"))
    status = driver.find_element("id", "status")
    assert (status.get_attribute("data-result") or None) == expected
    if expected == "human":
        assert status.text.startswith("You win")
    elif expected == "agent":
        assert status.text.startswith("The agent wins")
    elif expected == "draw":
        assert status.text.startswith("Draw")
    return st


def test_play_whole_games_by_clicking_checked_against_the_engine(site, browser):
    browser.get(site)
    wait_idle(browser)
    st = check_against_engine(browser)
    assert st["moves"] == [] and "Your move" in browser.find_element("id", "status").text
    full_column_tried = False
    # the person's moves: always the fullest column it can still play (lowest on ties), so a
    # column fills up early; the first time one is full, click it and expect a refusal
    for first in ("human", "agent"):
        browser.find_element("id", f"first-{first}").click()
        browser.find_element("id", "new").click()
        wait_idle(browser)
        st = check_against_engine(browser)
        assert len(st["moves"]) == (0 if first == "human" else 1)
        while st["result"] is None:
            heights = [sum(row[c] != 0 for row in st["board"]) for c in range(7)]
            full = [c for c in range(7) if heights[c] == 6]
            if full and not full_column_tried:
                before = st["moves"]
                click_column(browser, full[0])
                assert "is full" in browser.find_element("id", "error").text
                assert game_state(browser)["moves"] == before  # the refused click changed nothing
                check_against_engine(browser)
                full_column_tried = True
            col = max((c for c in range(7) if heights[c] < 6), key=lambda c: (heights[c], -c))
            ply = len(st["moves"])
            click_column(browser, col)
            st = check_against_engine(browser)
            assert st["moves"][ply] == col and browser.find_element("id", "error").text == ""
        assert st["result"] in ("human", "agent", "draw")
    assert full_column_tried, "no column filled up in either game: the full-column click was not tried"


def test_take_back_and_values_then_a_screenshot(site, browser, tmp_path):
    """The screenshot goes to $C4ENGINE_SCREENSHOT (how docs/play_web.png is made), else a temporary file."""
    import os

    browser.get(site)
    wait_idle(browser)
    browser.find_element("id", "first-human").click()
    browser.find_element("id", "new").click()
    wait_idle(browser)
    for col in (3, 3, 2):
        if game_state(browser)["result"] is None:
            click_column(browser, col)
    st = check_against_engine(browser)
    browser.find_element("id", "undo").click()
    wait_idle(browser)
    back = check_against_engine(browser)
    assert back["moves"] == st["moves"][:len(st["moves"]) - 2]
    click_column(browser, 4)
    browser.find_element("id", "show-values").click()
    values = [browser.find_element("id", f"value-{c}").text for c in range(7)]
    visits = [int(v.split("(")[1].rstrip(")")) for v in values if "(" in v]
    assert len(values) == 7 and sum(visits) == SIMULATIONS
    shot = Path(os.environ.get("C4ENGINE_SCREENSHOT") or tmp_path / "play_web.png")
    assert browser.save_screenshot(str(shot)) and shot.read_bytes()[:4] == b"\x89PNG"
