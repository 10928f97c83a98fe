"""Browser play: ``python -m src.cli.play --web`` (``server.py``: HTTP on 127.0.0.1; ``game.py``: the game;
``page.html``: the board)."""
