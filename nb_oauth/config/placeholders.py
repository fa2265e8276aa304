"""``{{NAME}}`` placeholders, filled at use time from the notebook's variables or the environment.

A notebook can then say ``client_secret="{{CLIENT_SECRET}}"`` and never contain the secret.
The notebook adapter registers the user namespace with :func:`set_namespace`; plain Python
uses the environment only.

Two rules keep a placeholder from becoming a way out for what it reads:

* IPython's own history and output names (``_``, ``_i1``, ``Out`` …) are never read: a config
  from an imported collection could otherwise send the text of your cells or their outputs to
  its own host (``{{_i1}}``).  Such a name is a :class:`ConfigError`.
* Every value filled in is a secret for masking purposes: it is remembered (the most recent
  :data:`MAX_REMEMBERED`), and masked in traces, log lines and error messages like a token.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .. import _log_guard

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")

#: IPython's input/output history and directory history: ``_ __ ___ _i _ii _iii _iN _N _oh _ih _dh In Out``.
IPYTHON_HISTORY_NAME = re.compile(r"^(?:_{1,3}|_i{1,3}|_i\d+|_\d+|_oh|_ih|_dh|In|Out)$")

#: How many filled values are remembered as secrets (the newest win).
MAX_REMEMBERED = 256
#: Shorter values are not masked by value (as :func:`nb_oauth.errors.redact` does for every secret).
MIN_SECRET_LENGTH = 4

_namespace_provider: Callable[[], Mapping[str, Any]] | None = None
_filled: dict[str, None] = {}
_filled_lock = threading.Lock()
_filled_version = 0


def set_namespace(provider: Callable[[], Mapping[str, Any]] | None) -> None:
    """Register where notebook variables come from (the IPython user namespace)."""
    global _namespace_provider
    _namespace_provider = provider


def has_placeholder(value: object) -> bool:
    return isinstance(value, str) and PLACEHOLDER.search(value) is not None


def is_history_name(name: str) -> bool:
    """Whether ``name`` is one of IPython's history or output variables, which are never filled in."""
    return IPYTHON_HISTORY_NAME.match(name) is not None


def lookup(name: str, extra: Mapping[str, Any] | None = None) -> str | None:
    """The value of ``name``: explicit mapping first, then notebook variables, then the environment.

    IPython's history and output names are never looked up (None).
    """
    if is_history_name(name):
        return None
    for source in (extra, _namespace_provider() if _namespace_provider else None):
        if source is not None and name in source and source[name] is not None:
            value = source[name]
            if isinstance(value, str | int | float):
                return str(value)
    return os.environ.get(name)


def remember_secret(value: str) -> None:
    """Mask ``value`` from now on wherever nb_oauth masks secrets (traces, logs, error messages)."""
    global _filled_version
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _filled_lock:
        if value in _filled:
            return
        _filled[value] = None
        while len(_filled) > MAX_REMEMBERED:
            del _filled[next(iter(_filled))]
        _filled_version += 1


def forget_filled() -> None:
    """Forget every remembered filled value (a fresh start: tests, or a user who rotated the secrets)."""
    global _filled_version
    with _filled_lock:
        _filled.clear()
        _filled_version += 1


def filled_values() -> list[str]:
    """The values placeholders were filled with (newest last)."""
    with _filled_lock:
        return list(_filled)


def filled_version() -> int:
    """Grows whenever :func:`filled_values` changes (lets callers cache what they derive from it)."""
    return _filled_version


def fill(value: str, extra: Mapping[str, Any] | None = None, *, strict: bool = True, where: str = "value") -> str:
    """Replace each ``{{NAME}}``; unknown names are an error (``strict``) or left as they are."""
    from ..errors import ConfigError

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if is_history_name(name):
            if strict:
                raise ConfigError(
                    f"{where} uses {{{{{name}}}}}, one of IPython's input/output history names, which nb_oauth "
                    "never fills in (it would send the text or output of your cells wherever this value goes).",
                    fix=f"Put the value in a variable of your own and write {{{{MY_VALUE}}}} instead of {{{{{name}}}}}.",
                )
            return match.group(0)
        found = lookup(name, extra)
        if found is None:
            if strict:
                raise ConfigError(
                    f"{where} uses {{{{{name}}}}}, but no notebook variable or environment "
                    f"variable named {name!r} is set.",
                    fix=f"Set {name} in the notebook (or export it in the environment), then run again.",
                )
            return match.group(0)
        remember_secret(found)
        return found

    return PLACEHOLDER.sub(replace, value)


_log_guard.add_secret_source(filled_values)
