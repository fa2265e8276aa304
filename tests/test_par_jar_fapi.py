"""PAR (RFC 9126), JAR (RFC 9101) and the FAPI 2.0 Security Profile against oidc-provider, one instance in its
FAPI 2.0 profile (PAR required, DPoP-bound tokens, private_key_jwt, nonces), one general."""

from __future__ import annotations

import time

import pytest

import nb_oauth
import nb_oauth.oidc.jwt
from nb_oauth.dpop import _nonce

from .support import oidc_provider as op
from .support.dpop_resource_server import DPoPResourceServer
from .support.oidc_provider import read_login_log


@pytest.fixture(autouse=True)
def no_remembered_nonces():
    _nonce.clear()
    yield


def browser_params(log) -> list[str]:  # type: ignore[no-untyped-def]
    return next(e["authorization_url_params"] for e in read_login_log(log) if "authorization_url_params" in e)


def test_fapi2_login_with_only_issuer_client_id_key_and_scope(fapi_provider, provider_login) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="bank", security_profile="fapi2", issuer=fapi_provider.issuer,
                                client_id="fapi", client_assertion_key=fapi_provider.keys.pem("rsa"), scope="openid")
    token = nb_oauth.get_new_access_token(cfg)
    assert token.token_type == "DPoP" and token.token_set.dpop_key is not None
    assert token.id_token_verified and nb_oauth.oidc.jwt.decode_unverified(token.id_token).header["alg"] == "PS256"
    assert browser_params(provider_login) == ["client_id", "request_uri"]
    titles = [s.title for s in token.trace.steps]
    assert "Pushed authorization request (PAR)" in titles
    pushed = dict(next(s for s in token.trace.steps if s.title == "Pushed authorization request (PAR)").params)
    assert pushed["code_challenge_method"] == "S256" and pushed["dpop_jkt"] == token.token_set.dpop_key.jkt
    assert pushed["client_assertion_type"].endswith("jwt-bearer")
    rs = DPoPResourceServer(fapi_provider.issuer + "/token/introspection", "rs", fapi_provider.secret("rs"),
                            require_nonce=True).start()
    try:
        assert nb_oauth.session("bank").get(rs.url + "/accounts").json()["sub"] == "alice"
        nb_oauth.tokens.refresh("bank")
        assert nb_oauth.session("bank").get(rs.url + "/accounts").status_code == 200
    finally:
        rs.stop()


def test_fapi2_with_ec_key_and_jar(fapi_provider, provider_login) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="bank", security_profile="fapi2", issuer=fapi_provider.issuer,
                                client_id="fapi", client_assertion_key=fapi_provider.keys.jwk_text("ec"), scope="openid",
                                request_object=True)
    token = nb_oauth.get_new_access_token(cfg)
    pushed = dict(next(s for s in token.trace.steps if s.title == "Pushed authorization request (PAR)").params)
    assert set(pushed) >= {"client_id", "request", "client_assertion"} and "scope" not in pushed
    assert "…(" in pushed["request"]
    assert token.token_type == "DPoP"


@pytest.mark.parametrize("changes,rule", [
    (dict(grant_type="implicit"), "authorization code flow only"),
    (dict(code_challenge_method="plain"), "PKCE with S256"),
    (dict(use_par=False), "pushed authorization requests"),
    (dict(client_secret="s3cret-value"), "private_key_jwt client authentication"),
    (dict(client_authentication="client_secret_jwt"), "private_key_jwt client authentication"),
    (dict(add_token_to="url"), "Authorization header only"),
    (dict(client_assertion_alg="RS256"), "PS256, ES256 or EdDSA only"),
    (dict(dpop_alg="RS256"), "PS256, ES256 or EdDSA only"),
])
def test_fapi2_rules_are_config_errors_naming_rule_and_fix(changes, rule) -> None:
    base = dict(security_profile="fapi2", issuer="https://bank.example", client_id="c", client_assertion_key="{{K}}")
    with pytest.raises(nb_oauth.ConfigError) as err:
        nb_oauth.OAuth2Config(**{**base, **changes})
    text = str(err.value)
    assert "FAPI 2.0" in text and rule in text and "Fix:" in text
    assert "s3cret-value" not in text


