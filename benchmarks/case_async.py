"""Cases 8 and 9: async httpx: 1000 requests through ``asyncio.gather`` over 10 connections, and an expiry storm.

``httpx.AsyncClient(auth=nb_oauth.auth(name))`` against an ``AsyncClient`` whose auth sets a
static header, Authlib's ``AsyncOAuth2Client`` beside them; each gather is timed whole, the
variants take turns, the order flipping every turn. The threads each variant starts are
counted in a fresh event loop of its own: nb_oauth checks expiry on the event loop, so only a
real refresh may use a worker thread. Sequential requests (one ``await`` at a time) are
interleaved request by request. The storm (case 9) is the same gather at a token that has just
expired: the authorization server must see exactly one refresh, and no request may fail.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import httpx

import nb_oauth

from .case_httpx import authlib_client_class
from .context import HTTP_TIMEOUT, PASSWORD, SCOPE, USER, Bench, oauthlib_token, start_api_process, stop_api_process
from .harness import CaseResult, Repeats, interleave_requests, median, repeated_result, spread

TARGET = 1.10
MAX_EXTRA_THREADS = 2
GATHER, CONNECTIONS = 1000, 10
NAME, STORM_NAME = "bench-async", "bench-async-storm"
BASE, OURS, AUTHLIB = "AsyncClient, static-header auth", "AsyncClient(auth=nb_oauth.auth)", "Authlib AsyncOAuth2Client"


class StaticBearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.header = f"Bearer {token}"

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = self.header
        yield request


#: Requests queue for one of the connections as long as the gather needs: only the network may time out.
TIMEOUT = httpx.Timeout(HTTP_TIMEOUT, pool=None)


def _limits() -> httpx.Limits:
    return httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)


def make_clients(bench: Bench, token: nb_oauth.Token) -> dict[str, httpx.AsyncClient]:
    authlib = authlib_client_class("AsyncOAuth2Client")
    return {
        BASE: httpx.AsyncClient(auth=StaticBearer(token.access_token), limits=_limits(), timeout=TIMEOUT),
        OURS: httpx.AsyncClient(auth=nb_oauth.auth(NAME), limits=_limits(), timeout=TIMEOUT),
        AUTHLIB: authlib(bench.config(NAME).client_id, token=oauthlib_token(token), limits=_limits(),
                         timeout=TIMEOUT),
    }


async def gather(client: httpx.AsyncClient, url: str, n: int) -> list[int | str]:
    """Status codes, or the exception's name for a request that raised."""
    answers = await asyncio.gather(*(client.get(url) for _ in range(n)), return_exceptions=True)
    return [a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers]


def _checked(codes: list[int | str]) -> None:
    bad = [c for c in codes if c != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} of {len(codes)} requests failed (first: {bad[0]})")


def threads_started(bench: Bench, token: nb_oauth.Token, name: str, url: str, n: int) -> int:
    """Threads alive after one gather of ``name`` in a fresh event loop that were not alive before it."""

    async def once() -> int:
        before = {t.ident for t in threading.enumerate()}
        client = make_clients(bench, token)[name]
        async with client:
            _checked(await gather(client, url, n))
        return len({t.ident for t in threading.enumerate()} - before)

    return asyncio.run(once())


async def sequential(clients: dict[str, httpx.AsyncClient], url: str, n: int, repeats: int) -> Repeats:
    """The async twin of :func:`interleave_requests`: one awaited request per variant in turn."""
    names = list(clients)
    orders = (names, names[::-1])
    clock = time.perf_counter
    for _ in range(20):
        for name in names:
            await clients[name].get(url)
    runs = []
    for _ in range(repeats):
        times: dict[str, list[float]] = {name: [] for name in names}
        for i in range(n):
            for name in orders[i % 2]:
                start = clock()
                r = await clients[name].get(url)
                times[name].append(clock() - start)
                if r.status_code != 200:
                    raise RuntimeError(f"API answered {r.status_code}")
        runs.append(times)
    return Repeats(runs)


def run(bench: Bench) -> CaseResult:
    turns, repeats, n_seq, n = (1, 2, 30, 50) if bench.quick else (3, 5, 1000, GATHER)
    token = bench.nb_token(NAME, lifetime=3600)
    api, url = start_api_process("--asyncio")
    loop = asyncio.new_event_loop()
    try:
        threads = {name: threads_started(bench, token, name, url, n) for name in (BASE, OURS, AUTHLIB)}
        clients = make_clients(bench, token)

        def gathering(client: httpx.AsyncClient) -> Callable[[], None]:
            return lambda: _checked(loop.run_until_complete(gather(client, url, n)))

        rep = interleave_requests({name: gathering(c) for name, c in clients.items()}, requests=turns,
                                  repeats=repeats, warmup=1, settle=gc.collect)
        seq = loop.run_until_complete(sequential(clients, url, n_seq, repeats))
        for c in clients.values():
            loop.run_until_complete(c.aclose())
    finally:
        loop.close()
        stop_api_process(api)
    extra_threads = threads[OURS] - threads[BASE]
    result = repeated_result(
        name="async_gather",
        title=f"8. Async httpx: {n} requests through asyncio.gather over {CONNECTIONS} connections",
        unit=f"ms per gather of {n}",
        rep=rep, ours=OURS, base=BASE, target=TARGET, scale=1e3, counted=f"gathers of {n} requests",
        baseline_name=f"an httpx.AsyncClient ({CONNECTIONS} connections) whose auth sets a static header",
        extra={
            "threads_started": threads,
            "extra_threads": extra_threads,
            "sequential": {
                "per_repeat": seq.requests,
                "ratio_spread": spread(seq.ratios(OURS, BASE)),
                "variants": {k: spread([m * 1e6 for m in seq.medians(k)], 2) for k in seq.names},
                "variant_ratios": {k: spread(seq.ratios(k, BASE)) for k in seq.names if k != BASE},
                "added_us": round(median([(a - b) * 1e6 for a, b in zip(seq.medians(OURS), seq.medians(BASE),
                                                                          strict=True)]), 1),
            },
            "api": "the minimal API (asyncio, HTTP/1.1 keep-alive) in its own process, 11-byte JSON body",
        },
    )
    result.target = f"ratio ≤ {TARGET}, at most {MAX_EXTRA_THREADS} extra threads"
    result.passed = bool(result.passed) and extra_threads <= MAX_EXTRA_THREADS
    return result


