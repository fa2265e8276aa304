"""OAuth2Config: every bad input is caught up front with the field and the fix named."""

from __future__ import annotations

import dataclasses

import pytest

from nb_oauth import ConfigError, OAuth2Config
from nb_oauth.config import placeholders
from nb_oauth.grants.resolve import resolve_config

CONTRACT_FIELDS = {
    "token_name", "grant_type", "callback_url", "authorize_using_browser", "auth_url", "access_token_url",
    "refresh_token_url", "device_authorization_url", "revocation_url", "issuer", "client_id", "client_secret",
    "scope", "state", "client_authentication", "code_challenge_method", "code_verifier", "username", "password",
    "auth_request_params", "token_request_params", "refresh_request_params", "audience", "resource",
    "add_token_to", "header_prefix", "auto_refresh", "use_token_type",
}


def test_every_contract_field_exists_with_contract_defaults() -> None:
    names = {f.name for f in dataclasses.fields(OAuth2Config)}
    assert names >= CONTRACT_FIELDS
    cfg = OAuth2Config()
    assert (cfg.client_authentication, cfg.code_challenge_method, cfg.add_token_to) == ("header", "S256", "header")
    assert (cfg.header_prefix, cfg.auto_refresh, cfg.use_token_type) == ("Bearer", True, "access_token")
    assert cfg.callback_url is None and cfg.state is None and cfg.code_verifier is None


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"grant_type": "client_credental"}, ["grant_type", "client_credentials"]),
        ({"code_verifier": "short"}, ["code_verifier", "43"]),
        ({"code_verifier": "a" * 129}, ["code_verifier", "129"]),
        ({"code_verifier": "é" * 50}, ["code_verifier", "alphabet"]),
        ({"access_token_url": "http://idp.example/token"}, ["access_token_url", "allow_insecure_http"]),
        ({"auth_url": "idp.example/authorize"}, ["auth_url", "absolute"]),
        ({"client_authentication": "cookie"}, ["client_authentication", "header", "body"]),
        ({"code_challenge_method": "MD5"}, ["code_challenge_method", "S256"]),
        ({"add_token_to": "body"}, ["add_token_to"]),
        ({"use_token_type": "refresh_token"}, ["use_token_type"]),
        ({"token_request_params": [("k", "v", "cookie")]}, ["send_as"]),
        ({"token_request_params": [("", "v", "body")]}, ["empty key"]),
        ({"token_request_params": [("X-A", "a\r\nb", "header")]}, ["line break"]),
        ({"auto_refresh": "yes"}, ["auto_refresh"]),
        ({"token_name": "  "}, ["token_name"]),
        ({"refresh_leeway": -1}, ["refresh_leeway"]),
        ({"access_token_url": 42}, ["access_token_url"]),
    ],
)
def test_bad_input_names_field_and_fix(kwargs: dict, names: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        OAuth2Config(**kwargs)
    message = str(info.value)
    for name in names:
        assert name in message
    assert "Fix:" in message


@pytest.mark.parametrize(
    ("grant", "missing"),
    [
        ("authorization_code", ["auth_url", "access_token_url", "client_id"]),
        ("implicit", ["auth_url", "client_id"]),
        ("device_code", ["access_token_url", "device_authorization_url", "client_id"]),
        ("client_credentials", ["access_token_url", "client_id", "client_secret"]),
        ("password_credentials", ["access_token_url", "username", "password"]),
    ],
)
def test_incomplete_grant_is_named_before_any_request(grant: str, missing: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(OAuth2Config(grant_type=grant))
    for name in missing:
        assert name in str(info.value)


def test_http_is_fine_on_loopback_and_with_per_config_opt_in() -> None:
    OAuth2Config(access_token_url="http://127.0.0.1:9/token")
    OAuth2Config(access_token_url="http://localhost:9/token")
    OAuth2Config(access_token_url="http://[::1]:9/token")
    OAuth2Config(access_token_url="http://idp.internal/token", allow_insecure_http=True)
    import os

    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_aliases_and_postman_spellings_normalise() -> None:
    cfg = OAuth2Config(grant_type="Authorization Code (With PKCE)".replace(" (With PKCE)", "_with_pkce"),
                       add_token_to="queryParams", client_authentication="client_secret_post",
                       code_challenge_method="sha256", scope=["openid", "email"],
                       token_request_params=[{"key": "a", "value": "1", "send_as": "request_url"},
                                             {"key": "b", "value": "2", "send_as": "request_body", "enabled": False}],
                       audience="https://api.one https://api.two")
    assert cfg.grant_type == "authorization_code_with_pkce"
    assert (cfg.add_token_to, cfg.client_authentication, cfg.code_challenge_method) == ("url", "body", "S256")
    assert cfg.scope == "openid email"
    assert cfg.token_request_params == [("a", "1", "url")]
    assert cfg.audience == ["https://api.one", "https://api.two"]


def test_placeholders_fill_from_notebook_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDP", "https://idp.example")
    monkeypatch.setenv("SECRET", "from-env")
    namespace = {"SECRET": "from-notebook"}
    placeholders.set_namespace(lambda: namespace)
    try:
        cfg = OAuth2Config(grant_type="client_credentials", access_token_url="{{IDP}}/token", client_id="app",
                           client_secret="{{ SECRET }}", token_request_params=[("aud", "{{IDP}}", "body")])
        assert cfg.client_secret == "{{ SECRET }}"  # kept as written: the config never holds the secret
        filled = resolve_config(cfg)
        assert filled.access_token_url == "https://idp.example/token"
        assert filled.client_secret == "from-notebook"
        assert filled.token_request_params == [("aud", "https://idp.example", "body")]
    finally:
        placeholders.set_namespace(None)


def test_unknown_placeholder_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    cfg = OAuth2Config(grant_type="client_credentials", access_token_url="https://idp/token", client_id="a",
                       client_secret="{{NOPE_SECRET}}")
    with pytest.raises(ConfigError) as info:
        resolve_config(cfg)
    assert "NOPE_SECRET" in str(info.value) and "client_secret" in str(info.value)


def test_repr_never_shows_secrets() -> None:
    cfg = OAuth2Config(client_secret="super-secret-value", password="hunter2-password",
                       code_verifier="v" * 50)
    text = repr(cfg)
    assert "super-secret-value" not in text and "hunter2" not in text and "v" * 50 not in text
    assert "client_secret='•••'" in text


def test_authorize_using_browser_defaults_by_where_the_kernel_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The config itself probes nothing (None means "the default"); the flow's resolution decides."""
    cfg = OAuth2Config(grant_type="authorization_code", auth_url="https://idp.example/authorize",
                       access_token_url="https://idp.example/token", client_id="c", client_secret="s")
    monkeypatch.setenv("NB_OAUTH_REMOTE", "0")
    assert cfg.authorize_using_browser is None
    assert resolve_config(cfg).authorize_using_browser is True
    monkeypatch.setenv("NB_OAUTH_REMOTE", "1")
    assert resolve_config(cfg).authorize_using_browser is False
    assert OAuth2Config(authorize_using_browser=True).authorize_using_browser is True
    # a grant that never shows a page is not given a browser setting it would not use
    machine = cfg.copy(grant_type="client_credentials")
    assert resolve_config(machine).authorize_using_browser is None
