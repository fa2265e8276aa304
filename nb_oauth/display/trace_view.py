"""Drawing a :class:`~nb_oauth._trace.Trace` as a sequence diagram.

The diagram is inline SVG generated here, with the raw exchanges in ``<details>`` elements under
it: no script, no stylesheet, no network, so it survives saved notebooks, offline use and the
sanitiser JupyterLab applies to untrusted outputs (which drops ``<script>`` and ``<style>``).
Styling is therefore done with SVG presentation attributes and inline ``style`` only.

Every value shown was masked by the trace when it was recorded; everything is escaped here.
The SVG itself is drawn in :mod:`._sequence_svg`; this module adds the details and the text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from ._meanings import PARAMETER_MEANINGS
from ._sequence_svg import (  # noqa: F401  (re-exported: the drawing used to live here)
    ACTOR_LABELS,
    BADGE_W,
    CHAR_W,
    COL_W,
    COLORS,
    FONT,
    HEAD_H,
    INK,
    LIFELINE,
    LINE_H,
    MONO,
    MUTED,
    RIGHT_PAD,
    SMALL_CHAR_W,
    TOP,
    _actor_boxes,
    _actor_hosts,
    _arrow_head,
    _attr,
    _badge,
    _Canvas,
    _clip,
    _error_lines,
    _legend,
    _message,
    _meta_line,
    _note,
    _self_message,
    _short_target,
    _status_color,
    _wrap,
    actor_order,
    format_duration,
    render_svg,
)

if TYPE_CHECKING:
    from .._trace import Step, Trace

__all__ = ["actor_order", "render_html", "render_svg", "render_text"]


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else str(value)


# -- the details ------------------------------------------------------------------------------------

_TABLE = 'style="border-collapse:collapse;margin:4px 0 8px 0;font-size:12px"'
_CELL = 'style="border-top:1px solid #d0d7de;padding:2px 8px;vertical-align:top;text-align:left"'
_VALUE = ('style="border-top:1px solid #d0d7de;padding:2px 8px;vertical-align:top;text-align:left;'
          f'font-family:{MONO};word-break:break-all"')


def _table(title: str, rows: Sequence[tuple[str, ...]], headings: Sequence[str]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th {_CELL}>{escape(h)}</th>" for h in headings)
    body = "".join(
        "<tr>" + "".join(f"<td {_VALUE if i == 1 else _CELL}>{escape(cell)}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<div style=\"font-weight:600;margin-top:6px\">{escape(title)}</div><table {_TABLE}><tr>{head}</tr>{body}</table>"


def _summary_meta(step: Step) -> str:
    parts = [f"{step.source} → {step.target}"]
    if step.method:
        parts.append(step.method)
    if step.status is not None:
        parts.append(str(step.status))
    if step.duration is not None:
        parts.append(format_duration(step.duration))
    return " · ".join(parts)


def _step_details(number: int, step: Step, t0: float | None) -> str:
    color = COLORS["error"] if step.kind == "error" else INK
    summary = (f'<summary style="cursor:pointer"><b style="color:{color}">{number}. {escape(step.title)}</b> '
               f'<span style="color:{MUTED}">{escape(_summary_meta(step))}</span></summary>')
    body: list[str] = []
    if step.url:
        request_line = f"{step.method} {step.url}" if step.method else step.url
        body.append(f'<div style="font-family:{MONO};font-size:12px;word-break:break-all;margin-top:4px">'
                    f"{escape(request_line)}</div>")
    if t0 is not None:
        body.append(f'<div style="color:{MUTED};font-size:11px">at +{step.started - t0:.3f} s</div>')
    params = [(str(k), _value_text(v), meaning) for k, v, meaning in step.explained_params()]
    body.append(_table("Parameters", params, ("parameter", "value", "what it is for")))
    headers = [(str(k), _value_text(v)) for k, v in step.headers.items()]
    body.append(_table("Headers", headers, ("header", "value")))
    if step.response:
        rows = [(str(k), _value_text(v), PARAMETER_MEANINGS.get(str(k), "")) for k, v in step.response.items()]
        body.append(_table(f"Response{f' ({step.status})' if step.status is not None else ''}", rows,
                           ("field", "value", "what it is")))
    if step.note:
        body.append(f'<div style="margin:4px 0;color:{color};white-space:pre-wrap">{escape(step.note)}</div>')
    return (f'<details style="border:1px solid #d0d7de;border-radius:6px;padding:4px 10px;margin:3px 0">'
            f"{summary}{''.join(body)}</details>")


def _caption(trace: Trace) -> str:
    steps = trace.steps
    bits = ["OAuth trace"]
    if trace.grant_type:
        bits.append(str(trace.grant_type))
    if trace.token_name:
        bits.append(f"token {trace.token_name!r}")
    bits.append(f"{len(steps)} step{'s' if len(steps) != 1 else ''}")
    if trace.dropped:
        bits.append(f"{trace.dropped} older refresh steps not kept")
    if steps:
        total = max(s.started + (s.duration or 0) for s in steps) - min(s.started for s in steps)
        if total >= 0.001:
            bits.append(format_duration(total))
    return " · ".join(bits)


def render_html(trace: Trace) -> str:
    """The diagram, then each step as a numbered ``<details>`` with the raw (masked) exchange."""
    steps = list(trace.steps)
    t0 = steps[0].started if steps else None
    error = ""
    if trace.error:
        error = (f'<div style="color:{COLORS["error"]};background:#ffebe9;border:1px solid {COLORS["error"]};'
                 f'border-radius:6px;padding:4px 10px;margin:4px 0">Failed: {escape(trace.error)}</div>')
    details = "".join(_step_details(i, s, t0) for i, s in enumerate(steps, 1))
    return (f'<div class="nb-oauth-trace" style="font-family:{_attr(FONT)};color:{INK};font-size:13px">'
            f'<div style="font-weight:600;margin:4px 0 6px 0">{escape(_caption(trace))}</div>{error}'
            f"<div>{render_svg(trace)}</div>"
            f'<div style="margin-top:8px;max-width:{BADGE_W + COL_W * max(3, len(actor_order(steps))) + RIGHT_PAD}px">'
            f"{details}</div></div>")


# -- text -------------------------------------------------------------------------------------------


def render_text(trace: Trace) -> str:
    """A plain-text listing of the steps (for logs, terminals and ``print``)."""
    lines = [_caption(trace)]
    if trace.error:
        lines.append(f"Failed: {trace.error}")
    for number, step in enumerate(trace.steps, 1):
        arrow = "··>" if step.kind == "response" else "-->"
        head = f"{number:>2}. {step.source} {arrow} {step.target}: {step.title}"
        meta = [p for p in (step.method, step.url, str(step.status) if step.status is not None else "",
                            format_duration(step.duration)) if p]
        if step.kind == "error":
            head += "  [ERROR]"
        lines.append(head + (f"  [{' · '.join(meta)}]" if meta else ""))
        for key, value, meaning in step.explained_params():
            lines.append(f"      {key} = {_value_text(value)}" + (f"    ({meaning})" if meaning else ""))
        for key, value in (step.response or {}).items():
            lines.append(f"      ← {key} = {_value_text(value)}")
        if step.note:
            lines += [f"      {line}" for line in step.note.splitlines()]
    return "\n".join(lines)