"""Decoded claims as a dict that shows its time claims (``iat``, ``exp``, ...) as dates beside the numbers."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

TIME_CLAIMS = frozenset({"exp", "iat", "nbf", "auth_time", "updated_at"})


def claim_text(key: str, value: Any) -> str:
    """``1767225600 (2026-01-01 00:00:00 UTC)`` for a time claim, else the value as text."""
    if key in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            when = datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return repr(value)
        return f"{value!r} ({when:%Y-%m-%d %H:%M:%S} UTC)"
    return repr(value)


class Claims(dict[str, Any]):
    """A plain ``dict`` of claims; only how it is shown (IPython, notebooks) adds the dates."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        if cycle or not self:
            p.text(dict.__repr__(self))
            return
        lines = [f"  {k!r}: {claim_text(k, v)}," for k, v in self.items()]
        p.text("{\n" + "\n".join(lines) + "\n}")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(str(k))}</th>"
                       f"<td style='text-align:left'><code>{html.escape(claim_text(k, v))}</code></td></tr>"
                       for k, v in self.items())
        return f"<table class='nb-oauth-claims'>{rows}</table>"
