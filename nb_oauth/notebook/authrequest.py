"""``%%authrequest``: send the ``.http``-style request of a cell with a stored token, show and bind the answer."""

from __future__ import annotations

import argparse
import re
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from .._store import tokens
from ..errors import OAuthError, redact
from .ui import token_secrets, valid_var


def run_authrequest(shell: Any, args: argparse.Namespace, cell: str) -> None:
    from ..importers.http_file import parse, with_default_content_type
    from .ui import show_error

    var = args.var or "response"
    if not valid_var(var):
        raise UsageError(f"--var {var!r} is not a valid Python variable name.")
    if args.name not in tokens:
        show_error(f"No token named {args.name!r} (stored: {', '.join(tokens.names()) or 'none yet'}).",
                   title="Unknown token")
        return
    try:
        request = with_default_content_type(parse(cell))
    except OAuthError as exc:
        show_error(str(exc), title="Request cell")
        return
    response = _send(args.name, request, args.timeout)
    if response is None:
        return
    _show_and_bind(shell, args, var, response)


def _send(name: str, request: Any, timeout: float | None) -> Any:
    import requests

    from .ui import show_error

    secrets = token_secrets(name)
    try:
        with tokens.session(name) as s:
            return s.request(request.method, request.url, headers=request.headers_dict(),
                             data=request.body.encode("utf-8") if request.body is not None else None,
                             timeout=timeout)
    except OAuthError as exc:
        show_error(str(exc), title=f"Token {name!r}")
    except requests.RequestException as exc:
        show_error(_network_message(request, exc, secrets + token_secrets(name)), title="Request failed")
    return None


def _network_message(request: Any, exc: Exception, secrets: list[str]) -> str:
    from urllib.parse import urlsplit

    from ..display.response_view import masked_url

    reason = re.search(r"(\[Errno[^\]]*\][^'\")]*)", str(exc))
    kind = type(exc).__name__
    why = reason.group(1).strip() if reason else ("timed out" if "Timeout" in kind else kind)
    host = urlsplit(request.url).netloc
    text = (f"{request.method} {masked_url(request.url)} could not be completed: {why} ({kind}). "
            f"Check that {host} is reachable; --timeout sets how long to wait.")
    return redact(text, secrets)


def _show_and_bind(shell: Any, args: argparse.Namespace, var: str, response: Any) -> None:
    from ..display.response_view import render, to_value
    from .ui import show_error

    secrets = token_secrets(args.name)
    try:
        value, what = to_value(response, args.as_)
    except (ValueError, ImportError) as exc:
        display(render(response, secrets=secrets), raw=True)
        show_error(f"{exc} Nothing was bound to {var!r}; the response is shown above.", title=f"--as {args.as_}")
        return
    shell.user_ns[var] = value
    display(render(response, secrets=secrets, note=f"{var} = {what}"), raw=True)
