"""Connection pressure on a listener: an attacker that keeps N idle connections open, re-opening
each one the listener closes."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def idle_connections(port: int, count: int, first_bytes: bytes = b"") -> Iterator[list[socket.socket]]:
    """Hold ``count`` connections to ``127.0.0.1:port`` (each sends ``first_bytes`` and then nothing)."""
    held: list[socket.socket] = []
    stop = threading.Event()
    full = threading.Event()

    def keep_holding() -> None:
        while not stop.is_set():
            while len(held) < count and not stop.is_set():
                try:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                except OSError:
                    break  # the listener is gone: the login is over
                if first_bytes:
                    s.sendall(first_bytes)
                held.append(s)
            full.set()
            for s in list(held):
                s.setblocking(False)
                try:
                    if s.recv(1) == b"":
                        held.remove(s)
                        s.close()
                except BlockingIOError:
                    pass
                except OSError:
                    held.remove(s)
                    s.close()
            stop.wait(0.05)

    attacker = threading.Thread(target=keep_holding, daemon=True)
    attacker.start()
    full.wait(30)
    try:
        yield held
    finally:
        stop.set()
        attacker.join(10)
        for s in held:
            s.close()
