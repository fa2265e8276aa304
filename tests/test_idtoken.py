"""ID-token validation: every forgery is rejected with the failed check named."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from nb_oauth.errors import IDTokenError
from nb_oauth.oidc.idtoken import at_hash, validate_id_token

ISSUER = "https://idp.example"
CLIENT = "my-app"
ACCESS = "access-token-value-123"


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})


@pytest.fixture(scope="module")
def jwks(key: RSAKey) -> dict:
    return KeySet([key]).as_dict(private=False)


def claims(**over) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "alice", "iat": now, "exp": now + 300, "nonce": "n-1",
            "at_hash": at_hash(ACCESS, "RS256")}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: RSAKey, payload: dict, header: dict | None = None) -> str:
    return jwt.encode(header or {"alg": "RS256", "kid": "k1"}, payload, key)


def check(token: str, jwks: dict, **kw):
    args = dict(jwks=jwks, issuer=ISSUER, client_id=CLIENT, nonce="n-1", access_token=ACCESS)
    args.update(kw)
    return validate_id_token(token, **args)


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_a_good_token_passes(key, jwks) -> None:
    assert check(sign(key, claims()), jwks)["sub"] == "alice"


@pytest.mark.parametrize(
    ("payload", "kwargs", "named"),
    [
        (lambda: claims(iss="https://evil.example"), {}, "iss"),
        (lambda: claims(aud="other-app"), {}, "aud"),
        (lambda: claims(nonce="replayed"), {}, "nonce"),
        (lambda: claims(nonce=None), {}, "nonce"),
        (lambda: claims(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200), {}, "exp"),
        (lambda: claims(nbf=int(time.time()) + 3600), {}, "nbf"),
        (lambda: claims(at_hash="AAAAAAAAAAAAAAAAAAAAAA"), {}, "at_hash"),
        (lambda: claims(sub=None), {}, "sub"),
    ],
)
def test_claim_forgeries_are_rejected(key, jwks, payload, kwargs, named) -> None:
    with pytest.raises(IDTokenError) as info:  # claims made now, not when the tests were collected
        check(sign(key, payload()), jwks, **kwargs)
    assert named in str(info.value)


def test_alg_none_is_rejected(jwks) -> None:
    token = b64({"alg": "none", "kid": "k1"}) + "." + b64(claims()) + "."
    with pytest.raises(IDTokenError, match="alg=none"):
        check(token, jwks)


def test_hmac_signed_with_the_public_key_is_rejected(key, jwks) -> None:
    import hashlib
    import hmac

    public_pem = key.as_pem(private=False)  # an attacker signs with what everyone can download
    signing_input = b64({"alg": "HS256", "kid": "k1"}) + "." + b64(claims())
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    forged = signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(IDTokenError, match="symmetric"):
        check(forged, jwks)


def test_unknown_kid_refetches_once_then_rejects(key, jwks) -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k2"})
    token = sign(other, claims(), {"alg": "RS256", "kid": "k2"})
    calls = []
    with pytest.raises(IDTokenError, match="kid"):
        check(token, jwks, refetch_jwks=lambda: calls.append(1) or jwks)
    assert calls == [1]
    rotated = KeySet([key, other]).as_dict(private=False)
    assert check(token, jwks, refetch_jwks=lambda: rotated)["sub"] == "alice"


def test_signed_by_another_key_with_the_same_kid_is_rejected(jwks) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(IDTokenError, match="signature"):
        check(sign(impostor, claims()), jwks)


def test_tampered_payload_is_rejected(key, jwks) -> None:
    header, _, signature = sign(key, claims()).split(".")
    tampered = f"{header}.{b64(claims(sub='mallory'))}.{signature}"
    with pytest.raises(IDTokenError, match="signature"):
        check(tampered, jwks)


def test_garbage_is_rejected(jwks) -> None:
    with pytest.raises(IDTokenError, match="format"):
        check("not-a-jwt", jwks)


def test_hs256_signed_with_the_client_secret_is_accepted_and_a_wrong_secret_is_not(jwks) -> None:
    from joserfc.jwk import OctKey

    secret = "a-confidential-client-secret-of-decent-length"
    token = jwt.encode({"alg": "HS256"}, claims(), OctKey.import_key(secret))
    assert check(token, jwks, client_secret=secret)["sub"] == "alice"
    with pytest.raises(IDTokenError, match="client secret"):
        check(token, jwks, client_secret="another-secret-entirely-of-decent-length")
    with pytest.raises(IDTokenError, match="symmetric"):
        check(token, jwks)  # a public client has no secret: HMAC cannot be trusted
