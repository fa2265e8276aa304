"""The sequence diagram of a :class:`~nb_oauth._trace.Trace`, drawn as inline SVG.

Split from :mod:`.trace_view` (which adds the step details and the text listing) so the
geometry, palette and drawing primitives live together.  Only SVG presentation attributes and
inline ``style`` are used, because the JupyterLab sanitiser drops ``<script>`` and ``<style>``.
Every value shown was masked by the trace when it was recorded; everything is escaped here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._meanings import ACTORS

if TYPE_CHECKING:
    from .._trace import Step, Trace

__all__ = ["COLORS", "actor_order", "format_duration", "render_svg"]


FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'DejaVu Sans', sans-serif"
MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace"

ACTOR_LABELS: dict[str, tuple[str, str]] = {
    "user": ("User", "you"),
    "browser": ("Browser", "user agent"),
    "notebook": ("Notebook", "kernel + listener"),
    "server": ("Authorization server", ""),
    "api": ("API", "resource server"),
}

# Layout (px) and palette.
BADGE_W = 44
COL_W = 200
TOP = 10
HEAD_H = 46
LINE_H = 16
CHAR_W = 7.1
SMALL_CHAR_W = 6.3
RIGHT_PAD = 56
COLORS = {
    "request": "#1f6feb",
    "redirect": "#8250df",
    "response": "#57606a",
    "error": "#cf222e",
    "note": "#9a6700",
}
INK = "#1f2328"
MUTED = "#57606a"
LIFELINE = "#afb8c1"


# -- helpers ----------------------------------------------------------------------------------------


def _attr(value: Any) -> str:
    return escape(str(value), quote=True)


def format_duration(seconds: float | None) -> str:
    """``85 ms``, ``1.4 s``, ``2 min 5 s``: short enough to sit under an arrow."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _status_color(status: int | None) -> str:
    if status is None:
        return MUTED
    if status < 300:
        return "#1a7f37"
    if status < 400:
        return COLORS["redirect"]
    return COLORS["error"]


def _wrap(text: str, width_px: float, char_w: float = CHAR_W, max_lines: int = 4) -> list[str]:
    """Lines of ``text`` that fit ``width_px``; the last line ends with … when cut."""
    chars = max(8, int(width_px / char_w))
    lines = textwrap.wrap(text, chars, break_long_words=True, break_on_hyphens=False) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _clip(lines[-1] + " …", chars)
    return lines


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: max(1, chars - 1)] + "…"


