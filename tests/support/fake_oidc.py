"""A scriptable OpenID provider on loopback, for faults the demo server cannot be made to produce:
a forged or incomplete ID token, a refresh that brings no new ID token, a discovery document that
lies about its issuer or promises RFC 9207 ``iss`` and then leaves it out, a token that is not ASCII.

It signs with joserfc like a real provider and approves every authorization request at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from .servers import LocalServer, Reply, Seen

CLIENT = "fake-oidc-client"


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


class FakeProvider:
    """Discovery, JWKS, authorize (code and implicit), token (code and refresh)."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.server = LocalServer(self.answer)
        self.nonces: dict[str, str] = {}
        self.counter = 0
        # what to do (tests change these)
        self.discovery_changes: dict[str, Any] = {}
        self.iss_param: bool = False  # add iss to the authorization response
        self.claim_changes: Callable[[dict[str, Any]], dict[str, Any]] = lambda c: c
        self.refresh_id_token: bool = False
        self.token_body: Callable[[dict[str, Any]], bytes] | None = None  # raw token endpoint answer

    def __enter__(self) -> FakeProvider:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    @property
    def url(self) -> str:
        return self.server.url

    def id_token(self, nonce: str | None, access_token: str | None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.url, "aud": CLIENT, "sub": "mallory", "iat": now, "exp": now + 300}
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            claims["at_hash"] = at_hash(access_token)
        return jwt.encode({"alg": "RS256", "kid": "k1"}, self.claim_changes(claims), self.key)

    def _tokens(self, *, nonce: str | None, with_id_token: bool) -> dict[str, Any]:
        self.counter += 1
        access = f"fake-access-{self.counter}-" + "a" * 20
        out: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": 300,
                               "refresh_token": f"fake-refresh-{self.counter}-" + "r" * 20}
        if with_id_token:
            out["id_token"] = self.id_token(nonce, access)
        return out

    def answer(self, seen: Seen, raw: bytes) -> Reply:
        if seen.path == "/.well-known/openid-configuration":
            doc = {"issuer": self.url, "authorization_endpoint": self.url + "/authorize",
                   "token_endpoint": self.url + "/token", "jwks_uri": self.url + "/jwks",
                   "response_types_supported": ["code", "id_token token"],
                   "id_token_signing_alg_values_supported": ["RS256"], **self.discovery_changes}
            return Reply(200, json.dumps({k: v for k, v in doc.items() if v is not None}))
        if seen.path == "/jwks":
            return Reply(200, json.dumps(KeySet([self.key]).as_dict(private=False)))
        if seen.path == "/authorize":
            q = dict(seen.query)
            extra = {"iss": self.url} if self.iss_param else {}
            if "token" in q.get("response_type", "").split():
                fields = {**self._tokens(nonce=q.get("nonce"), with_id_token="id_token" in q["response_type"]),
                          "state": q["state"], **extra}
                fields.pop("refresh_token")
                return Reply(302, b"", {"Location": q["redirect_uri"] + "#" + urlencode(fields)})
            code = f"code-{len(self.nonces)}"
            self.nonces[code] = q.get("nonce", "")
            target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"], **extra})
            return Reply(302, b"", {"Location": target})
        if seen.path == "/token":
            body = dict(seen.body)
            if body.get("grant_type") == "refresh_token":
                fields = self._tokens(nonce=None, with_id_token=self.refresh_id_token)
            else:
                fields = self._tokens(nonce=self.nonces.get(body.get("code", "")), with_id_token=True)
            if self.token_body is not None:
                return Reply(200, self.token_body(fields))
            return Reply(200, json.dumps(fields))
        return Reply(404, b"{}")
