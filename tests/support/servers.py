"""Small real HTTP servers on loopback for tests: a recording proxy and a scripted endpoint."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import requests


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: list[tuple[str, str]]


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0
    reset: bool = False  # close the connection without answering


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass  # clients that hang up early are part of the tests


def _handler(owner: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = Seen(self.command, parts.path, parse_qsl(parts.query, keep_blank_values=True),
                        {k.lower(): v for k, v in self.headers.items()},
                        parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
            owner.seen.append(seen)
            reply = owner.responder(seen, raw)
            if reply.delay:
                threading.Event().wait(reply.delay)
            if reply.reset:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            body = reply.body.encode() if isinstance(reply.body, str) else reply.body
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return Handler


class LocalServer:
    """A loopback HTTP server whose answers come from ``responder(seen, raw_body) -> Reply``."""

    def __init__(self, responder: Callable[[Seen, bytes], Reply]) -> None:
        self.responder = responder
        self.seen: list[Seen] = []
        self.server = _Server(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def recording_proxy(target: str) -> LocalServer:
    """Forwards every request to ``target`` unchanged and remembers what it saw."""

    def forward(seen: Seen, raw: bytes) -> Reply:
        url = target + seen.path + ("?" + requests.compat.urlencode(seen.query) if seen.query else "")
        headers = {k: v for k, v in seen.headers.items() if k not in ("host", "content-length", "connection")}
        r = requests.request(seen.method, url, data=raw, headers=headers, allow_redirects=False, timeout=10)
        hop = ("content-length", "connection", "transfer-encoding", "content-encoding", "keep-alive")
        return Reply(r.status_code, r.content, {k: v for k, v in r.headers.items() if k.lower() not in hop})

    return LocalServer(forward)
