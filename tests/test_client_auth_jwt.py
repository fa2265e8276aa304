"""private_key_jwt and client_secret_jwt (RFC 7523) against panva's oidc-provider: a fresh assertion on every
request that authenticates the client, keys in every accepted form, and clear errors for bad ones."""

from __future__ import annotations

import pytest
from joserfc.jwk import ECKey, RSAKey

import nb_oauth
from nb_oauth.grants import _client_auth


def cc_config(provider, **kw) -> nb_oauth.OAuth2Config:  # type: ignore[no-untyped-def]
    base = dict(token_name="svc", grant_type="client_credentials", issuer=provider.issuer, client_id="pkjwt",
                client_authentication="private_key_jwt", client_assertion_key=provider.keys.pem("rsa"), scope="api")
    base.update(kw)
    return nb_oauth.OAuth2Config(**base)


@pytest.mark.parametrize("which,form", [("rsa", "pem"), ("ec", "jwk"), ("ed", "pem"), ("rsa", "jwk")])
def test_private_key_jwt_every_key_form(oidc_provider, which, form) -> None:
    keys = oidc_provider.keys
    key = keys.pem(which) if form == "pem" else keys.jwk_text(which)
    token = nb_oauth.get_new_access_token(cc_config(oidc_provider, client_assertion_key=key))
    assert token.access_token
    step = next(s for s in token.trace.steps if s.title.startswith("Token request"))
    shown = dict(step.params)
    assert shown["client_assertion_type"] == _client_auth.ASSERTION_TYPE
    assert "client_secret" not in shown and "…(" in shown["client_assertion"]
    assert key not in repr(token.trace.to_dict())


def test_key_from_file_and_placeholder(oidc_provider, tmp_path, monkeypatch) -> None:
    path = tmp_path / "client.pem"
    path.write_text(oidc_provider.keys.pem("ec"))
    assert nb_oauth.get_new_access_token(cc_config(oidc_provider, client_assertion_key=str(path))).access_token
    monkeypatch.setenv("CLIENT_KEY", oidc_provider.keys.jwk_text("rsa"))
    cfg = cc_config(oidc_provider, token_name="svc2", client_assertion_key="{{CLIENT_KEY}}")
    assert "{{CLIENT_KEY}}" in repr(cfg)
    assert nb_oauth.get_new_access_token(cfg).access_token


def test_fresh_assertion_on_login_refresh_and_revocation(oidc_provider, provider_login) -> None:
    """oidc-provider refuses a client assertion whose jti it has seen, so each success proves a fresh one."""
    cfg = nb_oauth.OAuth2Config(token_name="web", grant_type="authorization_code_with_pkce", issuer=oidc_provider.issuer,
                                client_id="pkjwt", client_authentication="private_key_jwt",
                                client_assertion_key=oidc_provider.keys.jwk_text("ec"), scope="openid")
    token = nb_oauth.get_new_access_token(cfg)
    first = token.access_token
    nb_oauth.tokens.refresh("web")
    second = nb_oauth.tokens["web"].access_token
    assert second != first
    nb_oauth.tokens.refresh("web")
    assert nb_oauth.tokens["web"].access_token not in (first, second)
    assertions = [dict(s.params).get("client_assertion") for s in token.trace.steps if s.method == "POST"]
    assert len([a for a in assertions if a]) >= 3
    nb_oauth.tokens.revoke("web")
    assert "web" not in nb_oauth.tokens


def test_client_secret_jwt(oidc_provider) -> None:
    secret = oidc_provider.secret("secretjwt")
    cfg = nb_oauth.OAuth2Config(token_name="hs", grant_type="client_credentials", issuer=oidc_provider.issuer,
                                client_id="secretjwt", client_authentication="client_secret_jwt", client_secret=secret)
    token = nb_oauth.get_new_access_token(cfg)
    assert token.access_token
    assert secret not in repr(token.trace.to_dict())


def test_device_authorization_request_is_authenticated(oidc_provider, monkeypatch) -> None:
    """The device authorization request carries the assertion: without it oidc-provider answers invalid_client."""
    monkeypatch.setenv("BROWSER", "true %s")
    cfg = cc_config(oidc_provider, grant_type="device_code", scope="openid", callback_timeout=1)
    with pytest.raises(nb_oauth.FlowTimeoutError):
        nb_oauth.get_new_access_token(cfg)


@pytest.mark.parametrize("bad,why", [
    ("not a key at all", "neither a PEM key"),
    ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----", "does not parse"),
    ('{"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}', "symmetric"),
    ('{kty: EC, crv: P-256, d: c2VjcmV0}', "in single quotes"),  # a JWK whose double quotes a shell line ate
])
def test_bad_key_is_a_clear_config_error_and_keeps_the_token(oidc_provider, bad, why) -> None:
    cfg = cc_config(oidc_provider)
    token = nb_oauth.get_new_access_token(cfg)
    kept = token.access_token
    with pytest.raises(nb_oauth.ConfigError) as err:
        nb_oauth.get_new_access_token(cfg.copy(client_assertion_key=bad))
    assert why in str(err.value) and bad not in str(err.value)
    assert nb_oauth.tokens["svc"].access_token == kept


def test_public_key_and_alg_mismatch(oidc_provider) -> None:
    public = oidc_provider.keys.rsa.as_pem(private=False).decode()
    with pytest.raises(nb_oauth.ConfigError, match="public key"):
        nb_oauth.get_new_access_token(cc_config(oidc_provider, client_assertion_key=public))
    with pytest.raises(nb_oauth.ConfigError, match="does not fit the key"):
        nb_oauth.get_new_access_token(cc_config(oidc_provider, client_assertion_alg="ES256"))


