"""Config schema machinery shared by every component: ``Schema``, ``Field``, ``ConfigError``.

A leaf package: it imports nothing from the rest of the project, so games, agents, opponents
and training can all declare their own schemas with it.
"""
from src.config.schema import REQUIRED, ConfigError, Field, Schema, suggest, type_name

__all__ = ["REQUIRED", "ConfigError", "Field", "Schema", "suggest", "type_name"]