def test_fapi2_endpoints_only_from_discovery(fapi_provider) -> None:
    cfg = nb_oauth.OAuth2Config(security_profile="fapi2", issuer=fapi_provider.issuer, client_id="fapi",
                                client_assertion_key=fapi_provider.keys.pem("rsa"),
                                auth_url=fapi_provider.issuer + "/auth")
    with pytest.raises(nb_oauth.ConfigError, match=r"endpoints only from the issuer.s metadata.*auth_url"):
        nb_oauth.get_new_access_token(cfg)
    with pytest.raises(nb_oauth.ConfigError, match="issuer is not set"):
        nb_oauth.get_new_access_token(cfg.copy(issuer=None, auth_url=None))


def test_fapi2_requires_iss_in_the_response() -> None:
    from nb_oauth.grants.redirect import RedirectFlow

    cfg = nb_oauth.OAuth2Config(security_profile="fapi2", issuer="https://bank.example", client_id="c",
                                client_assertion_key="{{K}}")
    flow = RedirectFlow(cfg)
    with pytest.raises(nb_oauth.StateMismatchError, match="RFC 9207"):
        flow._check_issuer(None)
    with pytest.raises(nb_oauth.StateMismatchError):
        flow._check_issuer("https://evil.example")
    flow._check_issuer("https://bank.example")


def test_par_is_used_when_discovery_requires_it(fapi_provider, provider_login) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="auto", grant_type="authorization_code_with_pkce", issuer=fapi_provider.issuer,
                                client_id="fapi", client_authentication="private_key_jwt", dpop=True,
                                client_assertion_key=fapi_provider.keys.pem("rsa"), client_assertion_alg="PS256",
                                scope="openid")
    assert cfg.use_par is None
    assert nb_oauth.get_new_access_token(cfg).token_type == "DPoP"
    assert browser_params(provider_login) == ["client_id", "request_uri"]


def test_par_forced_on_with_a_public_client(oidc_provider, provider_login) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="pub", grant_type="authorization_code_with_pkce", issuer=oidc_provider.issuer,
                                client_id="public", scope="openid", use_par=True)
    assert nb_oauth.get_new_access_token(cfg).access_token
    assert browser_params(provider_login) == ["client_id", "request_uri"]


def test_jar_without_par(oidc_provider, provider_login) -> None:
    """The "jar" client must send a signed request object: oidc-provider refuses it otherwise."""
    cfg = nb_oauth.OAuth2Config(token_name="jar", grant_type="authorization_code_with_pkce", issuer=oidc_provider.issuer,
                                client_id="jar", client_authentication="private_key_jwt", scope="openid",
                                client_assertion_key=oidc_provider.keys.pem("ed"), request_object=True, use_par=False)
    assert nb_oauth.get_new_access_token(cfg).access_token
    assert browser_params(provider_login) == ["client_id", "request"]


def test_jar_through_par(oidc_provider, provider_login) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="jar", grant_type="authorization_code_with_pkce", issuer=oidc_provider.issuer,
                                client_id="jar", client_authentication="private_key_jwt", scope="openid",
                                client_assertion_key=oidc_provider.keys.jwk_text("ec"), request_object=True,
                                use_par=True)
    assert nb_oauth.get_new_access_token(cfg).access_token
    assert browser_params(provider_login) == ["client_id", "request_uri"]


def test_expired_request_uri_is_pushed_again(provider_login, monkeypatch) -> None:
    """The first browser arrives after the request_uri expired (it gets the provider's error page); nb_oauth
    pushes again once and the second link logs in."""
    monkeypatch.setenv("NB_OAUTH_LOGIN_DELAY_FIRST", "3.5")
    with op.start("general", parTTL=2) as provider:
        cfg = nb_oauth.OAuth2Config(token_name="late", grant_type="authorization_code_with_pkce",
                                    issuer=provider.issuer, client_id="public", scope="openid", use_par=True)
        token = nb_oauth.get_new_access_token(cfg)
        for _ in range(100):  # the late first browser is still on its way: let it reach the provider
            if len([e for e in read_login_log(provider_login) if "back_at_client" in e or "error_page" in e]) == 2:
                break
            time.sleep(0.1)
    assert token.access_token
    log = read_login_log(provider_login)
    assert sum(1 for e in log if "authorization_url_params" in e) == 2
    assert any("error" in e.get("back_at_client", []) or "error_page" in e for e in log)  # the expired one
    assert "Pushed request expired: pushed again" in [s.title for s in token.trace.steps]
