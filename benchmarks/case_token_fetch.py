"""Case 3: a client-credentials token via ``get_new_access_token`` against the bare POST.

The target compares with a bare ``requests.post`` to the same token
endpoint. Since nb_oauth pools its token requests on one ``requests.Session``, the stricter
comparison with a bare POST on a pooled session is reported beside it (with requests-oauthlib's
and Authlib's ``fetch_token``), so nothing is hidden by the choice of baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

import nb_oauth
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .context import HTTP_TIMEOUT, SCOPE, Bench, for_requests_oauthlib
from .harness import (
    Batch,
    CaseResult,
    cpus,
    interleave,
    median,
    paired_ratio,
    per_call,
    ratios_to,
    summary,
    walls,
    within,
)

TARGET = 1.10
NAME = "bench-cc"
BARE, OURS = "bare requests.Session POST", "nb_oauth.get_new_access_token"
POST = "bare requests.post"
FORM = {"grant_type": "client_credentials", "scope": SCOPE}
CLIENT_AUTH = (CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET)


def _checked(data: dict[str, Any]) -> str:
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise RuntimeError(f"no access token in {sorted(data)}")
    return token


def bare_post(session: requests.Session | None, url: str) -> Callable[[], str]:
    """The request every client-credentials client must send, parsed just enough to use the token."""
    send = session.post if session is not None else requests.post

    def fetch() -> str:
        r = send(url, data=FORM, auth=CLIENT_AUTH, headers={"Accept": "application/json"}, timeout=HTTP_TIMEOUT)
        r.raise_for_status()
        return _checked(r.json())

    return fetch


def ours(bench: Bench) -> Callable[[], str]:
    cfg = bench.config(NAME)

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


def against_fast_endpoint(bench: Bench, rounds: int, fetches: int) -> dict[str, float]:
    """nb_oauth against the bare POST where the endpoint itself costs next to nothing: the client's share."""
    url = bench.fast_token_url
    cfg = bench.config(NAME + "-fast", access_token_url=url)
    pooled = requests.Session()
    timings = interleave({BARE: per_call(bare_post(pooled, url), fetches),
                          OURS: per_call(lambda: nb_oauth.get_new_access_token(cfg), fetches)}, rounds=rounds)
    pooled.close()
    samples, cpu = walls(timings), cpus(timings)
    return {"bare_us": round(median(samples[BARE]) * 1e6, 1), "ours_us": round(median(samples[OURS]) * 1e6, 1),
            "ratio": round(paired_ratio(samples[OURS], samples[BARE]), 4),
            "client_cpu_added_us": round((median(cpu[OURS]) - median(cpu[BARE])) * 1e6, 1)}


def run(bench: Bench) -> CaseResult:
    fetches, rounds = (5, 4) if bench.quick else (10, 50)
    url = bench.token_url
    pooled = requests.Session()
    variants: dict[str, Batch] = {
        BARE: per_call(bare_post(pooled, url), fetches),
        OURS: per_call(ours(bench), fetches),
        POST: per_call(bare_post(None, url), fetches),
        "requests-oauthlib fetch_token": for_requests_oauthlib(per_call(requests_oauthlib_fetch(url), fetches)),
        "Authlib fetch_token": per_call(authlib_fetch(url), fetches),
    }
    with bench.lifetime(3600):
        timings = interleave(variants, rounds=rounds, warmup=2)
    pooled.close()
    samples, cpu = walls(timings), cpus(timings)
    ratio = paired_ratio(samples[OURS], samples[POST])
    pooled_ratio = paired_ratio(samples[OURS], samples[BARE])
    fast = against_fast_endpoint(bench, 4 if bench.quick else 30, fetches)
    return CaseResult(
        name="token_fetch_client_credentials",
        title="3. Client-credentials token: get_new_access_token vs bare POST",
        unit="µs per token",
        ours=round(median(samples[OURS]) * 1e6, 1),
        baseline=round(median(samples[POST]) * 1e6, 1),
        baseline_name="bare requests.post to the same token endpoint",
        ratio=round(ratio, 4),
        repetitions=rounds,
        target=f"ratio ≤ {TARGET}",
        passed=within(ratio, TARGET),
        extra={
            "fetches_per_round": fetches,
            "ratio_to_pooled_session_post": round(pooled_ratio, 4),
            "variants_us": summary(samples),
            "ratios_to_bare": ratios_to(samples, BARE),
            "client_cpu_us": summary(cpu),
            "client_cpu_ratios_to_bare": ratios_to(cpu, BARE),
            "server": "demo authorization server (Flask/Werkzeug, same process; it closes the connection "
                      "after every answer, so no client reuses one here)",
            "fast_endpoint": fast,
        },
        notes=[f"Against a bare POST on a pooled requests.Session (stricter than the target's baseline: no "
               f"session set-up per call) the ratio is {pooled_ratio:.3f}.",
               _why(fast["client_cpu_added_us"], median(samples[BARE]) * 1e6)],
    )


def _why(added_us: float, bare_us: float) -> str:
    """What the ratio means: nb_oauth's per-token work is fixed, the endpoint's time is not."""
    return (f"nb_oauth does more per token than a bare POST, on purpose: it validates the config, builds the body "
            f"through oauthlib, checks the answer (status, size, JSON, access_token, expires_in, granted scope) and "
            f"records a masked trace of the exchange. That work cost {added_us:.0f} µs of client CPU per token here "
            f"(the fast-endpoint figure), a fixed amount: against this in-process loopback endpoint "
            f"({bare_us / 1000:.2f} ms per token) it is {added_us / bare_us:.0%} of the time; against an identity provider "
            f"across a network (tens of milliseconds per token request) the same work is well under 1 %.")
