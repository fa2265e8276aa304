"""A fake OpenID provider that forges ID tokens, and the forgeries it is made to serve: wrong issuer,
audience or nonce, expired, ``alg=none``, HS256 signed with the public key, another key's signature.

Discovery, JWKS and an authorize endpoint that approves at once are honest; only the token endpoint's
ID token is built by the forgery under test.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from nb_oauth import OAuth2Config

from .servers import LocalServer, Reply, Seen

CLIENT = "forgery-client"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class FakeOIDC:
    """Discovery, JWKS, an authorize endpoint that approves at once, and a token endpoint whose ID token
    is built by ``self.forge(claims) -> compact JWS``."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.jwks = KeySet([self.key]).as_dict(private=False)
        self.nonces: dict[str, str] = {}  # code -> nonce sent on the authorization request
        self.forge: Callable[[dict[str, Any]], str] = self.sign
        self.server = LocalServer(self.answer)
        self.issued: list[str] = []
        self.iss_param: str | None = None  # an RFC 9207 ``iss`` to add to the authorization response

    @property
    def url(self) -> str:
        return self.server.url

    def claims(self, nonce: str | None) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.url, "aud": CLIENT, "sub": "mallory", "iat": now, "exp": now + 300, "nonce": nonce}

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
        return jwt.encode(header or {"alg": "RS256", "kid": "k1"}, claims, self.key)

    def answer(self, seen: Seen, raw: bytes) -> Reply:
        if seen.path == "/.well-known/openid-configuration":
            return Reply(200, json.dumps({
                "issuer": self.url, "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token", "jwks_uri": self.url + "/jwks",
                "response_types_supported": ["code"], "id_token_signing_alg_values_supported": ["RS256"]}))
        if seen.path == "/jwks":
            return Reply(200, json.dumps(self.jwks))
        if seen.path == "/authorize":
            q = dict(seen.query)
            code = f"code-{len(self.nonces)}"
            self.nonces[code] = q.get("nonce", "")
            answer = {"code": code, "state": q["state"], **({"iss": self.iss_param} if self.iss_param else {})}
            target = q["redirect_uri"] + "?" + urlencode(answer)
            return Reply(302, b"", {"Location": target})
        if seen.path == "/token":
            body = dict(seen.body)
            id_token = self.forge(self.claims(self.nonces.get(body.get("code", ""))))
            self.issued.append(id_token)
            return Reply(200, json.dumps({"access_token": "fake-access-token-123456", "token_type": "Bearer",
                                          "expires_in": 300, "id_token": id_token}))
        return Reply(404, b"{}")


def hs256_with_public_key(provider: FakeOIDC, claims: dict[str, Any]) -> str:
    """The classic confusion attack: HMAC-sign with the provider's *public* key as the secret."""
    public_pem = provider.key.as_pem(private=False)
    head = b64url(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def unsigned(claims: dict[str, Any]) -> str:
    return b64url(json.dumps({"alg": "none", "kid": "k1"}).encode()) + "." + b64url(json.dumps(claims).encode()) + "."


def other_key(claims: dict[str, Any]) -> str:
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, RSAKey.generate_key(2048))


FORGERIES: dict[str, tuple[Callable[[FakeOIDC, dict[str, Any]], str], str]] = {
    "wrong issuer": (lambda p, c: p.sign({**c, "iss": "https://evil.example"}), "iss"),
    "wrong audience": (lambda p, c: p.sign({**c, "aud": "someone-else"}), "aud"),
    "expired": (lambda p, c: p.sign({**c, "exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}), "exp"),
    "alg none": (lambda p, c: unsigned(c), "alg=none"),
    "HS256 with the public key": (hs256_with_public_key, "HS256"),
    "wrong nonce": (lambda p, c: p.sign({**c, "nonce": "replayed-nonce"}), "nonce"),
    "missing nonce": (lambda p, c: p.sign({k: v for k, v in c.items() if k != "nonce"}), "nonce"),
    "signed by another key": (lambda p, c: other_key(c), "signature"),
}


def oidc_config(provider: FakeOIDC) -> OAuth2Config:
    return OAuth2Config(token_name="oidc", grant_type="authorization_code_with_pkce", issuer=provider.url,
                        client_id=CLIENT, scope="openid profile", authorize_using_browser=True, callback_timeout=20)
