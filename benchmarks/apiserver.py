"""A minimal JSON API on loopback: the cheapest server a bearer token can be spent on.

The demo API is a Flask app; its own cost would dilute the client-side overhead we want to
see. This one is stdlib ``http.server`` with HTTP/1.1 keep-alive and a fixed tiny body, so
the per-request time is close to what the client library itself spends.

Run it in its own process (``python -m benchmarks.apiserver``, prints the port) so the client
under test does not share the GIL with it, or in-process with :class:`ApiServer` when the
API must validate tokens against the in-process demo server.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = b'{"ok":true}'
UNAUTHORIZED = b'{"error":"invalid_token"}'


def _response(status: str, body: bytes, extra: str = "") -> bytes:
    """One pre-built response, written with a single send."""
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{extra}\r\n")
    return head.encode("ascii") + body


RESPONSE_OK = _response("200 OK", BODY)
TOKEN_TEMPLATE = ('{{"access_token":"{}","token_type":"Bearer","expires_in":3600,"refresh_token":"{}",'
                  '"scope":"profile items:read"}}')


def token_response() -> bytes:
    """A token endpoint that costs next to nothing: new random access and refresh tokens on every call."""
    body = TOKEN_TEMPLATE.format(secrets.token_urlsafe(32), secrets.token_urlsafe(32)).encode("ascii")
    return _response("200 OK", body, "Cache-Control: no-store\r\n")

RESPONSE_401 = _response("401 Unauthorized", UNAUTHORIZED, 'WWW-Authenticate: Bearer error="invalid_token"\r\n')

#: Decides whether a bearer token is acceptable; None means any non-empty token is.
Validator = Callable[[str], bool]


def _bearer(header: str | None) -> str:
    """The token of ``Bearer <token>`` (or ``DPoP <token>``: the DPoP case sends the same token bound to a key)."""
    if not header or not header.startswith(("Bearer ", "DPoP ")):
        return ""
    return header.split(" ", 1)[1].strip()


def make_handler(validator: Validator | None) -> type[BaseHTTPRequestHandler]:
    """GET: 200 with :data:`BODY` for an accepted token, else 401. POST: a fresh token response."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stalls

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            token = _bearer(self.headers.get("Authorization"))
            ok = bool(token) and (validator is None or validator(token))
            self.wfile.write(RESPONSE_OK if ok else RESPONSE_401)

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.wfile.write(token_response())

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class ApiServer:
    """The API on a daemon thread of this process."""

    def __init__(self, validator: Validator | None = None) -> None:
        self._httpd = _Server(("127.0.0.1", 0), make_handler(validator))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="bench-api")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/api/me"

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/token"

    def start(self) -> ApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.1 keep-alive on one connection: the same answers as :func:`make_handler` (no validator)."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            length = int(fields.get("content-length") or 0)
            if length:
                await reader.readexactly(length)
            if lines[0].startswith("POST"):
                writer.write(token_response())
            else:
                writer.write(RESPONSE_OK if _bearer(fields.get("authorization")) else RESPONSE_401)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass  # the client went away, or the server is shutting down
    finally:
        writer.close()


async def _serve_asyncio() -> None:
    """One thread, no lock handed between server threads: many concurrent connections stay cheap."""
    server = await asyncio.start_server(_serve_connection, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def main() -> None:
    """Serve until stdin closes (the parent's exit ends us), announcing the port on stdout.

    ``--asyncio``: the asyncio server, for cases that keep many connections busy at once.
    """
    if "--asyncio" in sys.argv[1:]:
        asyncio.run(_serve_asyncio())
        return
    server = _Server(("127.0.0.1", 0), make_handler(None))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
