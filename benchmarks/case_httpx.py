"""Case 2: authenticated GETs through ``httpx.Client(auth=nb_oauth.auth(name))`` against an
``httpx.Client`` whose auth sets a static header; Authlib's httpx client runs beside, request
by request.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Generator

import httpx

import nb_oauth

from .context import HTTP_TIMEOUT, Bench, oauthlib_token
from .harness import API_DESCRIPTION, CaseResult, cpus, interleave, interleave_requests, median, per_call, repeated_result

TARGET = 1.03
NAME = "bench-httpx"
BASE, OURS = "httpx.Client, static-header auth", "httpx.Client(auth=nb_oauth.auth)"


class StaticBearer(httpx.Auth):
    """The least an httpx auth can do: set one fixed header."""

    def __init__(self, token: str) -> None:
        self.header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header
        yield request


def _getter(client: httpx.Client, url: str) -> Callable[[], object]:
    def get() -> object:
        r = client.get(url)
        if r.status_code != 200:
            raise RuntimeError(f"API answered {r.status_code}")
        return r.content

    return get


def authlib_client_class(name: str = "OAuth2Client") -> type:
    """Authlib's httpx client class (``OAuth2Client`` or ``AsyncOAuth2Client``)."""
    with warnings.catch_warnings():  # Authlib's notice about its httpx integration is not ours to show
        warnings.simplefilter("ignore")
        from authlib.integrations import httpx_client
    return getattr(httpx_client, name)  # type: ignore[no-any-return]


def clients(bench: Bench, token: nb_oauth.Token) -> dict[str, httpx.Client]:
    """The three clients, each holding the same long-lived token."""
    client_class = authlib_client_class()
    return {
        BASE: httpx.Client(auth=StaticBearer(token.access_token), timeout=HTTP_TIMEOUT),
        OURS: httpx.Client(auth=nb_oauth.auth(NAME), timeout=HTTP_TIMEOUT),
        "Authlib httpx OAuth2Client": client_class(bench.config(NAME).client_id, token=oauthlib_token(token),
                                                   timeout=HTTP_TIMEOUT),
    }


def auth_flow_cost(token: nb_oauth.Token, n: int) -> float:
    """Microseconds nb_oauth's auth flow adds to one request (no network), over the static-header auth."""
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
    samples = cpus(interleave({"static": per_call(drive(StaticBearer(token.access_token)), n),
                               "ours": per_call(drive(ours), n)}, rounds=9))
    return round((median(samples["ours"]) - median(samples["static"])) * 1e6, 2)


def run(bench: Bench) -> CaseResult:
    n, repeats = (100, 2) if bench.quick else (2000, 5)
    token = bench.nb_token(NAME, lifetime=3600)
    made = clients(bench, token)
    rep = interleave_requests({name: _getter(c, bench.api_url) for name, c in made.items()}, requests=n,
                              repeats=repeats, warmup=50)
    for c in made.values():
        c.close()
    flow_us = auth_flow_cost(token, 300 if bench.quick else 3000)
    return repeated_result(
        name="request_overhead_httpx",
        title="2. Authenticated GETs: httpx with nb_oauth.auth vs httpx.Client with a static-header auth",
        unit="µs per GET",
        rep=rep, ours=OURS, base=BASE, target=TARGET,
        baseline_name="an httpx.Client whose auth sets a static Authorization header",
        extra={"auth_flow_cost_us": flow_us, "api": API_DESCRIPTION},
    )
