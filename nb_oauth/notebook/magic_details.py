"""``%oauth_token NAME --show`` and ``--trace``: a stored token's details and the steps behind it."""

from __future__ import annotations

import dataclasses
import html
from datetime import UTC, datetime
from typing import Any

from IPython.display import display

from .._store import tokens
from ..config import OAuth2Config
from ..errors import mask, redact
from .ui import token_secrets

#: The trace of the last failed attempt per name, for --trace when no token was stored.
failed_traces: dict[str, Any] = {}

# -- --show and --trace -------------------------------------------------------------------------------

TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time", "updated_at")


def _claim_value(key: str, value: Any) -> str:
    if key in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
        when = datetime.fromtimestamp(value, UTC)
        return f"{value}  ({when:%Y-%m-%d %H:%M:%S} UTC)"
    return str(value)


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'><code>{html.escape(v)}</code></td></tr>" for k, v in pairs)


def _config_rows(cfg: OAuth2Config) -> list[tuple[str, str]]:
    """The options that differ from the defaults, secrets masked, labelled as in Postman."""
    data = cfg.to_dict()
    rows = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        if value == default or value is None:
            continue
        shown = data[f.name] if data[f.name] is not None else mask(str(value))
        rows.append((f.metadata.get("label", f.name), str(shown)))
    return rows


def show_details(name: str) -> None:
    token = tokens[name]
    secrets = token_secrets(name)
    claims = [(k, redact(_claim_value(k, v), secrets)) for k, v in token.claims.items()]
    info = [("Obtained", f"{token.obtained_at:%Y-%m-%d %H:%M:%S} UTC"),
            ("Refreshed", f"{tokens.refresh_count(name)} time(s)")]
    parts = [token._repr_html_(), f"<table>{_rows(info)}</table>"]
    plain = [repr(token)] + [f"{k}: {v}" for k, v in info]
    if claims:
        parts.append("<details open><summary>Claims (decoded, not verified here)</summary>"
                     f"<table>{_rows(claims)}</table></details>")
        plain += ["Claims:"] + [f"  {k}: {v}" for k, v in claims]
    config_rows = [(k, redact(v, secrets)) for k, v in _config_rows(tokens.config(name))]
    parts.append(f"<details><summary>Configuration</summary><table>{_rows(config_rows)}</table></details>")
    plain += ["Configuration:"] + [f"  {k}: {v}" for k, v in config_rows]
    display({"text/html": "".join(parts), "text/plain": "\n".join(plain)}, raw=True)


def show_trace(name: str) -> None:
    from .ui import show_notice

    token = tokens.get(name)
    trace = token.trace if token is not None else failed_traces.get(name)
    if trace is None:
        if token is None:
            raise KeyError(f"No token named {name!r} and no failed attempt to show.")
        show_notice(f"Token {name!r} has no recorded trace.")
        return
    display(trace)