def test_alg_the_provider_does_not_list(oidc_provider) -> None:
    p384 = ECKey.generate_key("P-384", private=True).as_pem(private=True).decode()
    with pytest.raises(nb_oauth.ConfigError, match="token_endpoint_auth_signing_alg_values_supported"):
        nb_oauth.get_new_access_token(cc_config(oidc_provider, client_assertion_key=p384))


def test_unregistered_key_is_refused_by_the_server(oidc_provider) -> None:
    stranger = RSAKey.generate_key(2048, private=True).as_pem(private=True).decode()
    with pytest.raises(nb_oauth.TokenEndpointError) as err:
        nb_oauth.get_new_access_token(cc_config(oidc_provider, client_assertion_key=stranger))
    assert err.value.error == "invalid_client"
    assert stranger not in str(err.value)


def test_key_is_masked_in_repr_and_dict(oidc_provider) -> None:
    cfg = cc_config(oidc_provider)
    key = oidc_provider.keys.pem("rsa")
    assert key not in repr(cfg) and "PRIVATE" not in repr(cfg)
    assert cfg.to_dict()["client_assertion_key"] is None


def test_assertion_claims(oidc_provider) -> None:
    from joserfc import jwt

    from nb_oauth.grants.resolve import resolve_config

    cfg = resolve_config(cc_config(oidc_provider, client_assertion_key=oidc_provider.keys.jwk_text("ec")))
    one, two = _client_auth.client_assertion(cfg), _client_auth.client_assertion(cfg)
    claims = jwt.decode(one, oidc_provider.keys.ec).claims
    assert claims["iss"] == claims["sub"] == "pkjwt"
    assert claims["aud"] == oidc_provider.issuer
    assert claims["exp"] > claims["iat"]
    assert jwt.decode(two, oidc_provider.keys.ec).claims["jti"] != claims["jti"]
    assert jwt.decode(one, oidc_provider.keys.ec).header["kid"] == "ec-1"


def test_a_jwk_that_names_its_alg_signs_with_it(oidc_provider) -> None:
    import json

    from joserfc import jwt

    from nb_oauth.grants.resolve import resolve_config

    jwk = {**oidc_provider.keys.rsa.as_dict(private=True), "alg": "PS256", "use": "sig"}
    cfg = cc_config(oidc_provider, client_assertion_key=json.dumps(jwk))
    assert nb_oauth.get_new_access_token(cfg).access_token  # the provider verified a PS256 assertion
    signed = _client_auth.client_assertion(resolve_config(cfg))
    assert jwt.decode(signed, oidc_provider.keys.rsa, algorithms=["PS256"]).header["alg"] == "PS256"
    with pytest.raises(nb_oauth.ConfigError, match="the JWK itself says alg PS256") as err:
        nb_oauth.get_new_access_token(cc_config(oidc_provider, token_name="other", client_assertion_alg="RS256",
                                                client_assertion_key=json.dumps(jwk)))
    assert "JWK's alg" in str(err.value) and jwk["d"] not in str(err.value)
    with pytest.raises(nb_oauth.ConfigError, match="the JWK's alg ES256 does not fit the key"):
        nb_oauth.get_new_access_token(cc_config(oidc_provider, token_name="other",
                                                client_assertion_key=json.dumps({**jwk, "alg": "ES256"})))
    with pytest.raises(nb_oauth.ConfigError, match=r"FAPI 2\.0 signs with PS256, ES256, EdDSA only"):
        nb_oauth.get_new_access_token(nb_oauth.OAuth2Config(
            token_name="bank", issuer=oidc_provider.issuer, client_id="pkjwt", security_profile="fapi2", scope="api",
            client_assertion_key=json.dumps({**jwk, "alg": "RS256"})))
    with pytest.raises(nb_oauth.ConfigError, match="use=enc"):
        nb_oauth.get_new_access_token(cc_config(oidc_provider, token_name="other",
                                                client_assertion_key=json.dumps({**jwk, "use": "enc"})))
    assert nb_oauth.tokens["svc"].access_token  # the token got first is still there


def test_client_secret_jwt_refuses_a_secret_shorter_than_its_hash(oidc_provider) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="hs-short", grant_type="client_credentials", issuer=oidc_provider.issuer,
                                client_id="secretjwt", client_authentication="client_secret_jwt",
                                client_secret="twelve-chars")
    with pytest.raises(nb_oauth.ConfigError, match="at least 32 bytes") as err:
        nb_oauth.get_new_access_token(cfg)
    assert "twelve-chars" not in str(err.value) and "hs-short" not in nb_oauth.tokens


def test_an_alg_the_provider_does_not_list_is_fixed_with_one_that_fits() -> None:
    from nb_oauth.grants import _metadata_rules

    doc = {"token_endpoint_auth_signing_alg_values_supported": ["HS256", "ES256"]}
    with pytest.raises(nb_oauth.ConfigError) as err:
        _metadata_rules._check_listed(doc, "token_endpoint_auth_signing_alg_values_supported", "EdDSA",
                                      "client_assertion_alg", _metadata_rules._key_algs(False), "a private key")
    assert "e.g. ES256" in str(err.value)
    with pytest.raises(nb_oauth.ConfigError, match="None of the provider's algorithms fits a client secret"):
        _metadata_rules._check_listed({"token_endpoint_auth_signing_alg_values_supported": ["ES256"]},
                                      "token_endpoint_auth_signing_alg_values_supported", "HS512",
                                      "client_assertion_alg", ("HS256", "HS384", "HS512"), "a client secret (HMAC)")
