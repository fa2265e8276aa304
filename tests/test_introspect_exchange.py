"""tokens.introspect and tokens.userinfo against oidc-provider (client auth and DPoP as configured), and the
token_exchange grant against the demo server with an RFC 8693 grant built on Authlib's base classes."""

from __future__ import annotations

import dataclasses

import pytest

import nb_oauth
from nb_oauth.demo import DemoServer
from nb_oauth.demo.constants import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET
from nb_oauth.dpop import _nonce
from nb_oauth.grants.resolve import resolve_config
from nb_oauth.grants.revocation import revoke_token_set

from .support import token_exchange_grant


@pytest.fixture(autouse=True)
def no_remembered_nonces():
    _nonce.clear()
    yield


def login(provider, name: str, **kw) -> nb_oauth.Token:  # type: ignore[no-untyped-def]
    base = dict(token_name=name, grant_type="authorization_code_with_pkce", issuer=provider.issuer,
                client_id="public", scope="openid email")
    return nb_oauth.get_new_access_token(nb_oauth.OAuth2Config(**{**base, **kw}))


def test_endpoints_come_from_discovery(oidc_provider) -> None:
    cfg = resolve_config(nb_oauth.OAuth2Config(issuer=oidc_provider.issuer, client_id="public"))
    assert cfg.introspection_url == oidc_provider.issuer + "/token/introspection"
    assert cfg.userinfo_url == oidc_provider.issuer + "/me"
    assert cfg.par_url == oidc_provider.issuer + "/request"


def test_introspect_and_userinfo_of_a_dpop_token(oidc_provider, provider_login) -> None:
    token = login(oidc_provider, "me", dpop=True)
    info = nb_oauth.tokens.introspect("me")
    assert info["active"] is True and info["client_id"] == "public" and info["sub"] == "alice"
    assert info["cnf"]["jkt"] == token.token_set.dpop_key.jkt and info["token_type"] == "DPoP"
    claims = nb_oauth.tokens.userinfo("me")
    assert claims["sub"] == "alice" and claims["email"] == "alice@example.test"
    assert any(s.title == "DPoP proof for the userinfo request" for s in token.trace.steps)
    assert token.access_token not in repr(token.trace.to_dict())


def test_introspection_with_private_key_jwt_sees_revocation(oidc_provider) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="svc", grant_type="client_credentials", issuer=oidc_provider.issuer,
                                client_id="pkjwt", client_authentication="private_key_jwt",
                                client_assertion_key=oidc_provider.keys.pem("rsa"), scope="api")
    token = nb_oauth.get_new_access_token(cfg)
    assert nb_oauth.tokens.introspect("svc")["active"] is True
    revoke_token_set(resolve_config(cfg), token.token_set)
    assert nb_oauth.tokens.introspect("svc") == {"active": False}
    steps = [s for s in token.trace.steps if s.title == "Token introspection"]
    assert len(steps) == 2 and "client_assertion" in dict(steps[0].params)


def test_userinfo_sub_must_match_the_id_token(oidc_provider, provider_login, monkeypatch) -> None:
    alice = login(oidc_provider, "alice")
    monkeypatch.setenv("NB_OAUTH_LOGIN_USER", "bob")
    bob = login(oidc_provider, "bob")
    assert nb_oauth.tokens.userinfo("bob")["sub"] == "bob"
    alice._swap(dataclasses.replace(alice.token_set, id_token=bob.id_token))  # alice's token, bob's ID token
    with pytest.raises(nb_oauth.IDTokenError, match="sub differs"):
        nb_oauth.tokens.userinfo("alice")


def test_no_endpoint_is_a_config_error(demo) -> None:
    cfg = nb_oauth.OAuth2Config(token_name="cc", grant_type="client_credentials", access_token_url=demo.url + "/token",
                                client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET)
    nb_oauth.get_new_access_token(cfg)
    with pytest.raises(nb_oauth.ConfigError, match="introspection_url"):
        nb_oauth.tokens.introspect("cc")
    with pytest.raises(nb_oauth.ConfigError, match="userinfo_url"):
        nb_oauth.tokens.userinfo("cc")


# -- token exchange ---------------------------------------------------------------------------------


@pytest.fixture
def exchange_server():
    srv = DemoServer(port=0).start()
    token_exchange_grant.enable(srv)
    yield srv
    srv.stop()


def cc(srv, name: str = "subject") -> nb_oauth.Token:  # type: ignore[no-untyped-def]
    return nb_oauth.get_new_access_token(nb_oauth.OAuth2Config(
        token_name=name, grant_type="client_credentials", access_token_url=srv.url + "/token",
        client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET, scope="items:read"))


