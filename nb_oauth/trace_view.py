"""Drawing a :class:`~nb_oauth.trace.Trace` for a notebook (HTML, masked values only)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .trace import Trace


def render_html(trace: Trace) -> str:
    rows = []
    for i, step in enumerate(trace.steps, 1):
        params = "<br>".join(f"<code>{html.escape(str(k))}</code> = {html.escape(str(v))}" for k, v in step.params)
        status = f" → {step.status}" if step.status else ""
        rows.append(f"<tr><td>{i}</td><td>{html.escape(step.source)} → {html.escape(step.target)}</td>"
                    f"<td>{html.escape(step.title)}{html.escape(status)}</td><td>{params}</td></tr>")
    return (f"<table class='nb-oauth-trace'><tr><th>#</th><th>From → To</th><th>Step</th><th>Parameters</th></tr>"
            f"{''.join(rows)}</table>")
