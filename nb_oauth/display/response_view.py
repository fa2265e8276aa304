"""Drawing a ``requests.Response`` in a notebook: status, time, size, headers, pretty body.

No JavaScript: JSON becomes a tree of nested ``<details>``, images an inline ``<img>``, text an
escaped ``<pre>``. The request is shown with its credentials masked, and any secret passed in
(the token that was sent) is masked wherever it appears in what is shown.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import mask

#: Bodies larger than this are shown truncated (the full body stays on the response object).
MAX_TEXT_CHARS = 200_000
#: JSON with more nodes than this is shown pretty-printed instead of as a tree.
MAX_TREE_NODES = 3_000
#: Images larger than this are not inlined.
MAX_IMAGE_BYTES = 5_000_000
#: Arrays and objects with at most this many entries start unfolded.
OPEN_BELOW = 20
#: Headers whose values are credentials.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
SECRET_QUERY_KEYS = frozenset({"access_token", "id_token", "refresh_token", "client_secret", "api_key", "token"})

STYLE = """<style>
.nb-oauth-resp{font-family:var(--jp-code-font-family,monospace);font-size:12.5px;line-height:1.45}
.nb-oauth-resp .st{font-weight:bold;padding:1px 6px;border-radius:3px;color:#fff}
.nb-oauth-resp .ok{background:#2e7d32}.nb-oauth-resp .redir{background:#1565c0}
.nb-oauth-resp .bad{background:#c62828}.nb-oauth-resp .meta{color:#666;margin-left:.8em}
.nb-oauth-resp details{margin-left:1.1em}.nb-oauth-resp summary{cursor:pointer;margin-left:-1.1em}
.nb-oauth-resp table{border-collapse:collapse}.nb-oauth-resp td,.nb-oauth-resp th{text-align:left;
padding:0 .8em 0 0;vertical-align:top}.nb-oauth-resp .k{color:#881391}.nb-oauth-resp .s{color:#c41a16}
.nb-oauth-resp .n{color:#1c00cf}.nb-oauth-resp .b{color:#0d22aa}.nb-oauth-resp .z{color:#808080}
.nb-oauth-resp pre{margin:.3em 0;white-space:pre-wrap;word-break:break-all}
</style>"""


class _Masker:
    """Replaces known secrets in any text that is about to be shown."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, mask(secret))
        return text


def masked_url(url: str) -> str:
    """The URL with token-like query parameters masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    pairs = [(k, mask(v) if k.lower() in SECRET_QUERY_KEYS and v else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs, safe="…•()/:"), parts.fragment))


def masked_headers(headers: Any) -> list[tuple[str, str]]:
    """Header pairs with credentials masked (a scheme such as ``Bearer`` stays visible)."""
    out = []
    for key, value in (headers or {}).items():
        if str(key).lower() in SECRET_HEADERS and value:
            scheme, _, rest = str(value).partition(" ")
            value = f"{scheme} {mask(rest)}" if rest and scheme.isalpha() and len(scheme) < 20 else mask(str(value))
        out.append((str(key), str(value)))
    return out


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def _status_class(code: int) -> str:
    return "ok" if code < 300 else "redir" if code < 400 else "bad"


def media_type(response: Any) -> str:
    return str(response.headers.get("Content-Type", "")).split(";")[0].strip().lower()


def is_json(response: Any) -> bool:
    kind = media_type(response)
    return kind == "application/json" or kind.endswith("+json")


# -- JSON tree ----------------------------------------------------------------------------------------


def _count(value: Any, limit: int) -> int:
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        total += 1
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


def _scalar(value: Any, m: _Masker) -> str:
    if isinstance(value, str):
        return f"<span class='s'>{html.escape(json.dumps(m(value), ensure_ascii=False))}</span>"
    if isinstance(value, bool):
        return f"<span class='b'>{'true' if value else 'false'}</span>"
    if value is None:
        return "<span class='z'>null</span>"
    return f"<span class='n'>{html.escape(json.dumps(value))}</span>"


def _tree(value: Any, m: _Masker, key: str | None = None) -> str:
    label = f"<span class='k'>{html.escape(json.dumps(m(key), ensure_ascii=False))}</span>: " if key is not None else ""
    if isinstance(value, dict):
        items = [_tree(v, m, str(k)) for k, v in value.items()]
        return _folder(label, "{", "}", f"{len(items)} keys", items)
    if isinstance(value, list):
        items = [_tree(v, m, None) for v in value]
        return _folder(label, "[", "]", f"{len(items)} items", items)
    return f"<div>{label}{_scalar(value, m)}</div>"


def _folder(label: str, open_: str, close: str, summary: str, items: list[str]) -> str:
    if not items:
        return f"<div>{label}{open_}{close}</div>"
    state = " open" if len(items) <= OPEN_BELOW else ""
    return (f"<details{state}><summary>{label}{open_} <span class='z'>{summary}</span></summary>"
            f"{''.join(items)}<div style='margin-left:-1.1em'>{close}</div></details>")


def json_html(data: Any, masker: _Masker | None = None) -> str:
    """A collapsible tree for JSON, or pretty-printed text when the document is very large."""
    m = masker or _Masker(())
    if _count(data, MAX_TREE_NODES) > MAX_TREE_NODES:
        return _pre(json.dumps(data, indent=2, ensure_ascii=False), m)
    return _tree(data, m)


def _pre(text: str, m: _Masker) -> str:
    note = ""
    if len(text) > MAX_TEXT_CHARS:
        note = f"<div class='meta'>… {len(text) - MAX_TEXT_CHARS} more characters (see the response object)</div>"
        text = text[:MAX_TEXT_CHARS]
    return f"<pre>{html.escape(m(text))}</pre>{note}"


# -- body ---------------------------------------------------------------------------------------------


def body_html(response: Any, masker: _Masker | None = None) -> str:
    m = masker or _Masker(())
    content: bytes = response.content or b""
    if not content:
        return "<div class='meta'>(empty body)</div>"
    kind = media_type(response)
    if is_json(response) or content.lstrip()[:1] in (b"{", b"["):
        try:
            return json_html(response.json(), m)
        except ValueError:
            pass
    if kind.startswith("image/") and kind != "image/svg+xml":
        if len(content) > MAX_IMAGE_BYTES:
            return f"<div class='meta'>{kind} image of {human_size(len(content))}, too large to show inline.</div>"
        data = base64.b64encode(content).decode("ascii")
        return f"<img src='data:{html.escape(kind)};base64,{data}' style='max-width:100%'>"
    if kind.startswith("text/") or kind in ("application/xml", "image/svg+xml", "application/javascript") \
            or kind.endswith("+xml") or _looks_textual(content):
        return _pre(response.text, m)
    return (f"<div class='meta'>{human_size(len(content))} of {html.escape(kind or 'binary data')} "
            f"(not shown; the bytes are in <code>response.content</code>).</div>")


def _looks_textual(content: bytes) -> bool:
    sample = content[:2048]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def body_text(response: Any, masker: _Masker | None = None, limit: int = 4000) -> str:
    """Plain-text body for terminals and text-only front ends."""
    m = masker or _Masker(())
    content: bytes = response.content or b""
    if not content:
        return "(empty body)"
    try:
        text = json.dumps(response.json(), indent=2, ensure_ascii=False)
    except ValueError:
        if not (media_type(response).startswith("text/") or _looks_textual(content)):
            return f"({human_size(len(content))} of {media_type(response) or 'binary data'})"
        text = response.text
    text = m(text)
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit} more characters)"


# -- whole response -----------------------------------------------------------------------------------


def _headers_table(pairs: list[tuple[str, str]], m: _Masker) -> str:
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(m(v))}</td></tr>" for k, v in pairs)
    return f"<table>{rows}</table>"


def summary(response: Any) -> tuple[int, str, float, int]:
    elapsed = response.elapsed.total_seconds() * 1000 if response.elapsed is not None else 0.0
    return response.status_code, response.reason or "", elapsed, len(response.content or b"")


def render(response: Any, *, secrets: Iterable[str | None] = (), note: str | None = None) -> dict[str, str]:
    """A MIME bundle (HTML and plain text) for ``response``; ``secrets`` are masked wherever they appear."""
    m = _Masker(secrets)
    code, reason, elapsed, size = summary(response)
    request = response.request
    req_url = m(masked_url(str(request.url))) if request is not None else ""
    method = request.method if request is not None else ""
    req_headers = masked_headers(request.headers) if request is not None else []
    resp_headers = masked_headers(response.headers)
    head = (f"<div><span class='st {_status_class(code)}'>{code} {html.escape(reason)}</span>"
            f"<span class='meta'>{elapsed:.0f} ms · {human_size(size)}</span>"
            f"<span class='meta'>{html.escape(method)} {html.escape(req_url)}</span></div>")
    redirects = ""
    if response.history:
        hops = " → ".join(f"{r.status_code} {html.escape(m(masked_url(r.url)))}" for r in response.history)
        redirects = f"<div class='meta'>after {hops}</div>"
    parts = [
        STYLE, "<div class='nb-oauth-resp'>", head, redirects,
        f"<details><summary>Response headers ({len(resp_headers)})</summary>"
        f"{_headers_table(resp_headers, m)}</details>",
        f"<details><summary>Request headers ({len(req_headers)})</summary>{_headers_table(req_headers, m)}</details>",
        f"<div style='margin-top:.4em'>{body_html(response, m)}</div>",
    ]
    if note:
        parts.append(f"<div class='meta' style='margin:.4em 0 0 0'>{html.escape(note)}</div>")
    parts.append("</div>")
    text = f"{code} {reason} · {elapsed:.0f} ms · {human_size(size)} · {method} {req_url}\n{body_text(response, m)}"
    if note:
        text += f"\n{note}"
    return {"text/html": "".join(parts), "text/plain": text}


# -- --as: the value bound to the notebook variable ---------------------------------------------------


def records(data: Any) -> list[Any]:
    """The rows of a JSON document: a list itself, else the first list found inside an object (breadth first)."""
    if isinstance(data, list):
        return data
    queue = [data]
    while queue:
        item = queue.pop(0)
        if isinstance(item, dict):
            lists = [v for v in item.values() if isinstance(v, list)]
            if lists:
                return next((v for v in lists if v and all(isinstance(x, dict) for x in v)), lists[0])
            queue.extend(v for v in item.values() if isinstance(v, dict))
    return [data] if isinstance(data, dict) else []


def to_dataframe(data: Any) -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("--as dataframe needs pandas, which is not installed (pip install pandas).") from None
    rows = records(data)
    if rows and all(isinstance(r, dict) for r in rows):
        return pd.json_normalize(rows)
    return pd.DataFrame({"value": rows})


def to_value(response: Any, as_: str) -> tuple[Any, str]:
    """What ``--as`` binds, and a short description of it for the cell."""
    if as_ == "text":
        return response.text, f"str ({len(response.text)} characters)"
    if as_ in ("json", "dataframe"):
        try:
            data = response.json()
        except ValueError:
            raise ValueError(f"The body is not JSON (Content-Type {media_type(response) or 'missing'}).") from None
        if as_ == "json":
            size = f"{len(data)} entries" if isinstance(data, dict | list) else type(data).__name__
            return data, f"{type(data).__name__} ({size})"
        frame = to_dataframe(data)
        return frame, f"DataFrame ({frame.shape[0]} rows × {frame.shape[1]} columns)"
    return response, f"requests.Response ({response.status_code})"
