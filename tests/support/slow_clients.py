"""Slow, stalled and trickling connections to a listener: connections held open, a poll that notes when the
server let go of each, and a client that sends its request one byte at a time and never finishes it."""

from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class Held:
    """A connection the test keeps open; ``closed_after`` is when the server let go of it."""

    sock: socket.socket
    opened: float
    closed_after: float | None = None


def closed_by_server(s: socket.socket) -> bool:
    """True once the server has closed (or reset) the connection, without blocking."""
    readable, _, _ = select.select([s], [], [], 0)
    if not readable:
        return False
    try:
        while True:
            data = s.recv(65536, getattr(socket, "MSG_DONTWAIT", 0))
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def hold(port: int, first: bytes) -> Held:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if first:
        s.sendall(first)
    return Held(s, time.monotonic())


def wait_closed(conns: list[Held], limit: float) -> None:
    """Poll until the server has closed every connection (or ``limit`` passes); note when each went."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(h.closed_after is None for h in conns):
        for h in conns:
            if h.closed_after is None and closed_by_server(h.sock):
                h.closed_after = time.monotonic() - h.opened
        time.sleep(0.05)


def watch_in_background(conns: list[Held], limit: float) -> threading.Thread:
    thread = threading.Thread(target=wait_closed, args=(conns, limit), daemon=True)
    thread.start()
    return thread


def trickle(port: int, every: float, give_up: float, out: list[float | None]) -> None:
    """Send a request one byte at a time, never finishing it; note when the server cut it off."""
    started = time.monotonic()
    stream = b"GET /callback?state=" + b"a" * 100_000
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            for i in range(len(stream)):
                if time.monotonic() - started > give_up:
                    out.append(None)
                    return
                try:
                    s.send(stream[i:i + 1])
                except OSError:
                    out.append(time.monotonic() - started)
                    return
                if closed_by_server(s):
                    out.append(time.monotonic() - started)
                    return
                time.sleep(every)
    except OSError:
        out.append(time.monotonic() - started)

