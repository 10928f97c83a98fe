"""Fixtures for the run-directory tests."""

import pytest

from src.cli import runs as runs_cli


@pytest.fixture
def runs_cli_main(capsys):
    """Run `python -m src.cli.runs ARGS` in-process; returns (exit code, stdout, stderr)."""

    def run(*argv: str):
        try:
            code = runs_cli.main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run
