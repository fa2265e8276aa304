"""Functions the Dask tests run on workers.

They live apart from the test modules so that a worker, importing them, imports nothing else
of the tests: no demo credentials end up in a worker's memory that nb_oauth did not put there.
"""

from __future__ import annotations

import os
import time
from typing import Any


def get_many(api: str, name: str, n: int) -> tuple[int, int, int]:
    """``n`` GETs with ``nb_oauth.session(name)``: (calls, failed calls, calls rescued by the 401 retry)."""
    import nb_oauth

    session = nb_oauth.session(name)
    failed = rescued = 0
    for _ in range(n):
        r = session.get(api)
        failed += r.status_code != 200
        rescued += bool(r.history)
    return n, failed, rescued


def get_until(api: str, name: str, stop_event: str) -> tuple[int, int, int]:
    """GETs until the Dask event ``stop_event`` is set: (calls, failed calls, calls rescued by the 401 retry)."""
    from distributed import Event

    import nb_oauth

    session = nb_oauth.session(name)
    stop = Event(stop_event)
    calls = failed = rescued = 0
    while True:  # one round at least, however late the task starts
        for _ in range(10):
            r = session.get(api)
            calls += 1
            failed += r.status_code != 200
            rescued += bool(r.history)
            time.sleep(0.005)
        if stop.is_set():
            return calls, failed, rescued


def get_with(api: str, session_or_auth: Any) -> int:
    """One GET with an object pickled in the kernel (a session, or an auth for requests)."""
    import requests

    if isinstance(session_or_auth, requests.Session):
        return session_or_auth.get(api).status_code
    return requests.get(api, auth=session_or_auth, timeout=30).status_code


def httpx_calls(api: str, name: str, n: int, pickled_auth: Any = None) -> tuple[int, int, int]:
    """``n`` GETs each with httpx sync (a fresh ``nb_oauth.auth``), httpx sync with the pickled auth, and httpx async."""
    import asyncio

    import httpx

    import nb_oauth

    with httpx.Client(auth=nb_oauth.auth(name)) as client:
        fresh = sum(client.get(api).status_code == 200 for _ in range(n))
    with httpx.Client(auth=pickled_auth or nb_oauth.auth(name)) as client:
        pickled = sum(client.get(api).status_code == 200 for _ in range(n))

    async def run() -> int:
        async with httpx.AsyncClient(auth=nb_oauth.auth(name)) as client:
            return sum([(await client.get(api)).status_code == 200 for _ in range(n)])

    return fresh, pickled, asyncio.run(run())


def call_error(api: str, name: str, seconds: float) -> tuple[str, str, float]:
    """Call until an error is raised or ``seconds`` pass: (error class, message, seconds it took)."""
    import nb_oauth

    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            nb_oauth.session(name).get(api)
        except Exception as exc:
            return f"{type(exc).__module__}.{type(exc).__qualname__}", str(exc), time.monotonic() - started
        time.sleep(0.05)
    return "", "", time.monotonic() - started


def is_oauth_error(exc_class: str) -> bool:
    import importlib

    import nb_oauth

    module, _, name = exc_class.rpartition(".")
    return issubclass(getattr(importlib.import_module(module), name), nb_oauth.OAuthError)


def pid() -> int:
    return os.getpid()


def errors_of(api: str, name: str, n: int) -> list[str]:
    """``n`` calls in a row; the error class name of each (empty when the call worked)."""
    import nb_oauth

    out = []
    for _ in range(n):
        try:
            nb_oauth.session(name).get(api)
            out.append("")
        except Exception as exc:
            out.append(type(exc).__name__)
    return out
