"""A token endpoint on loopback whose next answer is whatever the current :class:`Case` says: a real HTTP
server for the cases with a reply, and a raw socket server for faults an HTTP framework will not produce."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from .servers import LocalServer, Reply, Seen
from .token_endpoint_cases import Case


class Endpoint:
    """A token endpoint whose next answer is whatever the current case says."""

    def __init__(self) -> None:
        self.case: Case | None = None
        self.http = LocalServer(self._answer)
        self.raw = RawServer(self._script)
        self.refresh_token_seen: str | None = None

    def _answer(self, seen: Seen, raw: bytes) -> Reply:
        assert self.case is not None and self.case.reply is not None
        self.refresh_token_seen = dict(seen.body).get("refresh_token")
        reply = self.case.reply
        if isinstance(reply.body, str) and "{refresh_token}" in reply.body:
            reply = Reply(reply.status, reply.body.replace("{refresh_token}", self.refresh_token_seen or ""),
                          reply.headers, reply.delay, reply.reset)
        return reply

    def _script(self, conn: socket.socket) -> None:
        assert self.case is not None and self.case.raw is not None
        self.case.raw(conn)

    def url(self) -> str:
        assert self.case is not None
        return (self.http.url if self.case.reply is not None else self.raw.url) + "/token"


class RawServer:
    """Reads one HTTP request per connection and then lets ``script(conn)`` answer however it likes."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.script = script
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.script(conn)
            except OSError:
                return

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()
