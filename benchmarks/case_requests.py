"""Case 1: authenticated GETs through ``nb_oauth.session(name)`` against a ``requests.Session``
whose ``auth`` sets a static ``Authorization`` header.

The baseline carries an ``auth`` like every auth-using client, so requests skips its
per-request ``~/.netrc`` lookup for all of them alike: what is left is what nb_oauth adds per
call (finding the token, checking its expiry, the 401 hook). requests-oauthlib's and Authlib's
sessions, each holding the same token, run beside it, request by request.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from requests.auth import AuthBase

import nb_oauth

from .context import HTTP_TIMEOUT, Bench, insecure_transport_for_oauthlib, oauthlib_token
from .harness import API_DESCRIPTION, CaseResult, cpus, interleave, interleave_requests, median, per_call, repeated_result

TARGET = 1.03
NAME = "bench-requests"
BASE, OURS = "requests.Session, static-header auth", "nb_oauth.session"


class StaticBearer(AuthBase):
    """The least an auth can do: set one fixed header."""

    def __init__(self, token: str) -> None:
        self.header = f"Bearer {token}"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self.header
        return r


def _getter(session: requests.Session, url: str) -> Callable[[], object]:
    def get() -> object:
        r = session.get(url, timeout=HTTP_TIMEOUT)
        if r.status_code != 200:
            raise RuntimeError(f"API answered {r.status_code}")
        return r.content

    return get


def sessions(bench: Bench, token: nb_oauth.Token) -> dict[str, requests.Session]:
    """The four clients, each holding the same long-lived token."""
    from authlib.integrations.requests_client import OAuth2Session as AuthlibSession
    from requests_oauthlib import OAuth2Session as RolSession

    base = requests.Session()
    base.auth = StaticBearer(token.access_token)
    data = oauthlib_token(token)
    return {
        BASE: base,
        OURS: nb_oauth.session(NAME),
        "requests-oauthlib OAuth2Session": RolSession(bench.config(NAME).client_id, token=dict(data)),
        "Authlib OAuth2Session": AuthlibSession(bench.config(NAME).client_id, token=dict(data)),
    }


def auth_hook_cost(token: nb_oauth.Token, n: int) -> float:
    """Microseconds nb_oauth's auth adds to preparing one request (no network), minus a static header."""
    auth = nb_oauth.auth(NAME)
    prepared = requests.Request("GET", "http://127.0.0.1/api/me").prepare()
    static_auth = StaticBearer(token.access_token)

    def static() -> None:
        static_auth(prepared.copy())

    def ours() -> None:
        auth(prepared.copy())

    samples = cpus(interleave({"static": per_call(static, n), "ours": per_call(ours, n)}, rounds=9))
    return round((median(samples["ours"]) - median(samples["static"])) * 1e6, 2)


def run(bench: Bench) -> CaseResult:
    n, repeats = (100, 2) if bench.quick else (2000, 5)
    token = bench.nb_token(NAME, lifetime=3600)
    clients = sessions(bench, token)
    calls = {name: _getter(s, bench.api_url) for name, s in clients.items()}
    with insecure_transport_for_oauthlib():  # requests-oauthlib refuses http:// without it; nothing else reads it
        rep = interleave_requests(calls, requests=n, repeats=repeats, warmup=50)
    for s in clients.values():
        s.close()
    return repeated_result(
        name="request_overhead_requests",
        title="1. Authenticated GETs: nb_oauth.session vs requests.Session with a static-header auth",
        unit="µs per GET",
        rep=rep, ours=OURS, base=BASE, target=TARGET,
        baseline_name="a requests.Session whose auth sets a static Authorization header",
        extra={"auth_hook_cost_us": auth_hook_cost(token, 300 if bench.quick else 2000), "api": API_DESCRIPTION},
    )
