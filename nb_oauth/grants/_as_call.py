"""One request to the authorization server that authenticates the client: a fresh client assertion and,
for DPoP, a fresh proof on every attempt; a ``use_dpop_nonce`` answer is followed by exactly one retry.

Token, refresh, PAR, revocation, introspection and device authorization requests all go through
:func:`send_as_client`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .._trace import Trace
from .._transport import PreparedCall, Response, send, server_error
from ..config import OAuth2Config
from ..dpop import DPoPKey, describe_proof, nonce_challenge, remember_nonce, server_nonce
from ._client_auth import authenticate


@dataclass
class SentCall:
    """The call as finally sent, its answer, and the values added on the way that must be masked."""

    call: PreparedCall
    response: Response
    started: float
    added_secrets: list[str] = field(default_factory=list)
    nonce_retried: bool = False


def trace_proof(trace: Trace | None, proof: str, what: str, *, target: str = "server", note: str | None = None) -> None:
    """The proof's decoded header and claims (the key is never in it: the header holds the public JWK)."""
    if trace is None:
        return
    decoded = describe_proof(proof)
    params = list(decoded.get("header", {}).items())  # typ, alg, jwk (the public key)
    params += [(k, v) for k, v in decoded.get("claims", {}).items()]
    trace.record(f"DPoP proof for the {what}", "notebook", target, kind="note", params=params,
                 note=note or "Signed with this token's private DPoP key, which never leaves the kernel.")


def send_as_client(cfg: OAuth2Config, build: Callable[[], PreparedCall], *, secrets: list[str | None], what: str,
                   dpop_key: DPoPKey | None = None, trace: Trace | None = None,
                   authenticate_client: bool = True) -> SentCall:
    """Build the call, authenticate it, add the DPoP proof, send; one retry on ``use_dpop_nonce``.

    ``secrets`` is extended with every assertion and proof added, so no error or trace shows them.
    """
    added: list[str] = []
    for attempt in (1, 2):
        call = build()
        if authenticate_client:
            added += authenticate(call, cfg)
        if dpop_key is not None:
            proof = dpop_key.proof(call.method, call.url, nonce=server_nonce(call.url))
            call.headers["DPoP"] = proof
            added.append(proof)
            trace_proof(trace, proof, what, note=None if attempt == 1 else
                        "Second proof, now carrying the nonce the server asked for (one retry only).")
        secrets.extend(added)
        if trace is not None:
            trace.add_secret(*added)
        started = time.time()
        resp = send(call, secrets=secrets, what=what)
        got_nonce = remember_nonce(call.url, resp.headers) if dpop_key is not None else None
        if attempt == 1 and dpop_key is not None and got_nonce \
                and nonce_challenge(resp.status, resp.headers, server_error(resp)[0]):
            if trace is not None:
                trace.record(f"Server asks for a DPoP nonce ({what})", "server", "notebook", kind="response",
                             status=resp.status, response={"error": "use_dpop_nonce", "DPoP-Nonce": got_nonce},
                             note="RFC 9449 §8: the server wants proofs to carry its fresh nonce; nb_oauth retries "
                                  "once with it.")
            continue
        return SentCall(call, resp, started, added, nonce_retried=attempt == 2)
    raise AssertionError("unreachable")  # pragma: no cover
