"""Case 2: authenticated GETs through ``httpx.Client(auth=nb_oauth.auth(name))`` against a bare
``httpx.Client`` with a static header (the physical limit); Authlib's httpx client runs beside.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable

import httpx

import nb_oauth

from .context import HTTP_TIMEOUT, Bench, oauthlib_token
from .harness import (
    CaseResult,
    cpus,
    interleave,
    median,
    per_call,
    request_overhead_result,
    walls,
)

TARGET = 1.03
NAME = "bench-httpx"
BARE, OURS = "bare httpx.Client", "httpx.Client(auth=nb_oauth.auth)"


def _getter(client: httpx.Client, url: str) -> Callable[[], object]:
    def get() -> object:
        r = client.get(url)
        if r.status_code != 200:
            raise RuntimeError(f"API answered {r.status_code}")
        return r.content

    return get


def clients(bench: Bench, token: nb_oauth.Token) -> dict[str, httpx.Client]:
    """The three clients, each holding the same long-lived token."""
    with warnings.catch_warnings():  # Authlib's notice about its httpx integration is not ours to show
        warnings.simplefilter("ignore")
        from authlib.integrations.httpx_client import OAuth2Client

    return {
        BARE: httpx.Client(headers={"Authorization": f"Bearer {token.access_token}"}, timeout=HTTP_TIMEOUT),
        OURS: httpx.Client(auth=nb_oauth.auth(NAME), timeout=HTTP_TIMEOUT),
        "Authlib httpx OAuth2Client": OAuth2Client(bench.config(NAME).client_id, token=oauthlib_token(token),
                                                   timeout=HTTP_TIMEOUT),
    }


def auth_flow_cost(n: int) -> float:
    """Microseconds nb_oauth's auth flow adds to one request (no network), over httpx's no-op auth."""
    request = httpx.Request("GET", "http://127.0.0.1/api/me")
    response = httpx.Response(200, request=request)

    def drive(auth: httpx.Auth) -> Callable[[], None]:
        def once() -> None:
            flow = auth.sync_auth_flow(request)
            next(flow)
            with contextlib.suppress(StopIteration):
                flow.send(response)

        return once

    ours = nb_oauth.auth(NAME)
    assert isinstance(ours, httpx.Auth)
    samples = cpus(interleave({"none": per_call(drive(httpx.Auth()), n), "ours": per_call(drive(ours), n)},
                              rounds=9))
    return round((median(samples["ours"]) - median(samples["none"])) * 1e6, 2)


def run(bench: Bench) -> CaseResult:
    calls, rounds = (20, 10) if bench.quick else (20, 250)
    token = bench.nb_token(NAME, lifetime=3600)
    made = clients(bench, token)
    timings = interleave({n: per_call(_getter(c, bench.api_url), calls) for n, c in made.items()},
                         rounds=rounds, warmup=3)
    for c in made.values():
        c.close()
    flow_us = auth_flow_cost(300 if bench.quick else 3000)
    bare_us = median(walls(timings)[BARE]) * 1e6
    return request_overhead_result(
        name="request_overhead_httpx",
        title="2. Authenticated GETs: httpx with nb_oauth.auth vs bare httpx.Client",
        baseline_name="bare httpx.Client, static Authorization header",
        samples=timings, ours_name=OURS, base_name=BARE, rounds=rounds, calls=calls, target=TARGET,
        extra={"auth_flow_cost_us": flow_us},
        notes=[f"nb_oauth's auth flow itself costs {flow_us:g} µs per request without the network (looking the "
               f"token up in the store, checking its expiry, building the header): "
               f"{flow_us / bare_us:.1%} of a bare request here. On a busy machine the same code costs more "
               "CPU than that (colder caches), which the client CPU column shows."],
    )
