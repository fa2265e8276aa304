"""Case 1: authenticated GETs through ``nb_oauth.session(name)`` against a bare ``requests.Session``.

The bare session with a static ``Authorization`` header is the physical limit: whatever
nb_oauth adds per call (finding the token, checking its expiry, the 401 hook) shows up as the
ratio. requests-oauthlib's and Authlib's sessions, each holding the same token, run beside it.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

import nb_oauth

from .context import HTTP_TIMEOUT, Bench, for_requests_oauthlib, oauthlib_token
from .harness import (
    CaseResult,
    cpus,
    interleave,
    median,
    per_call,
    request_overhead_result,
)

TARGET = 1.03
NAME = "bench-requests"
BARE, OURS = "bare requests.Session", "nb_oauth.session"


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

    bare = requests.Session()
    bare.headers["Authorization"] = f"Bearer {token.access_token}"
    data = oauthlib_token(token)
    return {
        BARE: bare,
        OURS: nb_oauth.session(NAME),
        "requests-oauthlib OAuth2Session": RolSession(bench.config(NAME).client_id, token=dict(data)),
        "Authlib OAuth2Session": AuthlibSession(bench.config(NAME).client_id, token=dict(data)),
    }


def auth_hook_cost(token: nb_oauth.Token, n: int) -> float:
    """Microseconds nb_oauth's auth adds to preparing one request (no network), minus a static header."""
    auth = nb_oauth.auth(NAME)
    prepared = requests.Request("GET", "http://127.0.0.1/api/me").prepare()
    header = f"Bearer {token.access_token}"

    def static() -> None:
        p = prepared.copy()
        p.headers["Authorization"] = header

    def ours() -> None:
        auth(prepared.copy())

    samples = cpus(interleave({"static": per_call(static, n), "ours": per_call(ours, n)}, rounds=9))
    return round((median(samples["ours"]) - median(samples["static"])) * 1e6, 2)


def run(bench: Bench) -> CaseResult:
    calls, rounds = (20, 10) if bench.quick else (20, 250)
    token = bench.nb_token(NAME, lifetime=3600)
    clients = sessions(bench, token)
    variants = {name: per_call(_getter(s, bench.api_url), calls) for name, s in clients.items()}
    rol = "requests-oauthlib OAuth2Session"
    variants[rol] = for_requests_oauthlib(variants[rol])
    timings = interleave(variants, rounds=rounds, warmup=3)
    for s in clients.values():
        s.close()
    return request_overhead_result(
        name="request_overhead_requests",
        title="1. Authenticated GETs: nb_oauth.session vs bare requests.Session",
        baseline_name="bare requests.Session, static Authorization header",
        samples=timings, ours_name=OURS, base_name=BARE, rounds=rounds, calls=calls, target=TARGET,
        extra={"auth_hook_cost_us": auth_hook_cost(token, 2000 if not bench.quick else 300)},
        notes=["A ratio a little under 1 is real, not noise: when a request carries an `auth` (nb_oauth, Authlib), "
               "requests skips its per-request `~/.netrc` lookup, which the bare session with a static header "
               "pays. What nb_oauth's auth itself costs is the auth-hook figure above."],
    )


