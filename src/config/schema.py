"""A tiny declarative schema: fields with a type, a default, a check and a one-line description.

Each config section is a ``Schema``; ``Schema.fill(values, path)`` returns a plain dict with
every field present (defaults filled in) or raises ``ConfigError`` naming the key.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable


class ConfigError(ValueError):
    """A config problem: ``key`` is the dotted path of the offending key."""

    def __init__(self, key: str, problem: str):
        self.key, self.problem = key, problem
        super().__init__(f"config key '{key}': {problem}" if key else f"config: {problem}")


REQUIRED = object()


def type_name(v: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list", dict: "mapping",
            type(None): "null"}.get(type(v), type(v).__name__)


def suggest(name: str, choices) -> str:
    close = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


# kinds checked by type alone: the Python type and how an error names it
_PLAIN_KINDS = {"bool": (bool, "true or false"), "str": (str, "a string"), "list": (list, "a list"),
                "dict": (dict, "a mapping")}


@dataclass
class Field:
    kind: str  # int | float | bool | str | list | dict | any
    default: Any = REQUIRED
    doc: str = ""
    nullable: bool = False
    min: float | None = None  # inclusive
    max: float | None = None  # inclusive
    gt: float | None = None  # exclusive lower bound
    choices: tuple | None = None
    check: Callable[[Any, str], Any] | None = None  # extra validation; returns the (normalised) value

    def validate(self, value: Any, key: str) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(key, f"must not be null (expected {self.kind})")
        k = self.kind
        if k == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
                    value = int(value)  # 1e5 in YAML
                else:
                    raise ConfigError(key, f"must be an integer, got {type_name(value)} {value!r}")
        elif k == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                if isinstance(value, str):
                    try:  # PyYAML reads '1e-3' (no dot) as a string
                        value = float(value)
                    except ValueError:
                        raise ConfigError(key, f"must be a number, got string {value!r}") from None
                else:
                    raise ConfigError(key, f"must be a number, got {type_name(value)} {value!r}")
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ConfigError(key, f"must be a finite number, got {value}")
        elif k in _PLAIN_KINDS:
            cls, what = _PLAIN_KINDS[k]
            if not isinstance(value, cls):
                raise ConfigError(key, f"must be {what}, got {type_name(value)} {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ConfigError(key, f"must be one of {', '.join(map(str, self.choices))}, got {value!r}"
                              + suggest(value, self.choices))
        if self.min is not None and value < self.min:
            raise ConfigError(key, f"must be >= {self.min}, got {value}")
        if self.max is not None and value > self.max:
            raise ConfigError(key, f"must be <= {self.max}, got {value}")
        if self.gt is not None and value <= self.gt:
            raise ConfigError(key, f"must be > {self.gt}, got {value}")
        if self.check is not None:
            value = self.check(value, key)
        return value


@dataclass
class Schema:
    fields: dict[str, Field] = field(default_factory=dict)
    doc: str = ""

    def fill(self, values: Any, path: str) -> dict:
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ConfigError(path, f"must be a mapping, got {type_name(values)} {values!r}")
        for k in values:
            if k not in self.fields:
                raise ConfigError(_join(path, k), "unknown key" + suggest(k, self.fields)
                                  + f"; known keys: {', '.join(self.fields)}")
        out = {}
        for name, f in self.fields.items():
            key = _join(path, name)
            if name not in values:
                if f.default is REQUIRED:
                    raise ConfigError(key, "is required but missing")
                out[name] = f.default() if callable(f.default) else f.default
            else:
                out[name] = f.validate(values[name], key)
        return out

    def describe(self) -> list[tuple[str, Any, str]]:
        return [(n, None if f.default is REQUIRED else f.default, f.doc) for n, f in self.fields.items()]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else str(key)
