"""Reading one request written in the ``.http`` file style (as in VS Code's REST Client or JetBrains).

::

    # a comment (also // ...)
    POST https://api.example/items?page=1 HTTP/1.1
    Accept: application/json
    Content-Type: application/json

    {"name": "{{ITEM_NAME}}"}

The first non-comment line is ``METHOD URL`` (or a bare ``URL``, which means GET; a trailing
``HTTP/1.1`` is ignored). Lines right after it that start with ``?`` or ``&`` continue the query.
Header lines ``Name: value`` follow, then a blank line, then the body. ``{{NAME}}`` is filled
from the notebook's variables, then the environment. Every mistake is reported with its line
number and content, because a cell is edited by hand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..config import placeholders
from ..errors import ConfigError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
_HTTP_VERSION = re.compile(r"^HTTP/\d(\.\d)?$", re.IGNORECASE)
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_COMMENT = ("#", "//")


class HttpFileError(ConfigError):
    """The request cell cannot be read; the message names the line."""


@dataclass
class HttpRequest:
    """One request as written in the cell, placeholders filled."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def headers_dict(self) -> dict[str, str]:
        """Headers for ``requests``; repeated names are joined with ``, `` as HTTP allows."""
        out: dict[str, str] = {}
        for key, value in self.headers:
            existing = next((k for k in out if k.lower() == key.lower()), None)
            if existing is None:
                out[key] = value
            else:
                out[existing] = f"{out[existing]}, {value}"
        return out


def _error(number: int, line: str, problem: str, fix: str) -> HttpFileError:
    shown = line if len(line) <= 120 else line[:117] + "..."
    return HttpFileError(f"Line {number}: {problem}: {shown!r}.", fix=fix)


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith(_COMMENT)


def _fill(text: str, number: int, line: str, variables: Mapping[str, Any] | None) -> str:
    """Fill ``{{NAME}}`` so that an unknown name points at the line it is on."""
    try:
        return placeholders.fill(text, variables, where=f"Line {number} ({line.strip()[:80]!r})")
    except ConfigError as exc:
        raise HttpFileError(str(exc)) from None


def _looks_like_url(token: str) -> bool:
    return bool(re.match(r"^(https?://|\{\{)", token, re.IGNORECASE))


def _request_line(number: int, line: str) -> tuple[str, str]:
    compact = placeholders.PLACEHOLDER.sub(lambda m: "{{" + m.group(1) + "}}", line)  # "{{ X }}" is one word
    parts = compact.split()
    if parts and _HTTP_VERSION.match(parts[-1]) and len(parts) > 1:
        parts = parts[:-1]
    if len(parts) == 1:
        if _looks_like_url(parts[0]):
            return "GET", parts[0]
        if parts[0].upper() in METHODS:
            raise _error(number, line, f"{parts[0].upper()} has no URL",
                         f"Write the request line as '{parts[0].upper()} https://api.example/path'.")
        raise _error(number, line, "this is neither 'METHOD URL' nor a URL",
                     "Start the cell with a line like 'GET https://api.example/path'.")
    if len(parts) != 2:
        raise _error(number, line, "the request line has more than a method and a URL",
                     "Write 'METHOD URL' (spaces in the URL must be encoded as %20).")
    method, url = parts
    if method.upper() not in METHODS:
        raise _error(number, line, f"unknown HTTP method {method!r}", f"Use one of {', '.join(METHODS)}.")
    return method.upper(), url


def _check_url(number: int, line: str, url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise _error(number, line, f"the URL {url!r} is not an absolute http(s) URL",
                     "Write the URL in full, e.g. https://api.example/path.")


def _header(number: int, line: str) -> tuple[str, str]:
    name, sep, value = line.partition(":")
    if not sep or not _HEADER_NAME.match(name.strip()) or name != name.rstrip():
        raise _error(number, line, "not a header line (expected 'Name: value')",
                     "Put a blank line between the headers and the body, and write headers as 'Name: value'.")
    if any(c in value for c in "\r\n"):
        raise _error(number, line, "a header value cannot contain a line break", "Remove the line break.")
    return name.strip(), value.strip()


def parse(text: str, variables: Mapping[str, Any] | None = None) -> HttpRequest:
    """The request written in ``text``; :class:`HttpFileError` names the line of any mistake."""
    lines = text.splitlines()
    index = 0
    while index < len(lines) and (not lines[index].strip() or _is_comment(lines[index])):
        index += 1
    if index == len(lines):
        raise HttpFileError("The cell holds no request.",
                            fix="Write a request line such as 'GET https://api.example/me'.")
    number, line = index + 1, lines[index]
    method, url = _request_line(number, line.strip())
    url = _fill(url, number, line, variables)
    index += 1
    while index < len(lines) and lines[index].strip().startswith(("?", "&")):
        url += _fill(lines[index].strip(), index + 1, lines[index], variables)
        index += 1
    _check_url(number, line, url)
    headers: list[tuple[str, str]] = []
    while index < len(lines) and lines[index].strip():
        number, line = index + 1, lines[index]
        index += 1
        if _is_comment(line):
            continue
        name, value = _header(number, line)
        headers.append((_fill(name, number, line, variables), _fill(value, number, line, variables)))
    body_lines = [_fill(raw, index + 2 + i, raw, variables) for i, raw in enumerate(lines[index + 1:])]
    body = "\n".join(body_lines).strip("\n")
    return HttpRequest(method=method, url=url, headers=headers, body=body or None)


def with_default_content_type(request: HttpRequest) -> HttpRequest:
    """A JSON body without a Content-Type is sent as ``application/json`` (what the writer meant)."""
    if request.body is None or request.header("Content-Type") is not None:
        return request
    try:
        json.loads(request.body)
    except ValueError:
        return request
    return HttpRequest(request.method, request.url, [*request.headers, ("Content-Type", "application/json")],
                       request.body)
