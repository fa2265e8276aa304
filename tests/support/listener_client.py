"""A raw HTTP client for the callback listener and watches on it: the injected payloads, a client that sends
any bytes and reads what comes back, a fixture that records what every listener of a test accepted and how
many handlers ran at once, and checks that a listener binds loopback only and frees its port.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest

from nb_oauth import OAuth2Config
from nb_oauth.demo import PUBLIC_CLIENT_ID
from nb_oauth.redirect import listener as listener_mod
from nb_oauth.redirect.listener import CallbackListener

#: Every injected payload carries this marker, so a reflection is easy to spot.
MARK = "nbxq7"
INJECTIONS = (
    f"<script>alert('{MARK}')</script>",
    f"\"><script>{MARK}</script>",
    f"'><img src=x onerror=alert('{MARK}')>",
    f"</title><script>{MARK}</script>",
    f"<svg/onload={MARK}>",
    f"javascript:alert('{MARK}')//<b>",
    f"<iframe src=//evil/{MARK}></iframe>",
    f"{{{{7*7}}}}<{MARK}>",
)


# -- a tiny raw HTTP client ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What came back on one connection: the status (None for no status line), the body, a reset."""

    status: int | None
    head: bytes
    body: bytes
    reset: bool = False

    @property
    def answered(self) -> bool:
        return bool(self.head or self.body)


def fire(port: int, raw: bytes, *, host: str = "127.0.0.1", timeout: float = 15.0) -> Outcome:
    """Send ``raw`` on a fresh connection, half-close, and read until the server closes."""
    chunks: list[bytes] = []
    reset = False
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            try:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
            except OSError:  # the server answered early and reset: it refused the rest
                reset = True
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
    except (ConnectionResetError, BrokenPipeError):
        reset = True
    data = b"".join(chunks)
    head, _sep, body = data.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/\d\.\d (\d{3})", head)
    if not match:  # an HTTP/0.9-style answer is a bare body
        return Outcome(None, b"", data, reset)
    return Outcome(int(match.group(1)), head, body, reset)


def reflected(outcome: Outcome, payloads: list[str]) -> list[str]:
    """Injected payloads that came back verbatim (unescaped) in the answer."""
    text = (outcome.head + b"\r\n\r\n" + outcome.body).decode("utf-8", "replace")
    hits = [p for p in payloads if MARK in p and p in text]
    if re.search(rf"<(script|img|svg|iframe)[^>]*{MARK}|<{MARK}>", text):
        hits.append("raw marker markup")
    return hits


def request_bytes(method: str, target: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"",
                  version: str = "HTTP/1.1") -> bytes:
    lines = [f"{method} {target} {version}".rstrip(), *(f"{k}: {v}" for k, v in headers)]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def flat(pairs: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    return tuple(v for kv in pairs for v in kv)


def encode(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


# -- instrumentation ----------------------------------------------------------------------------------


@dataclass
class Watch:
    """What the listener did: every ``handle_params`` answer, and how many handlers ran at once."""

    answers: list[tuple[str, int]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def accepted(self) -> list[str]:
        with self.lock:
            return [q for q, status in self.answers if status == 200]


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> Watch:
    """Record accepted redirects and concurrent handlers of every listener started in the test."""
    w = Watch()
    original_params = CallbackListener.handle_params
    original_handle = listener_mod._Handler.handle

    def handle_params(self: CallbackListener, query: str, *, via_fragment: bool = False) -> tuple[int, bytes]:
        status, body = original_params(self, query, via_fragment=via_fragment)
        with w.lock:
            w.answers.append((query, status))
        return status, body

    def handle(self: listener_mod._Handler) -> None:
        with w.lock:
            w.active += 1
            w.max_active = max(w.max_active, w.active)
        try:
            original_handle(self)
        finally:
            with w.lock:
                w.active -= 1

    monkeypatch.setattr(CallbackListener, "handle_params", handle_params)
    monkeypatch.setattr(listener_mod._Handler, "handle", handle)
    return w


def listener_threads(port: int | None = None) -> list[str]:
    names = [t.name for t in threading.enumerate() if t.name.startswith("nb_oauth-listener")]
    return [n for n in names if port is None or n == f"nb_oauth-listener-{port}"]


def non_loopback_address(family: socket.AddressFamily = socket.AF_INET) -> str | None:
    """This machine's address on its outward interface (a UDP connect sends nothing)."""
    probes = ("10.255.255.255", "192.0.2.255") if family == socket.AF_INET else ("2001:db8::1", "fd00::ffff")
    address = None
    for probe in probes:
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                address = s.getsockname()[0]
                break
        except OSError:
            continue
    if family == socket.AF_INET and (not address or address.startswith("127.")):
        with contextlib.suppress(OSError):
            address = socket.gethostbyname(socket.gethostname())
    if not address or address.startswith("127.") or address in ("::1", "0.0.0.0", "::"):
        return None
    return address


def assert_port_released(port: int, host: str = "127.0.0.1") -> None:
    """Nobody listens any more, and a new listener can bind the very same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s, pytest.raises(ConnectionRefusedError):
        s.settimeout(5)
        s.connect((host, port))
    again = CallbackListener("x" * 32, host=host, port=port).start()
    try:
        assert again.port == port
    finally:
        again.close()
    assert not listener_threads(port)


# -- the login under attack -----------------------------------------------------------------------------


def code_config(demo, **kw: object) -> OAuth2Config:
    """The PKCE login against the demo server that the listener tests start and attack (no browser)."""
    base: dict[str, object] = dict(token_name="attacked", grant_type="authorization_code_with_pkce",
                                   auth_url=demo.url + "/authorize", access_token_url=demo.url + "/token",
                                   client_id=PUBLIC_CLIENT_ID, scope="profile items:read",
                                   authorize_using_browser=False, callback_timeout=180)
    base.update(kw)
    return OAuth2Config(**base)  # type: ignore[arg-type]
