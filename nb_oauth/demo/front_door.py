"""The address the browser-facing pages were reached at, behind a proxy.

A JupyterHub's jupyter-server-proxy forwards the browser's ``Host`` (the hub's name) to this
loopback server over plain http, under a path prefix. Authlib checks the authorization request's
URL against RFC 6749 §3.1 (https, or a loopback host), so without help it refuses every sign-in
page reached through a hub.

Only the front-channel pages (sign-in and consent at the authorization endpoint, device
verification, sign-out) are told where the browser really is:

* when the server has a front-channel URL (given, or worked out with ``"auto"``), its scheme, host
  and path prefix, whatever ``Host`` the request carries (a hub may have several names). A proxy
  may strip that prefix (jupyter-server-proxy's ``proxy/<port>``) or keep it (a route of
  configurable-http-proxy, e.g. the demo run as a JupyterHub service under ``/services/demo``);
* otherwise, for a request whose peer is on loopback (the proxy runs on this machine), the
  proxy's ``X-Forwarded-Proto`` / ``-Host`` / ``-Port`` / ``-Prefix`` headers, through Werkzeug's
  ``ProxyFix``. A peer elsewhere cannot make itself look like https.

Every other endpoint (token, revocation, introspection, device authorization, discovery, the
API) sees the request exactly as it came: the token endpoint keeps the https rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from werkzeug.middleware.proxy_fix import ProxyFix

from .constants import PATHS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The pages a browser opens; only these learn the front-channel address.
FRONT_CHANNEL_PATHS = frozenset({PATHS["authorization_endpoint"], PATHS["device_verification"], "/logout"})

_FORWARDED = ("HTTP_X_FORWARDED_PROTO", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PREFIX")


class FrontDoor:
    """WSGI middleware: the front-channel pages see the scheme, host and prefix the browser used."""

    def __init__(self, app: WSGIApplication, front_channel: Callable[[], str | None]) -> None:
        self.app = app
        self.front_channel = front_channel
        self._proxy_fix = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=1)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        front = self.front_channel() if path in FRONT_CHANNEL_PATHS or path.count("/") > 1 else None
        if front:
            # a proxy that keeps the path (a JupyterHub service's route) sends /<prefix>/authorize
            prefix = urlsplit(front).path.rstrip("/")
            if prefix and path.startswith(prefix + "/") and path[len(prefix):] in FRONT_CHANNEL_PATHS:
                path = environ["PATH_INFO"] = path[len(prefix):]
        if path not in FRONT_CHANNEL_PATHS:
            return self.app(environ, start_response)
        if front:
            _as_reached_at(environ, front)
            return self.app(environ, start_response)
        if _peer_is_loopback(environ) and any(environ.get(name) for name in _FORWARDED):
            return self._proxy_fix(environ, start_response)
        return self.app(environ, start_response)


def _as_reached_at(environ: dict[str, Any], front: str) -> None:
    """Make the request look as it does to the browser at ``front`` (``scheme://host[:port]/prefix``)."""
    parts = urlsplit(front)
    environ["wsgi.url_scheme"] = parts.scheme
    environ["HTTP_HOST"] = parts.netloc
    environ["SERVER_NAME"] = parts.hostname or environ.get("SERVER_NAME", "")
    environ["SERVER_PORT"] = str(parts.port or (443 if parts.scheme == "https" else 80))
    environ["SCRIPT_NAME"] = parts.path.rstrip("/")


def _peer_is_loopback(environ: dict[str, Any]) -> bool:
    try:
        address = ipaddress.ip_address(str(environ.get("REMOTE_ADDR", "")).split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback


def insecure_page_advice(url: str) -> str:
    """Why a sign-in page reached over plain http is refused, and how to serve it."""
    parts = urlsplit(url)
    shown = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return (
        f"This page was reached as {shown} over plain http, and OAuth 2.0 serves its sign-in pages only over "
        "https or on a loopback address (RFC 6749 §3.1). If a proxy serves this page over https (JupyterHub, "
        "Binder, jupyter-server-proxy), start the demo server with --front-channel-url set to the https "
        "address of its pages (for example https://<hub>/user/<you>/proxy/<port>), or with "
        "--front-channel-url auto from inside the Jupyter server; or let the proxy send X-Forwarded-Proto "
        "and X-Forwarded-Host. Opening the page on 127.0.0.1 also works."
    )
