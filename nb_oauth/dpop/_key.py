"""The DPoP key of one token and the proofs it signs (RFC 9449 §4)."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import time
import warnings
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError, StoreError
from ._ahead import ProofStock

if TYPE_CHECKING:  # joserfc is imported on first use: `import nb_oauth` stays light
    from joserfc.jwk import ECKey, OKPKey, RSAKey

DPOP_ALGS = ("ES256", "PS256", "RS256", "EdDSA")
PROOF_TYPE = "dpop+jwt"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token (RFC 9449 §4.2)."""
    return _b64(hashlib.sha256(access_token.encode("ascii")).digest())


def htu(url: str) -> str:
    """The proof's ``htu``: the request URL without query and fragment (RFC 9449 §4.2), scheme and host lower-cased,
    and without ``user:password@`` (never part of a request's target, RFC 9110 §4.2.4; never in a signed proof)."""
    parts = urlsplit(url)
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower().rpartition("@")[2]
    default_port = {"https": ":443", "http": ":80"}.get(scheme)
    if default_port and netloc.endswith(default_port):  # RFC 3986 §6.2.3: the default port is left out
        netloc = netloc[: -len(default_port)]
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def _generate(alg: str) -> RSAKey | ECKey | OKPKey:
    from joserfc.jwk import ECKey, OKPKey, RSAKey

    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    if alg in ("PS256", "RS256"):
        return RSAKey.generate_key(2048, private=True)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519", private=True)
    raise ConfigError(f"dpop_alg {alg!r} is not one nb_oauth signs DPoP proofs with.",
                      fix=f"Use one of: {', '.join(DPOP_ALGS)}.")


class DPoPKey:
    """A private key that never leaves this process unencrypted, its public JWK and thumbprint (``jkt``)."""

    __slots__ = ("_ath", "_header", "_htu", "_key", "_public", "_stock", "alg", "jkt")

    def __init__(self, key: RSAKey | ECKey | OKPKey, alg: str) -> None:
        self._key = key
        self.alg = alg
        self._public = key.as_dict(private=False)
        self._header = {"typ": PROOF_TYPE, "alg": alg, "jwk": self._public}
        self._ath: tuple[str, str] | None = None  # (access token, its hash): one token is sent many times
        self._htu: tuple[str, str] | None = None  # (request URL, its htu)
        self.jkt = key.thumbprint()  # RFC 7638, what the server binds the token to (cnf.jkt)
        self._stock = ProofStock()

    @classmethod
    def generate(cls, alg: str = "ES256") -> DPoPKey:
        return cls(_generate(alg), alg)

    @property
    def public_jwk(self) -> dict[str, Any]:
        return dict(self._public)

    def proof(self, method: str, url: str, *, access_token: str | None = None, nonce: str | None = None) -> str:
        """A fresh proof for one request: ``htm``, ``htu``, ``iat``, a unique ``jti``; ``ath`` and ``nonce`` when given."""
        return self._sign((method.upper(), self._target(url), access_token, nonce))

    def resource_proof(self, method: str, url: str, access_token: str, nonce: str | None) -> str:
        """The proof for one resource request; a loop's next ones are signed in runs (see :mod:`._ahead`).

        Runs are kept per ``htu``: requests that differ only in their query share them."""
        what = (method.upper(), self._target(url), access_token, nonce)
        return self._stock.take(what, lambda: self._sign(what))

    def _target(self, url: str) -> str:
        shown = self._htu
        if shown is None or shown[0] != url:  # a session sends many requests to one URL
            shown = self._htu = (url, htu(url))
        return shown[1]

    def _sign(self, what: tuple[str, str, str | None, str | None]) -> str:
        htm, target, access_token, nonce = what
        claims: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": htm, "htu": target,
                                  "iat": int(time.time())}
        if access_token is not None:
            cached = self._ath
            if cached is None or cached[0] != access_token:
                cached = self._ath = (access_token, access_token_hash(access_token))
            claims["ath"] = cached[1]
        if nonce:
            claims["nonce"] = nonce
        from joserfc import jws

        payload = json.dumps(claims, separators=(",", ":")).encode()
        if self.alg != "EdDSA":
            return jws.serialize_compact(self._header, payload, self._key, algorithms=[self.alg])
        with warnings.catch_warnings():  # joserfc flags EdDSA as superseded by Ed25519 (RFC 9864)
            warnings.simplefilter("ignore")
            return jws.serialize_compact(self._header, payload, self._key, algorithms=[self.alg])

    # -- the encrypted shared store only -------------------------------------------------------------

    def to_private_jwk(self) -> dict[str, Any]:
        """The private JWK, for the encrypted shared store (``share=True``) and nothing else."""
        return {**self._key.as_dict(private=True), "alg": self.alg}

    @classmethod
    def from_private_jwk(cls, data: object) -> DPoPKey:
        from joserfc.errors import JoseError
        from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey

        try:
            if not isinstance(data, dict):
                raise ValueError("not a JWK")
            alg = str(data.get("alg") or "ES256")
            key = JWKRegistry.import_key({k: v for k, v in data.items() if k != "alg"})
            if not isinstance(key, RSAKey | ECKey | OKPKey) or not key.is_private or alg not in DPOP_ALGS:
                raise ValueError("not a private DPoP key")
        except (JoseError, ValueError, TypeError, KeyError):
            raise StoreError("The DPoP key stored with a shared token cannot be read.",
                             fix="Get the token again; the new one replaces the entry.") from None
        return cls(key, alg)

    def __repr__(self) -> str:
        return f"DPoPKey(alg={self.alg!r}, jkt={self.jkt[:8]!r}…)"

    def __reduce__(self) -> Any:
        raise TypeError("A DPoP private key is not pickled: it stays in the process that holds the token.")


@functools.cache
def _reader() -> Any:
    from joserfc.jws import JWSRegistry

    class ProofRegistry(JWSRegistry):
        max_header_length = 2048  # the header carries the public JWK; an RSA one is beyond joserfc's 512-byte default

    return ProofRegistry(algorithms=list(DPOP_ALGS))


def describe_proof(proof: str) -> dict[str, Any]:
    """A proof's decoded header and claims, for the trace (the header's ``jwk`` is the public key)."""
    from joserfc import jws
    from joserfc.errors import JoseError

    try:
        parts = jws.extract_compact(proof.encode(), registry=_reader())
        claims = json.loads(parts.payload)
    except (JoseError, ValueError):
        return {}
    return {"header": dict(parts.protected), "claims": claims}
