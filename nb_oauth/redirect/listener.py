"""The kernel-local callback listener: where the browser lands after the login.

It binds loopback only, serves one path, and ends the flow only for a request that carries
this flow's ``state``.  Anything else (a wrong or missing state, a probe, a favicon) gets a
small error page and the flow keeps waiting, so nobody else can end or hijack it.  For the
implicit grant the token arrives in the URL fragment, which browsers never send: a relay page
posts it back.  Every page is escaped; nothing received is ever logged.
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from ..errors import (
    AuthorizationDeniedError,
    FlowCancelledError,
    FlowTimeoutError,
    ListenerError,
    OAuthError,
)
from ._http import (  # noqa: F401  (re-exported: the HTTP side used to live here)
    _STYLE,
    MAX_BODY,
    MAX_CONCURRENT,
    MAX_REQUEST_SECONDS,
    RELAY_SCRIPT,
    SOCKET_TIMEOUT,
    FlowEndpoint,
    _cut,
    _Handler,
    _Server,
    page,
)

DEFAULT_CALLBACK_TIMEOUT = 300.0


def callback_timeout(override: float | None = None) -> float:
    """Seconds a flow waits for the redirect: the config's, else ``NB_OAUTH_CALLBACK_TIMEOUT``, else 300."""
    if override:
        return float(override)
    try:
        value = float(os.environ.get("NB_OAUTH_CALLBACK_TIMEOUT", DEFAULT_CALLBACK_TIMEOUT))
    except ValueError:
        return DEFAULT_CALLBACK_TIMEOUT
    return value if value > 0 else DEFAULT_CALLBACK_TIMEOUT


def loopback_addresses(host: str) -> list[str]:
    """The addresses to listen on for ``host``: both loopbacks for ``localhost``, else the host itself."""
    if host == "localhost" or host.endswith(".localhost"):
        return ["127.0.0.1", "::1"]
    return [host]


class _TwinTaken(Exception):
    """A free IPv4 port whose IPv6 twin is in use: pick another port."""


@dataclass(frozen=True)
class CallbackResult:
    """The parameters that came back on the redirect, and whether they came in the fragment."""

    params: dict[str, str]
    via_fragment: bool = False


