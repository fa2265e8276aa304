"""Case 3: a client-credentials token via ``get_new_access_token`` against a pooled ``Session.post``.

The token endpoint is the demo authorization server's (Authlib) behind a keep-alive HTTP/1.1
front (:mod:`benchmarks.keepalive`), so every client keeps its connection: nb_oauth's pooled
session, the baseline's ``requests.Session``, and requests-oauthlib's and Authlib's sessions
(their ``fetch_token``) beside them. The baseline sends the same form body with the same HTTP
Basic client authentication and reads the token out of the JSON answer. The variants take
turns request by request. The same comparison against the minimal API's ``POST /token`` (an
endpoint that costs next to nothing) shows nb_oauth's own cost per token in microseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

import nb_oauth
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .context import HTTP_TIMEOUT, SCOPE, Bench, insecure_transport_for_oauthlib
from .harness import CaseResult, interleave_requests, median, repeated_result
from .keepalive import KeepAliveFront

TARGET = 1.10
NAME = "bench-cc"
BASE, OURS = "pooled requests.Session.post", "nb_oauth.get_new_access_token"
FORM = {"grant_type": "client_credentials", "scope": SCOPE}
CLIENT_AUTH = (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)


def _checked(data: dict[str, Any]) -> str:
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise RuntimeError(f"no access token in {sorted(data)}")
    return token


def pooled_post(session: requests.Session, url: str) -> Callable[[], str]:
    """The request every client-credentials client must send, parsed just enough to use the token."""

    def fetch() -> str:
        r = session.post(url, data=FORM, auth=CLIENT_AUTH, headers={"Accept": "application/json"},
                         timeout=HTTP_TIMEOUT)
        r.raise_for_status()
        return _checked(r.json())

    return fetch


def ours(bench: Bench, name: str, url: str) -> Callable[[], str]:
    cfg = bench.config(name, access_token_url=url)

    def fetch() -> str:
        return nb_oauth.get_new_access_token(cfg).access_token

    return fetch


def requests_oauthlib_fetch(url: str) -> Callable[[], str]:
    from oauthlib.oauth2 import BackendApplicationClient
    from requests_oauthlib import OAuth2Session

    session = OAuth2Session(client=BackendApplicationClient(client_id=CONFIDENTIAL_CLIENT_ID), scope=SCOPE.split())

    def fetch() -> str:
        return _checked(session.fetch_token(url, client_id=CONFIDENTIAL_CLIENT_ID,
                                            client_secret=CONFIDENTIAL_CLIENT_SECRET, timeout=HTTP_TIMEOUT))

    return fetch


def authlib_fetch(url: str) -> Callable[[], str]:
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, scope=SCOPE)

    def fetch() -> str:
        return _checked(session.fetch_token(url, grant_type="client_credentials", timeout=HTTP_TIMEOUT))

    return fetch


def against_fast_endpoint(bench: Bench, n: int, repeats: int) -> dict[str, Any]:
    """nb_oauth against the pooled POST where the endpoint itself costs next to nothing: the client's share."""
    url = bench.fast_token_url
    pooled = requests.Session()
    rep = interleave_requests({BASE: pooled_post(pooled, url), OURS: ours(bench, NAME + "-fast", url)},
                              requests=n, repeats=repeats)
    pooled.close()
    added = [(a - b) * 1e6 for a, b in zip(rep.medians(OURS), rep.medians(BASE), strict=True)]
    return {"pooled_post_us": round(median(rep.medians(BASE)) * 1e6, 1),
            "ours_us": round(median(rep.medians(OURS)) * 1e6, 1),
            "ratio": round(median(rep.ratios(OURS, BASE)), 4), "added_us": round(median(added), 1)}


def run(bench: Bench) -> CaseResult:
    n, repeats = (50, 2) if bench.quick else (2000, 5)
    front = KeepAliveFront(bench.demo.app).start()
    url = front.url + "/token"
    pooled = requests.Session()
    calls = {BASE: pooled_post(pooled, url), OURS: ours(bench, NAME, url),
             "requests-oauthlib fetch_token": requests_oauthlib_fetch(url), "Authlib fetch_token": authlib_fetch(url)}
    try:
        with bench.lifetime(3600), insecure_transport_for_oauthlib():
            rep = interleave_requests(calls, requests=n, repeats=repeats)
    finally:
        pooled.close()
        front.stop()
    fast = against_fast_endpoint(bench, 50 if bench.quick else 1000, 2 if bench.quick else 5)
    return repeated_result(
        name="token_fetch_client_credentials",
        title="3. Client-credentials token: get_new_access_token vs a pooled Session.post",
        unit="µs per token",
        rep=rep, ours=OURS, base=BASE, target=TARGET,
        baseline_name="a pooled requests.Session.post of the same form body with the same client authentication "
                      "to the same keep-alive token endpoint",
        extra={"server": "the demo authorization server (Authlib, Flask) behind a keep-alive HTTP/1.1 front, "
                         "same process", "fast_endpoint": fast},
        notes=[f"Against an endpoint that costs next to nothing (the minimal API's POST /token, its own process) "
               f"nb_oauth adds {fast['added_us']:g} µs per token to a pooled POST's {fast['pooled_post_us']:g} µs: "
               "checking the config, building the body through oauthlib, checking the answer (status, size, "
               "deadline, JSON, access_token, expires_in, granted scope), recording a masked trace and storing "
               "the token."],
    )