def exchange_cfg(srv, **kw) -> nb_oauth.OAuth2Config:  # type: ignore[no-untyped-def]
    base = dict(token_name="exchanged", grant_type="token_exchange", access_token_url=srv.url + "/token",
                client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET)
    return nb_oauth.OAuth2Config(**{**base, **kw})


def test_exchange_from_a_placeholder(exchange_server, monkeypatch) -> None:
    subject = cc(exchange_server)
    monkeypatch.setenv("SUBJECT", subject.access_token)
    token = nb_oauth.get_new_access_token(exchange_cfg(exchange_server, subject_token="{{SUBJECT}}",
                                                       audience=["https://backend.example"]))
    assert token.access_token != subject.access_token and token.raw["issued_token_type"].endswith("access_token")
    step = dict(next(s for s in token.trace.steps if s.title == "Token exchange request").params)
    assert step["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert step["audience"] == "https://backend.example" and subject.access_token not in str(step)
    assert nb_oauth.session("exchanged").get(exchange_server.url + "/api/user").status_code == 200


def test_exchange_from_a_stored_token_and_again_on_expiry(exchange_server) -> None:
    cc(exchange_server)
    token = nb_oauth.get_new_access_token(exchange_cfg(exchange_server, subject_token_name="subject"))
    first = token.access_token
    assert token.refresh_token is None
    nb_oauth.tokens.refresh("exchanged")  # no refresh token: exchanged again from the current subject token
    assert token.access_token != first
    assert [s.title for s in token.trace.steps].count("Token exchange request") == 2


def test_exchange_with_an_actor_token(exchange_server) -> None:
    cc(exchange_server)
    actor = cc(exchange_server, "actor")
    token = nb_oauth.get_new_access_token(exchange_cfg(exchange_server, subject_token_name="subject",
                                                       actor_token=actor.access_token, actor_token_type="access_token"))
    step = dict(next(s for s in token.trace.steps if s.title == "Token exchange request").params)
    assert step["actor_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert token.raw["act"] == {"client_id": CONFIDENTIAL_CLIENT_ID}  # the server saw and checked the actor token


def test_refused_exchange_is_clear_and_keeps_the_old_token(exchange_server) -> None:
    subject = cc(exchange_server)
    token = nb_oauth.get_new_access_token(exchange_cfg(exchange_server, subject_token_name="subject"))
    kept = token.access_token
    with pytest.raises(nb_oauth.TokenEndpointError) as err:
        nb_oauth.get_new_access_token(exchange_cfg(exchange_server, token_name="bad", subject_token="not-a-token"))
    assert err.value.error == "invalid_grant"
    with pytest.raises(nb_oauth.TokenEndpointError) as err:
        nb_oauth.get_new_access_token(exchange_cfg(exchange_server, token_name="aud", subject_token_name="subject",
                                                   audience=["https://elsewhere.example"]))
    assert err.value.error == "invalid_target" and "check audience and resource" in str(err.value)
    exchange_server.revoke_all_access_tokens()  # the subject token is dead now
    with pytest.raises(nb_oauth.RefreshError):
        nb_oauth.tokens.refresh("exchanged")
    assert nb_oauth.tokens["exchanged"].access_token == kept
    assert subject.access_token


def test_a_subject_token_name_with_no_stored_token_is_an_oauth_error(exchange_server) -> None:
    with pytest.raises(nb_oauth.ConfigError, match="names no stored token") as err:
        nb_oauth.get_new_access_token(exchange_cfg(exchange_server, subject_token_name="nobody"))
    assert isinstance(err.value, nb_oauth.OAuthError) and "Fix:" in str(err.value)
    cc(exchange_server)
    token = nb_oauth.get_new_access_token(exchange_cfg(exchange_server, subject_token_name="subject"))
    kept = token.access_token
    nb_oauth.tokens.delete("subject")  # gone before the exchanged token is renewed
    with pytest.raises(nb_oauth.RefreshError, match="names no stored token"):
        nb_oauth.tokens.refresh("exchanged")
    assert nb_oauth.tokens["exchanged"].access_token == kept


def test_subject_token_and_subject_token_name_together_is_a_config_error(exchange_server) -> None:
    with pytest.raises(nb_oauth.ConfigError, match="both name the token to exchange"):
        exchange_cfg(exchange_server, subject_token="abc", subject_token_name="subject")