def _short_target(url: str | None) -> str:
    """The path of a URL (the host is on the lifeline), for the line under an arrow."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return parts.path or "/"



def actor_order(steps: Iterable[Step]) -> list[str]:
    """The actors the steps use, in the canonical order (unknown actors last, as met)."""
    used: list[str] = []
    for step in steps:
        for actor in (step.source, step.target):
            if actor not in used:
                used.append(actor)
    known = [a for a in ACTORS if a in used]
    return known + [a for a in used if a not in ACTORS]


def _actor_hosts(steps: Sequence[Step]) -> dict[str, str]:
    """The host each server-side actor was reached at, shown under its name."""
    hosts: dict[str, str] = {}
    for step in steps:
        if step.url and step.target in ("server", "api") and step.target not in hosts:
            try:
                host = urlsplit(step.url).netloc
            except ValueError:
                continue
            if host:
                hosts[step.target] = host
    return hosts


# -- the SVG ----------------------------------------------------------------------------------------


@dataclass
class _Canvas:
    """Collects SVG elements and the running vertical position."""

    actors: list[str]
    parts: list[str]
    y: float

    def x(self, actor: str) -> float:
        return BADGE_W + COL_W * (self.actors.index(actor) + 0.5)

    @property
    def width(self) -> float:
        return BADGE_W + COL_W * len(self.actors) + RIGHT_PAD

    def text(self, x: float, y: float, content: str, *, size: int = 13, color: str = INK, anchor: str = "middle",
             weight: str = "normal", family: str = FONT) -> None:
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-family="{_attr(family)}" font-size="{size}" fill="{color}" '
            f'text-anchor="{anchor}" font-weight="{weight}">{escape(content)}</text>'
        )


def _actor_boxes(canvas: _Canvas, y: float, hosts: dict[str, str]) -> None:
    box_w = COL_W - 28
    for actor in canvas.actors:
        x = canvas.x(actor)
        name, sub = ACTOR_LABELS.get(actor, (actor.title(), ""))
        sub = hosts.get(actor, sub)
        canvas.parts.append(
            f'<rect x="{x - box_w / 2:.1f}" y="{y:.1f}" width="{box_w}" height="{HEAD_H}" rx="8" ry="8" '
            f'fill="#f6f8fa" stroke="#8c959f" stroke-width="1.2"/>'
        )
        canvas.text(x, y + (19 if sub else 28), _clip(name, int(box_w / 7.4)), size=13, weight="600")
        if sub:
            canvas.text(x, y + 35, _clip(sub, int(box_w / SMALL_CHAR_W)), size=11, color=MUTED)


def _badge(canvas: _Canvas, number: int, y: float, color: str) -> None:
    canvas.parts.append(f'<circle cx="22" cy="{y:.1f}" r="11" fill="{color}"/>')
    canvas.text(22, y + 4.5, str(number), size=11, color="#ffffff", weight="700")


def _meta_line(canvas: _Canvas, step: Step, x: float, y: float, width_px: float, anchor: str = "middle") -> bool:
    """``GET /authorize · 302 · 85 ms`` under an arrow, the status coloured by its class."""
    head = " ".join(p for p in (step.method or "", _short_target(step.url)) if p)
    tail = format_duration(step.duration)
    status = str(step.status) if step.status is not None else ""
    budget = int((width_px + 40) / SMALL_CHAR_W) - len(status) - len(tail) - 6
    head = _clip(head, max(6, budget)) if head else ""
    pieces: list[tuple[str, str, str]] = []
    for text, color, weight in ((head, MUTED, "normal"), (status, _status_color(step.status), "700"),
                                (tail, MUTED, "normal")):
        if text:
            if pieces:
                pieces.append((" · ", MUTED, "normal"))
            pieces.append((text, color, weight))
    if not pieces:
        return False
    spans = "".join(f'<tspan fill="{c}" font-weight="{w}">{escape(t)}</tspan>' for t, c, w in pieces)
    canvas.parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-family="{_attr(FONT)}" font-size="11" '
                        f'text-anchor="{anchor}">{spans}</text>')
    return True


def _arrow_head(x: float, y: float, direction: int, color: str) -> str:
    return (f'<polygon points="{x:.1f},{y:.1f} {x - direction * 10:.1f},{y - 5:.1f} '
            f'{x - direction * 10:.1f},{y + 5:.1f}" fill="{color}"/>')


def _error_lines(step: Step, width_px: float) -> list[str]:
    return _wrap(step.note, width_px, SMALL_CHAR_W, max_lines=3) if step.kind == "error" and step.note else []


def _message(canvas: _Canvas, number: int, step: Step) -> None:
    """One arrow between two lifelines: wrapped title above, method/status/duration below."""
    color = COLORS.get(step.kind, COLORS["request"])
    x1, x2 = canvas.x(step.source), canvas.x(step.target)
    span = max(abs(x2 - x1) - 16, COL_W + 10)
    lines = _wrap(f"{step.title}", span)
    top = canvas.y + 10
    for i, line in enumerate(lines):
        canvas.text((x1 + x2) / 2, top + 12 + i * LINE_H, line, color=color if step.kind == "error" else INK,
                    weight="600" if step.kind == "error" else "normal")
    y = top + len(lines) * LINE_H + 6
    direction = 1 if x2 > x1 else -1
    dash = ' stroke-dasharray="7 5"' if step.kind == "response" else ""
    canvas.parts.append(f'<g><title>{escape(f"{number}. {step.title}")}</title>'
                        f'<line x1="{x1:.1f}" y1="{y:.1f}" x2="{x2 - direction * 9:.1f}" y2="{y:.1f}" '
                        f'stroke="{color}" stroke-width="{2 if step.kind == "error" else 1.6}"{dash}/>'
                        f'{_arrow_head(x2, y, direction, color)}</g>')
    _badge(canvas, number, y, color)
    has_meta = _meta_line(canvas, step, (x1 + x2) / 2, y + 16, span)
    extra = _error_lines(step, span)
    first = y + (32 if has_meta else 17)
    for i, line in enumerate(extra):
        canvas.text((x1 + x2) / 2, first + i * 14, line, size=11, color=COLORS["error"])
    canvas.y = (first + (len(extra) - 1) * 14 + 6 if extra else y + 24) + 6


def _self_message(canvas: _Canvas, number: int, step: Step) -> None:
    """A step from an actor to itself: a small loop on its lifeline, text beside it.

    The text goes right of the loop, or left of the lifeline for the rightmost actor, so it
    never leaves the drawing.
    """
    color = COLORS.get(step.kind, COLORS["request"])
    x = canvas.x(step.source)
    width_px = COL_W - 40
    rightmost = step.source == canvas.actors[-1] and len(canvas.actors) > 1
    text_x, anchor = (x - 12, "end") if rightmost else (x + 44, "start")
    lines = _wrap(step.title, width_px)
    top = canvas.y + 10
    for i, line in enumerate(lines):
        canvas.text(text_x, top + 12 + i * LINE_H, line, anchor=anchor)
    y = top + 6
    bottom = y + max(24, len(lines) * LINE_H)
    canvas.parts.append(f'<g><title>{escape(f"{number}. {step.title}")}</title>'
                        f'<path d="M{x:.1f},{y:.1f} H{x + 34:.1f} V{bottom:.1f} H{x + 9:.1f}" fill="none" '
                        f'stroke="{color}" stroke-width="1.6"/>{_arrow_head(x, bottom, -1, color)}</g>')
    _badge(canvas, number, y + (bottom - y) / 2, color)
    _meta_line(canvas, step, text_x, bottom + 14, width_px - 40, anchor=anchor)
    canvas.y = bottom + 26


def _note(canvas: _Canvas, number: int, step: Step) -> None:
    """A note (or an error with nobody to tell) as a box over the lifelines it concerns."""
    is_error = step.kind == "error"
    stroke = COLORS["error"] if is_error else "#d4a72c"
    fill = "#ffebe9" if is_error else "#fff8c5"
    xs = [canvas.x(step.source), canvas.x(step.target)]
    reach = COL_W * (0.8 if xs[0] == xs[1] else 0.5) - 14
    left = max(BADGE_W + 4, min(xs) - reach)
    right = min(canvas.width - 8, max(xs) + reach)
    inner = right - left - 20
    title = _wrap(step.title, inner, max_lines=3)
    body = _wrap(step.note, inner, SMALL_CHAR_W, max_lines=4) if step.note else []
    top = canvas.y + 8
    height = 12 + len(title) * LINE_H + len(body) * 14 + 4
    canvas.parts.append(f'<g><title>{escape(f"{number}. {step.title}")}</title>'
                        f'<rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" height="{height:.1f}" '
                        f'rx="4" ry="4" fill="{fill}" stroke="{stroke}" stroke-width="1.2"/></g>')
    for i, line in enumerate(title):
        canvas.text(left + 10, top + 16 + i * LINE_H, line, anchor="start", weight="600",
                    color=COLORS["error"] if is_error else INK)
    for i, line in enumerate(body):
        canvas.text(left + 10, top + 14 + len(title) * LINE_H + i * 14, line, anchor="start", size=11,
                    color=COLORS["error"] if is_error else MUTED)
    _badge(canvas, number, top + height / 2, stroke)
    canvas.y = top + height + 8


def _legend(canvas: _Canvas, y: float) -> None:
    x = BADGE_W
    for label, kind in (("request", "request"), ("redirect", "redirect"), ("response", "response"),
                        ("error", "error")):
        dash = ' stroke-dasharray="6 4"' if kind == "response" else ""  # 3 whole dashes: visibly dashed
        canvas.parts.append(f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 26:.1f}" y2="{y:.1f}" '
                            f'stroke="{COLORS[kind]}" stroke-width="1.6"{dash}/>')
        canvas.text(x + 32, y + 4, label, size=11, color=MUTED, anchor="start")
        x += 100


def render_svg(trace: Trace) -> str:
    """The sequence diagram alone: one arrow (or note box) per step, numbered like the details."""
    steps = list(trace.steps)
    actors = actor_order(steps) or ["notebook"]
    canvas = _Canvas(actors=actors, parts=[], y=TOP + HEAD_H + 6)
    for number, step in enumerate(steps, 1):
        if step.kind == "note" or (step.kind == "error" and step.source == step.target):
            _note(canvas, number, step)
        elif step.source == step.target:
            _self_message(canvas, number, step)
        else:
            _message(canvas, number, step)
    if not steps:
        canvas.text(canvas.width / 2, canvas.y + 24, "No steps recorded yet.", color=MUTED)
        canvas.y += 40
    body_bottom = canvas.y + 6
    lifelines = [f'<line x1="{canvas.x(a):.1f}" y1="{TOP + HEAD_H:.1f}" x2="{canvas.x(a):.1f}" '
                 f'y2="{body_bottom:.1f}" stroke="{LIFELINE}" stroke-width="1.2" stroke-dasharray="4 4"/>'
                 for a in actors]
    content = canvas.parts
    canvas.parts = []
    hosts = _actor_hosts(steps)
    _actor_boxes(canvas, TOP, hosts)
    _actor_boxes(canvas, body_bottom, hosts)
    _legend(canvas, body_bottom + HEAD_H + 20)
    height = body_bottom + HEAD_H + 32
    width = canvas.width
    label = f"Sequence diagram of {len(steps)} OAuth step{'s' if len(steps) != 1 else ''}"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_attr(label)}" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'style="max-width:100%;height:auto">'
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>'
        + "".join(lifelines) + "".join(canvas.parts) + "".join(content) + "</svg>"
    )