# -- case 9: the expiry storm under gather -------------------------------------------------------------


async def _storm(client: httpx.AsyncClient, url: str, n: int) -> list[int]:
    async with client:
        return await gather(client, url, n)


def _ours(bench: Bench) -> tuple[Callable[[], httpx.AsyncClient], float]:
    token = nb_oauth.get_new_access_token(bench.config(STORM_NAME, "password_credentials"))
    return (lambda: httpx.AsyncClient(auth=nb_oauth.auth(STORM_NAME), limits=_limits(), timeout=TIMEOUT),
            token.expires_at.timestamp())  # type: ignore[union-attr]


def _authlib(bench: Bench) -> tuple[Callable[[], httpx.AsyncClient], float]:
    cls = authlib_client_class("AsyncOAuth2Client")
    holder: dict[str, Any] = {}

    async def fetch() -> dict[str, Any]:
        async with cls(bench.config(STORM_NAME).client_id, bench.config(STORM_NAME).client_secret, scope=SCOPE,
                       timeout=HTTP_TIMEOUT) as c:
            return dict(await c.fetch_token(bench.token_url, grant_type="password", username=USER, password=PASSWORD))

    holder["token"] = asyncio.run(fetch())

    async def update(token: dict[str, Any], **kwargs: Any) -> None:
        holder["token"] = token

    def make() -> httpx.AsyncClient:  # leeway=0: its 60 s default would refresh a 2 s token on every call
        return cls(bench.config(STORM_NAME).client_id, bench.config(STORM_NAME).client_secret, scope=SCOPE,
                   token=holder["token"], token_endpoint=bench.token_url, update_token=update, leeway=0,
                   limits=_limits(), timeout=TIMEOUT)

    return make, float(holder["token"]["expires_at"])


def run_storm(bench: Bench) -> CaseResult:
    rounds, lifetime, n = (1, 1, 50) if bench.quick else (3, 2, GATHER)
    api = bench.demo.url + "/api/me"
    makers: dict[str, Callable[[Bench], tuple[Callable[[], httpx.AsyncClient], float]]] = {
        OURS: _ours, AUTHLIB: _authlib}
    seen: dict[str, dict[str, list[Any]]] = {k: {"refreshes": [], "failures": [], "seconds": []} for k in makers}
    for i in range(rounds):
        order = list(makers) if i % 2 == 0 else list(makers)[::-1]
        with bench.lifetime(lifetime):
            made = {name: makers[name](bench) for name in order}
        time.sleep(max(0.0, max(e for _, e in made.values()) - time.time()) + 0.05)
        for name in order:
            before = bench.demo.stats["token:refresh_token"]
            start = time.perf_counter()
            codes = asyncio.run(_run_storm(made[name][0](), api, n))
            seen[name]["seconds"].append(round(time.perf_counter() - start, 3))
            seen[name]["refreshes"].append(bench.demo.stats["token:refresh_token"] - before)
            seen[name]["failures"].append(sum(c != 200 for c in codes))
            seen[name].setdefault("errors", []).extend(sorted({str(c) for c in codes if c != 200}))
    ours = seen[OURS]
    passed = all(r == 1 for r in ours["refreshes"]) and not any(ours["failures"])
    return CaseResult(
        name="async_refresh_storm",
        title=f"9. Async expiry storm: {n} requests through asyncio.gather at an expired token",
        unit="refresh requests at the server per storm",
        ours=median(ours["refreshes"]),
        baseline=None,
        ratio=None,
        repetitions=rounds,
        target="exactly 1 refresh and 0 failed requests in every storm",
        passed=passed,
        extra={"storm_clients": seen, "token_lifetime_s": lifetime, "connections": CONNECTIONS},
        notes=["Authlib runs with leeway=0 (its 60 s default would refresh a 2 s token on every call). The demo "
               "server rotates refresh tokens: a second refresh with the same refresh token fails."],
    )


def _run_storm(client: httpx.AsyncClient, url: str, n: int) -> Awaitable[list[int]]:
    return _storm(client, url, n)
