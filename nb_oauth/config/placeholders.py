"""``{{NAME}}`` placeholders, filled at use time from the notebook's variables or the environment.

A notebook can then say ``client_secret="{{CLIENT_SECRET}}"`` and never contain the secret.
The notebook adapter registers the user namespace with :func:`set_namespace`; plain Python
uses the environment only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")

_namespace_provider: Callable[[], Mapping[str, Any]] | None = None


def set_namespace(provider: Callable[[], Mapping[str, Any]] | None) -> None:
    """Register where notebook variables come from (the IPython user namespace)."""
    global _namespace_provider
    _namespace_provider = provider


def has_placeholder(value: object) -> bool:
    return isinstance(value, str) and PLACEHOLDER.search(value) is not None


def lookup(name: str, extra: Mapping[str, Any] | None = None) -> str | None:
    """The value of ``name``: explicit mapping first, then notebook variables, then the environment."""
    for source in (extra, _namespace_provider() if _namespace_provider else None):
        if source is not None and name in source and source[name] is not None:
            value = source[name]
            if isinstance(value, str | int | float):
                return str(value)
    return os.environ.get(name)


def fill(value: str, extra: Mapping[str, Any] | None = None, *, strict: bool = True, where: str = "value") -> str:
    """Replace each ``{{NAME}}``; unknown names are an error (``strict``) or left as they are."""
    from ..errors import ConfigError

    def replace(match: re.Match[str]) -> str:
        found = lookup(match.group(1), extra)
        if found is None:
            if strict:
                raise ConfigError(
                    f"{where} uses {{{{{match.group(1)}}}}}, but no notebook variable or environment "
                    f"variable named {match.group(1)!r} is set.",
                    fix=f"Set {match.group(1)} in the notebook (or export it in the environment), then run again.",
                )
            return match.group(0)
        return found

    return PLACEHOLDER.sub(replace, value)
