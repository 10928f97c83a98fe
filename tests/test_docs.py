"""The generated config reference matches the schemas it documents."""
from pathlib import Path

from src.training.config import reference_markdown


def test_docs_config_md_is_generated_from_the_current_schemas():
    doc = Path(__file__).resolve().parents[1] / "docs" / "config.md"
    assert doc.read_text(encoding="utf-8") == reference_markdown(), \
        "docs/config.md is stale: run `python -m src.training.config > docs/config.md`"