class CallbackListener:
    """Waits for the one redirect that carries ``expected_state``.

    Use as a context manager, or call :meth:`start` and :meth:`close`; the port is released in
    every case (success, error, timeout, interrupt).
    """

    def __init__(
        self,
        expected_state: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/callback",
        on_result: Callable[[CallbackResult | None, OAuthError | None], None] | None = None,
    ) -> None:
        if not path.startswith("/"):
            path = "/" + path
        self.expected_state = expected_state
        self.host = host
        self.requested_port = port
        self.path = path
        self.abort_path = (path.rstrip("/") or "") + "/abort"
        self.rejected = 0
        self.requests_seen = 0
        self._on_result = on_result
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._result: CallbackResult | None = None
        self._error: OAuthError | None = None
        self._server: _Server | None = None
        self._servers: list[_Server] = []
        self._thread: threading.Thread | None = None
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> CallbackListener:
        for _attempt in range(20):  # a free port whose IPv6 twin is taken: try another free port
            try:
                self._servers = self._bind_all()
                break
            except _TwinTaken:
                continue
        else:
            raise ListenerError(f"No free port was found on both loopback addresses of {self.host}.")
        self._server = self._servers[0]
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"nb_oauth-listener-{self.port}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self._thread = self._threads[0]
        return self

    def _bind_all(self) -> list[_Server]:
        """One server per address ``host`` names: ``localhost`` is both 127.0.0.1 and ::1, since browsers
        try ::1 first, and another program listening there would receive the redirect."""
        addresses = loopback_addresses(self.host)
        servers = [self._bind(addresses[0], self.requested_port)]
        for address in addresses[1:]:
            try:
                servers.append(_Server((address, servers[0].server_address[1]), self, socket.AF_INET6))
            except OSError as exc:
                if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
                    continue  # no IPv6 loopback here, so nobody can listen there and no browser goes there
                for server in servers:
                    server.server_close()
                if not self.requested_port:
                    raise _TwinTaken from None
                raise ListenerError(
                    f"Port {self.requested_port} is free on 127.0.0.1 but taken on [{address}] (another program "
                    f"listens there), and browsers try [{address}] first for {self.host}: that program would "
                    f"receive the login's redirect ({exc.strerror or exc}).",
                    fix=f"Close what uses [{address}]:{self.requested_port}, use http://127.0.0.1:"
                        f"{self.requested_port}{self.path} as Callback URL, or leave it empty for a free port.",
                ) from None
        return servers

    def _bind(self, address: str, port: int) -> _Server:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        try:
            return _Server((address, port), self, family)
        except OSError as exc:
            if self.requested_port:
                raise ListenerError(
                    f"Port {self.requested_port} on {address} is already in use (or not allowed), so the "
                    f"callback listener cannot start ({exc.strerror or exc}).",
                    fix=f"Close what uses port {self.requested_port}, or leave Callback URL empty for a free port.",
                ) from None
            raise ListenerError(f"The callback listener could not start on {address}: {exc}.") from None

    @property
    def port(self) -> int:
        if self._server is None:
            return self.requested_port
        return int(self._server.server_address[1])

    @property
    def local_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    @property
    def abort_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.abort_path}?state={self.expected_state}"

    def close(self) -> None:
        servers, self._servers, self._server = self._servers, [], None
        for server in servers:
            # shutdown() returns only once serve_forever wakes from select(), up to its 0.1 s poll
            # interval later; shutting the listening socket wakes it at once (where the OS refuses,
            # the poll interval still ends it).
            with contextlib.suppress(OSError):
                server.socket.shutdown(socket.SHUT_RDWR)
            server.shutdown()
            server.server_close()
        threads, self._threads, self._thread = self._threads, [], None
        for thread in threads:
            thread.join(timeout=5)

    @property
    def closed(self) -> bool:
        return self._server is None

    def __enter__(self) -> CallbackListener:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- results -----------------------------------------------------------------------------------

    def _state_ok(self, params: dict[str, list[str]]) -> bool:
        values = params.get("state", [])
        return len(values) == 1 and hmac.compare_digest(values[0].encode(), self.expected_state.encode())

    def _finish(self, result: CallbackResult | None, error: OAuthError | None) -> bool:
        with self._lock:
            if self._done.is_set():
                return False
            self._result, self._error = result, error
            self._done.set()
        if self._on_result is not None:
            with contextlib.suppress(Exception):  # a UI callback must never break the listener
                self._on_result(result, error)
        return True

    def handle_params(self, query: str, *, via_fragment: bool = False) -> tuple[int, bytes]:
        """Check one set of redirect parameters; the status and page to answer with."""
        try:
            pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=100, strict_parsing=False)
        except ValueError:
            pairs = []
        params: dict[str, list[str]] = {}
        for key, value in pairs:
            params.setdefault(key, []).append(value)
        if self._done.is_set():
            return 409, page("Already done", "This login has already finished. You can close this tab.", ok=False)
        if not self._state_ok(params):
            self.rejected += 1
            return 400, page(
                "This link does not belong to the running login",
                "The state in this address does not match the login the notebook is waiting for, so it was ignored.",
                ok=False, detail="If you started a new login in the notebook, finish it in its own tab.",
            )
        single = {k: v[0] for k, v in params.items()}
        if "error" in single:
            err = AuthorizationDeniedError(
                "The authorization server did not grant access.",
                error=single.get("error"), error_description=single.get("error_description"),
            )
            self._finish(None, err)
            return 200, page("Authorization failed", f"The provider answered: {single.get('error')}.", ok=False,
                             detail=(single.get("error_description") or "")[:300] + " Return to the notebook for details.")
        if not any(k in single for k in ("code", "access_token", "id_token")):
            self.rejected += 1
            return 400, page("Nothing to finish", "This address carries neither a code nor a token.", ok=False)
        self._finish(CallbackResult(params=single, via_fragment=via_fragment), None)
        return 200, page("Login complete", "You may close this tab and return to the notebook.", ok=True)

    def handle_abort(self, query: str) -> tuple[int, bytes]:
        params: dict[str, list[str]] = {}
        try:
            pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=20)
        except ValueError:  # more fields than a cancel link has: not one of ours
            pairs = []
        for key, value in pairs:
            params.setdefault(key, []).append(value)
        if not self._state_ok(params):
            self.rejected += 1
            return 400, page("Not cancelled", "This cancel link does not belong to the running login.", ok=False)
        self.cancel("The login was cancelled from the browser.")
        return 200, page("Cancelled", "The login was cancelled. You can close this tab.", ok=False)

    def submit_redirect_url(self, url: str) -> None:
        """Paste mode: treat a redirected URL typed by the user like a request to the listener."""
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            parts = urlsplit("")
        query = parts.query or parts.fragment
        status, _ = self.handle_params(query, via_fragment=bool(parts.fragment and not parts.query))
        if status != 200 and not self._done.is_set():
            from ..errors import StateMismatchError

            raise StateMismatchError(
                "The pasted URL does not carry this login's state and a code or token.",
                fix="Paste the full address the browser shows after the login, from this attempt.",
            )

    def cancel(self, reason: str = "The login was cancelled.") -> None:
        self._finish(None, FlowCancelledError(reason))

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None, *, poll: float = 0.2,
             described_timeout: float | None = None) -> CallbackResult:
        """Block until the right redirect arrives (or error, cancel, timeout); always closes the port.

        ``described_timeout`` is the flow's whole timeout, named in the error (``timeout`` may be what is left of it).
        """
        limit = callback_timeout(timeout)
        shown = described_timeout or limit
        deadline = time.monotonic() + limit
        try:
            while not self._done.wait(timeout=min(poll, max(0.0, deadline - time.monotonic()))):
                if time.monotonic() >= deadline:
                    self._finish(None, FlowTimeoutError(
                        f"No login result reached the notebook within {shown:.3g} s."
                        + ("" if self.requests_seen else
                           f" Nothing at all arrived at {self.local_url}: if the login was finished, the provider "
                           "probably did not accept this redirect URI (it shows its own error page then)."),
                        fix=None if self.requests_seen else
                        "Register the redirect URI at the provider, or set callback_url to a registered loopback URL "
                        "with a fixed port; or run it again and finish the login in the browser tab."))
                    break
        finally:
            self.close()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    @property
    def result(self) -> CallbackResult | None:
        return self._result

    @property
    def error(self) -> OAuthError | None:
        return self._error


__all__ = ["CallbackListener", "CallbackResult", "HTTPStatus", "callback_timeout", "page"]
