"""The form's checks before anything starts, and how it fills its fields from what it was given."""

from __future__ import annotations

import dataclasses
import difflib
import html
import re
from collections.abc import MutableMapping
from typing import Any

from ..config import OAuth2Config
from ..errors import ConfigError
from .form_fields import FieldRow

__all__ = ["check_field_names", "error_html", "fields_named_in", "precheck", "prefill", "user_namespace"]


def check_field_names(fields: dict[str, Any]) -> None:
    known = [f.name for f in dataclasses.fields(OAuth2Config)]
    for name in fields:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"TokenForm got an unknown field {name!r}.{hint}")


def prefill(config: OAuth2Config | None, fields: dict[str, Any]) -> tuple[OAuth2Config, dict[str, Any],
                                                                             ConfigError | None]:
    """The valid base config, the values to show, and the problem with the given ones (if any)."""
    base = config if config is not None else OAuth2Config()
    shown = {f.name: getattr(base, f.name) for f in dataclasses.fields(OAuth2Config)}
    try:
        merged = base.copy(**fields) if fields else base
    except ConfigError as exc:
        shown.update(fields)
        return base, shown, exc
    values = {f.name: getattr(merged, f.name) for f in dataclasses.fields(OAuth2Config)}
    # The box means "open the login tab from this page when I click": right on any machine, remote
    # kernels included, so it starts ticked unless the caller said otherwise (a config resolves its
    # own default from where the kernel runs, which concerns the kernel's browser, not this page).
    values["authorize_using_browser"] = fields.get("authorize_using_browser")
    return merged, values, None


def precheck(cfg: OAuth2Config, variables: MutableMapping[str, Any]) -> None:
    """The checks that need no network, at once: the error then shows before anything starts."""
    filled = cfg.with_placeholders_filled(variables)
    if not filled.issuer:
        filled.check_complete()


def fields_named_in(message: str, rows: dict[str, FieldRow]) -> list[str]:
    """The fields a config error is about (the part before its fix)."""
    cause = message.split(" Fix:")[0]
    return [name for name in rows if re.search(rf"\b{re.escape(name)}\b", cause)]


def error_html(text: str) -> str:
    return f"<span style='color:var(--jp-error-color1,#d32f2f)'>✖ {html.escape(text)}</span>"


def user_namespace() -> MutableMapping[str, Any]:
    """The notebook's variables, or a private dict outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}
