"""The callback listener's HTTP side: the server, the request handler, its pages and its caps.

Kept apart from the flow state in :mod:`.listener` so the wire-level defences (size and time
caps, escaped pages, strict headers, no logging) can be read on their own.  The handler only
talks to the flow through :class:`FlowEndpoint`, so this module never imports the listener.
"""

from __future__ import annotations

import contextlib
import html
import os
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

MAX_BODY = 64 * 1024
MAX_CONCURRENT = 64
SOCKET_TIMEOUT = 5.0
#: However slowly a client trickles bytes, its connection is cut after this many seconds.
MAX_REQUEST_SECONDS = 10.0
#: How long a new connection waits for the room an evicted idle one leaves.
EVICTION_WAIT = 2.0


class FlowEndpoint(Protocol):
    """What the handler needs from the flow it serves (implemented by ``CallbackListener``)."""

    path: str
    abort_path: str
    requests_seen: int

    def handle_params(self, query: str, *, via_fragment: bool = False) -> tuple[int, bytes]: ...

    def handle_abort(self, query: str) -> tuple[int, bytes]: ...


# -- pages -----------------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:36rem;margin:4rem auto;"
    "padding:0 1rem;color:#1f2328}h1{font-size:1.4rem}.ok{color:#1a7f37}.bad{color:#cf222e}"
    "code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}"
)


def page(title: str, message: str, *, ok: bool, detail: str | None = None, script: str | None = None,
         nonce: str | None = None) -> bytes:
    """A small, fully escaped HTML page."""
    css = "ok" if ok else "bad"
    extra = f"<p>{html.escape(detail)}</p>" if detail else ""
    js = f"<script nonce='{nonce}'>{script}</script>" if script and nonce else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1 class='{css}' id='title'>{html.escape(title)}</h1>"
        f"<p id='msg'>{html.escape(message)}</p>{extra}{js}</body></html>"
    ).encode()


RELAY_SCRIPT = """
(function () {
  var h = window.location.hash.slice(1);
  var msg = document.getElementById('msg');
  if (!h) { msg.textContent = 'Nothing came back from the provider in this URL. Return to the notebook.'; return; }
  history.replaceState(null, '', window.location.pathname);
  fetch(window.location.pathname, {method: 'POST', credentials: 'same-origin',
        headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: h})
    .then(function (r) { return r.text(); })
    .then(function (t) {
      var doc = new DOMParser().parseFromString(t, 'text/html');
      document.title = doc.title;
      document.body.replaceWith(document.adoptNode(doc.body));
    })
    .catch(function (e) { msg.textContent = 'Could not hand the result to the notebook: ' + e; });
})();
"""


# -- the server ------------------------------------------------------------------------------------


def _cut(request: socket.socket) -> None:
    with contextlib.suppress(OSError):
        request.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = False  # set in server_bind, per platform
    request_queue_size = MAX_CONCURRENT  # a burst of connections must not push the browser's into SYN retries

    def __init__(self, address: tuple[str, int], listener: FlowEndpoint, family: socket.AddressFamily) -> None:
        self.address_family = family
        self.listener = listener
        self.slots = threading.BoundedSemaphore(MAX_CONCURRENT)
        self._open: dict[socket.socket, list[Any]] = {}  # connection -> [opened at, has sent a request]
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # A finished login leaves the port's connections in TIME_WAIT; without SO_REUSEADDR the next login
        # on the same (registered) port fails for a minute.  On POSIX it never lets two listeners share a
        # port; on Windows it would let another process steal it, so the exclusive flag is used there.
        if os.name == "nt":
            self.socket.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_EXCLUSIVEADDRUSE", -5), 1)
        else:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        super().server_bind()

    def process_request(self, request, client_address):  # type: ignore[no-untyped-def]
        # At most MAX_CONCURRENT open connections.  When they are all taken, the oldest connection that has
        # not sent a request yet makes room: idle connections (a flood, or a browser's speculative pre-connects)
        # must not keep the real redirect out until they time out.
        if not self.slots.acquire(blocking=False):
            self._evict_oldest_idle()
            if not self.slots.acquire(timeout=EVICTION_WAIT):
                self.shutdown_request(request)
                return
        with self._open_lock:
            self._open[request] = [time.monotonic(), False]
        try:
            super().process_request(request, client_address)
        except Exception:
            self._forget(request)
            raise

    def _evict_oldest_idle(self) -> None:
        with self._open_lock:
            idle = [(opened, sock) for sock, (opened, busy) in self._open.items() if not busy]
        if idle:
            _cut(min(idle, key=lambda pair: pair[0])[1])

    def mark_busy(self, request: socket.socket) -> None:
        """The connection has sent a whole request: it is answered, never evicted."""
        with self._open_lock:
            if request in self._open:
                self._open[request][1] = True

    def _forget(self, request: socket.socket) -> None:
        with self._open_lock:
            self._open.pop(request, None)
        self.slots.release()

    def process_request_thread(self, request, client_address):  # type: ignore[no-untyped-def]
        # The socket timeout restarts with every byte received, so a client trickling bytes would keep its
        # slot for ever: a hard deadline per connection frees it.
        deadline = threading.Timer(MAX_REQUEST_SECONDS, _cut, (request,))
        deadline.daemon = True
        deadline.start()
        try:
            super().process_request_thread(request, client_address)
        finally:
            deadline.cancel()
            self._forget(request)

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # a broken client connection is not the user's problem; never print what it sent


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = SOCKET_TIMEOUT
    protocol_version = "HTTP/1.0"
    server_version = "nb_oauth"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # request lines carry codes and tokens: never log them

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Malformed requests: our own escaped page instead of the default (which echoes input).
        with contextlib.suppress(OSError):
            self._send(code, page("Bad request", "This request could not be read.", ok=False))

    def _send(self, status: int, body: bytes, *, nonce: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        script = f"'nonce-{nonce}'" if nonce else "'none'"
        self.send_header("Content-Security-Policy",
                         f"default-src 'none'; style-src 'unsafe-inline'; script-src {script}; connect-src 'self'; "
                         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        self._route(None)

    def do_GET(self) -> None:  # noqa: N802
        self._route(None)

    def do_POST(self) -> None:  # noqa: N802
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self._send(413, page("Request too large", "This request is not a login result.", ok=False))
            return
        body = self.rfile.read(length) if length else b""
        self._route(body.decode("utf-8", errors="replace"))

    def _route(self, form_body: str | None) -> None:
        self.server.mark_busy(self.request)
        listener = self.server.listener
        listener.requests_seen += 1
        try:
            parts = urlsplit(self.path)
        except ValueError:
            self._send(400, page("Bad request", "This request could not be read.", ok=False))
            return
        path = parts.path.rstrip("/") or "/"
        if path == listener.abort_path:
            status, body = listener.handle_abort(parts.query)
            self._send(status, body)
            return
        if path != listener.path.rstrip("/") and path != (listener.path.rstrip("/") or "/"):
            self._send(404, page("Not found", "Nothing here. This address only receives a login result.", ok=False))
            return
        if form_body is None and not parts.query:
            if self.command == "HEAD":
                self._send(200, b"")
                return
            nonce = secrets.token_urlsafe(12)
            self._send(200, page("Finishing login…", "Handing the result to the notebook…", ok=True,
                                 script=RELAY_SCRIPT, nonce=nonce), nonce=nonce)
            return
        status, body = listener.handle_params(form_body if form_body is not None else parts.query,
                                              via_fragment=form_body is not None)
        self._send(status, body)
