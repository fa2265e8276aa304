"""Case 12: a DPoP-bound GET through ``nb_oauth.session(name)`` against a Bearer GET of the same token.

Both go to the same minimal loopback API, request by request. The DPoP side signs a fresh proof
(ES256, with ``htm``, ``htu``, ``iat``, ``jti`` and ``ath``) for every request, so the ratio is the
price of sender-constrained tokens on the client; what one proof costs in CPU is reported beside it.
No other API client sends DPoP proofs, so there is no peer to run beside it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import requests

import nb_oauth
from nb_oauth.dpop import DPoPKey

from .context import HTTP_TIMEOUT, Bench
from .harness import API_DESCRIPTION, CaseResult, interleave_requests, repeated_result

TARGET = 1.15
BEARER, DPOP = "Bearer GET (nb_oauth.session)", "DPoP GET (nb_oauth.session)"


def _getter(session: requests.Session, url: str) -> Callable[[], object]:
    def get() -> object:
        r = session.get(url, timeout=HTTP_TIMEOUT)
        if r.status_code != 200:
            raise RuntimeError(f"API answered {r.status_code}")
        return r.content

    return get


def proof_cost_us(key: DPoPKey, n: int) -> float:
    start = time.thread_time()
    for _ in range(n):
        key.proof("GET", "http://127.0.0.1/api/me", access_token="x" * 43)
    return round((time.thread_time() - start) / n * 1e6, 1)


def run(bench: Bench) -> CaseResult:
    n, repeats = (100, 2) if bench.quick else (2000, 5)
    bearer = bench.nb_token("bench-bearer", lifetime=3600)
    key = DPoPKey.generate("ES256")
    bound = dataclasses.replace(bearer.token_set, token_type="DPoP", dpop_key=key)
    nb_oauth.tokens.put(bench.config("bench-dpop", dpop=True), bound)
    sessions = {BEARER: nb_oauth.session("bench-bearer"), DPOP: nb_oauth.session("bench-dpop")}
    probe = sessions[DPOP].get(bench.api_url, timeout=HTTP_TIMEOUT)
    assert probe.request.headers["Authorization"].startswith("DPoP ") and "DPoP" in probe.request.headers
    rep = interleave_requests({name: _getter(s, bench.api_url) for name, s in sessions.items()},
                              requests=n, repeats=repeats, warmup=50)
    for s in sessions.values():
        s.close()
    return repeated_result(
        name="dpop_get",
        title="12. DPoP-bound GET vs Bearer GET (same token, same API)",
        unit="µs per GET",
        rep=rep, ours=DPOP, base=BEARER, target=TARGET,
        baseline_name="nb_oauth.session with the same token as Bearer",
        extra={"proof_cpu_us": proof_cost_us(key, 200 if bench.quick else 2000), "dpop_alg": "ES256",
               "api": API_DESCRIPTION},
        notes=["The DPoP side signs one ES256 proof per request (cryptography's OpenSSL ECDSA through joserfc); "
               "against an API across a network the same fixed cost is a far smaller share."],
    )
