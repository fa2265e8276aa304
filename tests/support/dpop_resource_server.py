"""A resource server on loopback that checks DPoP for real (RFC 9449 §7): the proof's signature (joserfc),
``typ``, ``alg``, ``htm``, ``htu``, ``iat``, ``ath``, a fresh ``jti`` (replays refused), its own nonce
(§9, when ``require_nonce``), and the token's binding: the provider's introspection answer must carry
``cnf.jkt`` equal to the proof key's thumbprint. Bearer tokens are accepted only when not DPoP-bound.

Every answer is JSON; ``GET /whoami`` returns the token's subject, client and how it was presented.
``/moved/<status>/<path>`` answers a redirect to ``/<path>`` (or to its ``?to=`` URL) before any token
check, as a trailing-slash or a moved-API redirect does. ``stats.seen`` records, for every request, its
method, path and whether it carried an ``Authorization`` and a ``DPoP`` header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry
from joserfc.jws import JWSRegistry

ALGS = ["ES256", "PS256", "RS256", "EdDSA"]
IAT_WINDOW = 60


class _Registry(JWSRegistry):
    max_header_length = 2048  # a proof's header carries the public JWK: an RSA one is larger than joserfc's default


REGISTRY = _Registry(algorithms=ALGS)


@dataclass
class Stats:
    requests: int = 0
    nonce_challenges: int = 0
    refused: list[str] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    seen: list[tuple[str, str, bool, bool]] = field(default_factory=list)  # method, path, Authorization?, DPoP?


class DPoPResourceServer:
    def __init__(self, introspection_url: str, client_id: str, client_secret: str, *, require_nonce: bool = False,
                 nonce_forever: bool = False) -> None:
        self.introspection_url = introspection_url
        self.auth = (client_id, client_secret)
        self.require_nonce = require_nonce
        self.nonce_forever = nonce_forever  # a fault: a new nonce demanded on every request
        self.nonce = secrets.token_urlsafe(16)
        self.stats = Stats()
        self._seen_jti: set[str] = set()
        self._lock = threading.Lock()
        self._cache: dict[str, dict[str, Any]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> DPoPResourceServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- checks ----------------------------------------------------------------------------------

    def introspect(self, token: str) -> dict[str, Any]:
        with self._lock:
            cached = self._cache.get(token)
        if cached is not None and cached.get("exp", 0) > time.time():
            return cached
        r = requests.post(self.introspection_url, data={"token": token}, auth=self.auth, timeout=10)
        data = r.json() if r.status_code == 200 else {"active": False}
        if data.get("active"):
            with self._lock:
                self._cache[token] = data
        return data

    def check(self, method: str, url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """(status, body, extra headers) for one request."""
        authz = headers.get("authorization", "")
        scheme, _, token = authz.partition(" ")
        if not token:
            return 401, {"error": "invalid_token", "why": "no token"}, {"WWW-Authenticate": 'DPoP algs="ES256"'}
        info = self.introspect(token)
        if not info.get("active"):
            return 401, {"error": "invalid_token", "why": "inactive"}, {"WWW-Authenticate": 'DPoP error="invalid_token"'}
        bound = (info.get("cnf") or {}).get("jkt")
        if scheme.lower() == "bearer":
            if bound:
                return 401, {"error": "invalid_token", "why": "DPoP-bound token sent as Bearer"}, {
                    "WWW-Authenticate": 'DPoP error="invalid_token"'}
            return 200, {"sub": info.get("sub"), "client_id": info.get("client_id"), "scheme": "Bearer"}, {}
        if scheme.lower() != "dpop":
            return 401, {"error": "invalid_token", "why": f"scheme {scheme}"}, {}
        proof = headers.get("dpop")
        if not proof or "," in proof:
            return 401, {"error": "invalid_dpop_proof", "why": "no single DPoP header"}, _challenge("invalid_dpop_proof")
        try:
            header = jws.extract_compact(proof.encode(), registry=REGISTRY).protected
            if header.get("typ") != "dpop+jwt" or header.get("alg") not in ALGS or "d" in header.get("jwk", {}):
                raise ValueError("bad header")
            key = JWKRegistry.import_key(header["jwk"])
            claims = json.loads(jws.deserialize_compact(proof, key, algorithms=[header["alg"]], registry=REGISTRY).payload)
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            return 401, {"error": "invalid_dpop_proof", "why": f"signature: {exc}"}, _challenge("invalid_dpop_proof")
        expected_htu = _htu(url)
        ath = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
        problem = (
            "htm" if claims.get("htm") != method else
            "htu" if claims.get("htu") != expected_htu else
            "iat" if abs(time.time() - float(claims.get("iat", 0))) > IAT_WINDOW else
            "ath" if claims.get("ath") != ath else
            "jkt" if key.thumbprint() != bound else None
        )
        if problem:
            return 401, {"error": "invalid_dpop_proof", "why": problem}, _challenge("invalid_dpop_proof")
        if self.require_nonce and (self.nonce_forever or claims.get("nonce") != self.nonce):
            with self._lock:
                self.stats.nonce_challenges += 1
                self.nonce = secrets.token_urlsafe(16)
            return 401, {"error": "use_dpop_nonce"}, {**_challenge("use_dpop_nonce"), "DPoP-Nonce": self.nonce}
        with self._lock:
            if claims.get("jti") in self._seen_jti or not claims.get("jti"):
                return 401, {"error": "invalid_dpop_proof", "why": "replayed jti"}, _challenge("invalid_dpop_proof")
            self._seen_jti.add(claims["jti"])
        return 200, {"sub": info.get("sub"), "client_id": info.get("client_id"), "scheme": "DPoP", "jkt": bound}, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        rs = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = f"{rs.url}{self.path}"
                path = urlsplit(self.path)
                with rs._lock:
                    rs.stats.seen.append((self.command, path.path, "authorization" in headers, "dpop" in headers))
                if path.path.startswith("/moved/"):
                    _, _, code, rest = path.path.split("/", 3)
                    to = parse_qs(path.query).get("to", ["/" + rest])[0]
                    self.send_response(int(code))
                    self.send_header("Location", to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, body, extra = rs.check(self.command, url, headers)
                with rs._lock:
                    rs.stats.requests += 1
                    (rs.stats.accepted.append(body) if status == 200 else rs.stats.refused.append(str(body.get("why",
                                                                                                      body["error"]))))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _challenge(error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'DPoP error="{error}", algs="{" ".join(ALGS)}"'}


def _htu(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"
