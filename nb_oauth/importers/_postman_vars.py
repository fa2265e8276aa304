"""Filling a Postman collection's ``{{vars}}`` at import, within bounds.

Variables may refer to variables, so a hostile collection of a few kilobytes whose variables
double at each level (``{{a}}`` → ``{{b}}{{b}}`` → …) would expand to gigabytes.  Expansion is
capped in size (:data:`MAX_EXPANDED_CHARS` per value) and depth (:data:`MAX_VARIABLE_DEPTH`
levels of variables naming variables, which also catches a variable that refers to itself);
nesting of the collection and of its auth blocks is capped at :data:`MAX_NESTING` levels.
Past a cap the import is a :class:`~nb_oauth.errors.ConfigError` naming the variable, never a
``MemoryError`` or ``RecursionError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

POSTMAN_VAR = re.compile(r"\{\{([^{}]+)\}\}")

#: The longest a value may grow while its variables are filled in.
MAX_EXPANDED_CHARS = 64 * 1024
#: How many levels of variables naming variables are followed.
MAX_VARIABLE_DEPTH = 10
#: How deeply folders, and the JSON of an auth block, may nest.
MAX_NESTING = 64


def too_deep(where: str) -> ConfigError:
    return ConfigError(f"{where} nests deeper than {MAX_NESTING} levels, which no real Postman collection does; "
                       "nothing was imported.",
                       fix="Export the collection again from Postman, or flatten its folders.")


class Filler:
    """Fills Postman ``{{vars}}``, remembering the names it could not fill."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self.variables = variables
        self.unfilled: set[str] = set()

    def _value(self, name: str) -> str | None:
        for key in (name, name.strip()):
            if key in self.variables:
                return self.variables[key]
        return None

    def text(self, value: str, where: str = "a value") -> str:
        for _level in range(MAX_VARIABLE_DEPTH + 1):
            filled, changed = self._one_level(value, where)
            if not changed:
                break
            value = filled
        else:
            names = sorted({m.group(1) for m in POSTMAN_VAR.finditer(value) if self._value(m.group(1)) is not None})
            shown = ", ".join("{{" + n + "}}" for n in names[:5])
            raise ConfigError(
                f"{where}: the variable {shown} still refers to other variables after {MAX_VARIABLE_DEPTH} levels "
                "(it refers to itself, or nests too deeply); nothing was imported.",
                fix="Give the variable a plain value in the collection or environment export.")
        self.unfilled.update(m.group(1) for m in POSTMAN_VAR.finditer(value))
        return value

    def _one_level(self, value: str, where: str) -> tuple[str, bool]:
        """One level of substitution; the size is checked before anything is built."""
        pieces: list[str] = []
        size, last, changed = 0, 0, False
        for match in POSTMAN_VAR.finditer(value):
            replacement = self._value(match.group(1))
            if replacement is None:
                replacement = match.group(0)
            else:
                changed = True
            between = value[last:match.start()]
            size += len(between) + len(replacement)
            if size > MAX_EXPANDED_CHARS:
                raise ConfigError(
                    f"{where}: filling in the variable {{{{{match.group(1)}}}}} makes the value longer than "
                    f"{MAX_EXPANDED_CHARS // 1024} KiB (its variables expand into each other); nothing was imported.",
                    fix="Check the collection's variables: no OAuth setting is that long. Give the variable a plain "
                        "value in the collection or environment export.")
            pieces += (between, replacement)
            last = match.end()
        if not changed:
            return value, False
        pieces.append(value[last:])
        return "".join(pieces), True

    def deep(self, value: Any, where: str = "a value", depth: int = 0) -> Any:
        if depth > MAX_NESTING:
            raise too_deep(where)
        if isinstance(value, str):
            return self.text(value, where)
        if isinstance(value, Mapping):
            return {k: self.deep(v, where, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v, where, depth + 1) for v in value]
        return value
