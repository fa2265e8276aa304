"""Case 4: 64 threads call the API at once with an expired token.

What counts is what the authorization server sees: nb_oauth must send exactly one refresh
request however many threads find the token expired, and no call may fail. The demo server
rotates refresh tokens (a used one is dead), so a client that refreshes more than once with
the same refresh token also produces failures; requests-oauthlib and Authlib, which have no
single-flight refresh, run the same storm beside it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

import nb_oauth
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .context import (
    HTTP_TIMEOUT,
    PASSWORD,
    SCOPE,
    USER,
    Bench,
    insecure_transport_for_oauthlib,
)
from .harness import CaseResult, median

THREADS = 64
NAME = "bench-storm"
OURS, ROL, AUTHLIB = "nb_oauth.session", "requests-oauthlib OAuth2Session", "Authlib OAuth2Session"


@dataclass
class Storm:
    """One storm's outcome for one client."""

    refreshes: int
    failures: int
    seconds: float
    errors: Counter[str] = field(default_factory=Counter)


def pooled(session: requests.Session) -> requests.Session:
    """Room for every thread's connection, so the pool itself adds no noise."""
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=THREADS)
    session.mount("http://", adapter)
    return session


def storm(bench: Bench, call: Callable[[], requests.Response], threads: int = THREADS) -> Storm:
    """Release ``threads`` callers at once; count refresh requests at the server and failed calls."""
    barrier = threading.Barrier(threads)
    errors: Counter[str] = Counter()
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            r = call()
            problem = None if r.status_code == 200 else f"HTTP {r.status_code}"
        except Exception as exc:  # every kind of failure counts, whatever the library raises
            problem = type(exc).__name__
        if problem:
            with lock:
                errors[problem] += 1

    before = bench.demo.stats["token:refresh_token"]
    workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    seconds = time.perf_counter() - start
    refreshes = bench.demo.stats["token:refresh_token"] - before
    return Storm(refreshes, sum(errors.values()), seconds, errors)


def nb_oauth_client(bench: Bench, api: str) -> tuple[Callable[[], requests.Response], float]:
    token = nb_oauth.get_new_access_token(bench.config(NAME, "password_credentials"))
    session = pooled(nb_oauth.session(NAME))
    return (lambda: session.get(api, timeout=HTTP_TIMEOUT)), token.expires_at.timestamp()  # type: ignore[union-attr]


def requests_oauthlib_client(bench: Bench, api: str) -> tuple[Callable[[], requests.Response], float]:
    from oauthlib.oauth2 import LegacyApplicationClient
    from requests_oauthlib import OAuth2Session

    holder: dict[str, Any] = {}
    session = pooled(OAuth2Session(client=LegacyApplicationClient(client_id=CONFIDENTIAL_CLIENT_ID),
                                   scope=SCOPE.split(), auto_refresh_url=bench.token_url,
                                   token_updater=lambda t: holder.update(token=t)))
    with insecure_transport_for_oauthlib():
        token = session.fetch_token(bench.token_url, username=USER, password=PASSWORD, scope=SCOPE,
                                    client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                                    timeout=HTTP_TIMEOUT)

    def call() -> requests.Response:
        return session.get(api, client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                           timeout=HTTP_TIMEOUT)

    return call, float(token["expires_at"])


def authlib_client(bench: Bench, api: str) -> tuple[Callable[[], requests.Response], float]:
    from authlib.integrations.requests_client import OAuth2Session

    holder: dict[str, Any] = {}
    # leeway=0: Authlib's default (60 s) would treat a 2-second token as expired on every call.
    session = pooled(OAuth2Session(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, scope=SCOPE,
                                   token_endpoint=bench.token_url, leeway=0,
                                   update_token=lambda t, **kw: holder.update(token=t)))
    token = session.fetch_token(bench.token_url, grant_type="password", username=USER, password=PASSWORD,
                                timeout=HTTP_TIMEOUT)
    return (lambda: session.get(api, timeout=HTTP_TIMEOUT)), float(token["expires_at"])


CLIENTS = {OURS: nb_oauth_client, ROL: requests_oauthlib_client, AUTHLIB: authlib_client}


def one_round(bench: Bench, lifetime: int, order: list[str]) -> dict[str, Storm]:
    """Short-lived tokens for every client, wait until all have expired, then one storm each.

    The refreshed tokens live long, so every refresh counted answers this one expiry, however
    slowly the machine runs the storm.
    """
    api = bench.demo.url + "/api/me"
    with bench.lifetime(lifetime):
        made = {name: CLIENTS[name](bench, api) for name in order}
    expired_at = max(expiry for _, expiry in made.values())
    time.sleep(max(0.0, expired_at - time.time()) + 0.05)
    results = {}
    for name in order:
        if name == ROL:
            with insecure_transport_for_oauthlib():
                results[name] = storm(bench, made[name][0])
        else:
            results[name] = storm(bench, made[name][0])
    return results


def run(bench: Bench) -> CaseResult:
    rounds, lifetime = (1, 1) if bench.quick else (5, 2)
    names = list(CLIENTS)
    per_client: dict[str, list[Storm]] = {name: [] for name in names}
    for i in range(rounds):
        order = names if i % 2 == 0 else list(reversed(names))
        for name, result in one_round(bench, lifetime, order).items():
            per_client[name].append(result)
    ours = per_client[OURS]
    passed = all(s.refreshes == 1 and s.failures == 0 for s in ours)
    return CaseResult(
        name="refresh_storm",
        title=f"4. Refresh storm: {THREADS} threads, one expired token",
        unit="refresh requests at the server per storm",
        ours=median([s.refreshes for s in ours]),
        baseline=None,
        ratio=None,
        repetitions=rounds,
        target="exactly 1 refresh and 0 failed calls in every storm",
        passed=passed,
        extra={
            "threads": THREADS,
            "token_lifetime_s": lifetime,
            "clients": {name: _describe(storms) for name, storms in per_client.items()},
        },
        notes=["Authlib runs with leeway=0 (its 60 s default would refresh a 2 s token on every call).",
               "The demo server rotates refresh tokens: a second refresh with the same refresh token fails."],
    )


def _describe(storms: list[Storm]) -> dict[str, Any]:
    errors: Counter[str] = Counter()
    for s in storms:
        errors.update(s.errors)
    return {
        "refreshes_per_storm": [s.refreshes for s in storms],
        "failed_calls_per_storm": [s.failures for s in storms],
        "max_refreshes": max(s.refreshes for s in storms),
        "max_failed_calls": max(s.failures for s in storms),
        "median_storm_ms": round(median([s.seconds for s in storms]) * 1e3, 1),
        "errors": dict(errors),
    }
