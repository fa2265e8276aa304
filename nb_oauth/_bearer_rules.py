"""Where a token may go: plain http only to loopback or by opt-in, a 401 counts only from the request's own
origin, and a token placed in the URL is taken out again before a URL is shown."""

from __future__ import annotations

import functools
from typing import Any


def check_bearer_transport(url: str, name: str, allow_insecure_http: bool) -> None:
    """A token goes over plain http only to loopback, or with the config's ``allow_insecure_http``."""
    if allow_insecure_http or url[:7].lower() != "http://":
        return
    check_plain_http_netloc(url[7:].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0], name)  # urlsplit's netloc


def check_plain_http_netloc(netloc: str, name: str) -> None:
    """The plain-http rule for a request whose ``host[:port]`` is ``netloc`` (no opt-in given)."""
    loopback, host = _loopback_netloc(netloc)
    if not loopback:
        from .errors import ConfigError

        raise ConfigError(
            f"Token {name!r} would be sent over plain http to {host or 'a non-loopback host'}, where anyone on "
            "the network can read and reuse it; nothing was sent.",
            fix=f"Use https, or opt in for this config alone with allow_insecure_http=True (token {name!r}).")


@functools.lru_cache(maxsize=256)  # checked on every plain-http request: the answer for a host never changes
def _loopback_netloc(netloc: str) -> tuple[bool, str | None]:
    """Whether the host of ``http://<netloc>`` is loopback, and that host."""
    from urllib.parse import urlsplit

    from .config import is_loopback_host

    try:
        host = urlsplit("http://" + netloc).hostname
    except ValueError:
        host = None
    return is_loopback_host(host), host


def same_origin(request: Any, response: Any) -> bool:
    """Whether an httpx response answers the request the token was put on, not a redirect to another origin:
    a 401 from elsewhere says nothing about this token and must not spend a refresh."""
    sent, answered = request.url, response.request.url
    return bool((sent.scheme, sent.host, sent.port) == (answered.scheme, answered.host, answered.port))


def without_param(url: str, key: str) -> str:
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url)
    if key not in parts.query:
        return url
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != key])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def hint_on_bare_403(name: str, headers: Any, url: str | None) -> bool:
    """A 403 without a ``WWW-Authenticate`` challenge often means a bad token, not a missing permission: say so
    (True when said)."""
    if headers.get("WWW-Authenticate"):
        return False
    from urllib.parse import urlsplit

    from ._presenter import presenter

    parts = urlsplit(url or "")
    where = f"{parts.scheme}://{parts.netloc}{parts.path}" if parts.netloc else "The server"
    presenter().notice(
        f"{where} answered 403 Forbidden without a WWW-Authenticate header. Some resource servers "
        "(django-oauth-toolkit's default views among them) answer a missing, expired, revoked or unknown "
        f"token this way, not only a missing permission. Check token {name!r}: "
        f"nb_oauth.tokens[{name!r}] shows its expiry and scope; nb_oauth.tokens.refresh({name!r}) "
        "gets a fresh one, or log in again; if the token is fine, ask for the scope this API needs.")
    return True
