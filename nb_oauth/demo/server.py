"""``DemoServer``: the demo authorization server on a background thread.

It binds a loopback port (``port=0`` picks a free one), serves with
Werkzeug's threaded server on a daemon thread, and exposes the knobs tests
need: live settings, request counters, early revocation and injected
token-endpoint failures.

``front_channel_url`` serves the browser-facing pages (sign-in, consent,
device verification) under another address, e.g. through a Jupyter server's
``/proxy/<port>/`` when the browser cannot reach this machine's loopback; the
token, discovery, key, revocation and API endpoints, and the issuer, stay on
loopback for the kernel.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .constants import PATHS
from .context import DemoContext, Fault, build_clients, generate_signing_keys
from .models import Settings, Stats, Store

#: ``front_channel_url="auto"``: through jupyter-server-proxy when the kernel is remote.
AUTO = "auto"


class _QuietRequestHandler(WSGIRequestHandler):
    """Keeps per-request access lines out of notebooks and test output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _format_host(host: str) -> str:
    """The host as it appears in a URL; wildcard binds are reached via loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class DemoServer:
    """An OAuth 2.0 / OpenID Connect authorization server for demos and tests."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        access_token_lifetime: int = 300,
        refresh_token_lifetime: int = 86400,
        device_code_lifetime: int = 600,
        device_interval: int = 1,
        jwt_access_tokens: bool = False,
        extra_redirect_uris: Iterable[str] = (),
        extra_redirect_prefixes: Iterable[str] = (),
        public_url: str | None = None,
        log_requests: bool = False,
        front_channel_url: str | Callable[[], str | None] | None = None,
    ) -> None:
        """``front_channel_url``: where browsers reach the sign-in, consent and device pages.

        None (the default) means the issuer URL itself. A URL (``http(s)://host[:port]/path``)
        is used as is; a callable is asked on every request (None: the issuer URL). ``"auto"``
        asks :func:`nb_oauth.redirect.callback.detect_environment` on every request: on a remote
        kernel whose Jupyter server's public base URL is known, the pages are served as
        ``<public base URL>proxy/<port>`` (jupyter-server-proxy), else on the issuer URL.
        While a front channel is set, discovery's ``authorization_endpoint`` and the device
        flow's ``verification_uri`` point at it, and redirect URIs on its origin are accepted.
        """
        self.host = host
        self.port = port
        self.settings = Settings(
            access_token_lifetime=access_token_lifetime,
            refresh_token_lifetime=refresh_token_lifetime,
            device_code_lifetime=device_code_lifetime,
            device_interval=device_interval,
            jwt_access_tokens=jwt_access_tokens,
        )
        self._public_url = public_url.rstrip("/") if public_url else None
        self._log_requests = log_requests
        if isinstance(front_channel_url, str) and front_channel_url != AUTO:
            front_channel_url = _checked_front_channel(front_channel_url)
        self._front_channel_setting = front_channel_url
        clients = build_clients(
            tuple(extra_redirect_uris), tuple(extra_redirect_prefixes), front_channel=self._front_channel
        )
        self._ctx = DemoContext(
            store=Store(clients),
            settings=self.settings,
            keys=generate_signing_keys(),
            front_channel=self._front_channel,
        )
        self.app: Flask = create_app(self._ctx)
        self._httpd: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> DemoServer:
        """Bind and serve on a daemon thread; returns ``self`` for chaining."""
        with self._lock:
            if self._httpd is not None:
                return self
            handler = WSGIRequestHandler if self._log_requests else _QuietRequestHandler
            httpd = make_server(self.host, self.port, self.app, threaded=True, request_handler=handler)
            self.port = httpd.server_port
            self._ctx.issuer = self._public_url or f"http://{_format_host(self.host)}:{self.port}"
            # Cookies ignore ports; a per-port name keeps two servers' logins apart.
            self.app.config["SESSION_COOKIE_NAME"] = f"nb_oauth_demo_{self.port}"
            self._httpd = httpd
            self._thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"nb_oauth-demo-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        with self._lock:
            httpd, thread = self._httpd, self._thread
            self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def wait(self) -> None:
        """Block until the server stops (used by the command line)."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            thread.join(timeout=0.5)

    def __enter__(self) -> DemoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------
    @property
    def url(self) -> str:
        """The issuer URL, without a trailing slash."""
        if not self._ctx.issuer:
            raise RuntimeError("DemoServer is not started; call start() first.")
        return self._ctx.issuer

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def endpoints(self) -> dict[str, str]:
        """Absolute back-channel URLs of every endpoint (on the issuer), keyed like the discovery document."""
        return {name: self.url + path for name, path in PATHS.items()}

    @property
    def front_channel_url(self) -> str | None:
        """Where browsers reach the pages right now (without a trailing slash); None: on :attr:`url`."""
        return self._front_channel()

    def _front_channel(self) -> str | None:
        setting = self._front_channel_setting
        if setting is None:
            return None
        if setting == AUTO:
            return self._auto_front_channel()
        if isinstance(setting, str):
            return setting
        value = setting()
        return _checked_front_channel(value) if value else None

    def _auto_front_channel(self) -> str | None:
        if not self.port:
            return None  # not started: no port to proxy to yet
        from ..redirect.callback import detect_environment

        env = detect_environment()
        if env.remote and env.public_base_url:
            return f"{env.public_base_url}proxy/{self.port}"
        return None

    # -- test knobs ----------------------------------------------------------------
    @property
    def stats(self) -> Stats:
        """Request counters (a missing key reads 0).

        ``token`` counts every POST to /token and ``token:<grant_type>`` each
        grant type (injected faults included, also as ``token:injected_fault``);
        ``authorize`` counts authorization responses sent back to a client
        (codes, tokens and error redirects, one per completed flow);
        ``device_authorization``, ``device:approved``, ``device:denied``,
        ``revoke``, ``introspect``, ``userinfo``, ``jwks``, ``discovery`` and
        ``api`` (any /api/ request) count what their names say.
        """
        return self._ctx.stats

    def reset_stats(self) -> None:
        self._ctx.stats.reset()

    def revoke_all_access_tokens(self) -> int:
        """Revoke every issued access token early; refresh tokens keep working."""
        return self._ctx.store.revoke_all_access_tokens()

    def fail_next_token_requests(
        self,
        n: int,
        status: int = 503,
        body: str | dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> None:
        """Answer the next ``n`` POSTs to ``/token`` with this canned response.

        ``body`` defaults to an RFC 6749 style ``temporarily_unavailable``
        error; a dict is sent as JSON, a string as is (JSON if it parses).
        ``n=0`` disarms.
        """
        if body is None:
            body = {
                "error": "temporarily_unavailable",
                "error_description": "Injected failure for testing.",
            }
        if isinstance(body, dict):
            text = json.dumps(body)
            kind = content_type or "application/json"
        else:
            text = body
            kind = content_type or ("application/json" if _is_json(body) else "text/plain; charset=utf-8")
        self._ctx.faults.arm(n, Fault(status=status, body=text, content_type=kind))

    def __repr__(self) -> str:
        where = self._ctx.issuer or f"{self.host}:{self.port} (not started)"
        return f"<DemoServer {where}>"


def _checked_front_channel(url: str) -> str:
    """An absolute http(s) URL without query or fragment, trailing slash removed."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"front_channel_url {url!r} is not a valid URL ({exc}).") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(
            f"front_channel_url must be 'auto' or an http(s) URL without query or fragment, not {url!r}."
        )
    return url.rstrip("/")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
