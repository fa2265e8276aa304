"""Every grant end to end against the embedded demo server, with the scripted user agent as the browser."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
)
from nb_oauth.grants.resolve import resolve_config

from .support.servers import recording_proxy


def code_config(demo, **kw) -> OAuth2Config:
    base = dict(token_name="code", grant_type="authorization_code_with_pkce", auth_url=demo.url + "/authorize",
                access_token_url=demo.url + "/token", client_id=PUBLIC_CLIENT_ID,
                scope="openid profile items:read", authorize_using_browser=True, callback_timeout=30)
    base.update(kw)
    return OAuth2Config(**base)


def api_me(name: str, demo) -> dict:
    r = nb_oauth.session(name).get(demo.url + "/api/me")
    assert r.status_code == 200, r.text
    return r.json()


def test_client_credentials_basic_and_body(demo) -> None:
    for how in ("header", "body"):
        cfg = OAuth2Config(token_name=f"cc-{how}", grant_type="client_credentials",
                           access_token_url=demo.url + "/token", client_id=CONFIDENTIAL_CLIENT_ID,
                           client_secret=CONFIDENTIAL_CLIENT_SECRET, client_authentication=how, scope="items:read")
        token = nb_oauth.get_new_access_token(cfg)
        assert token.token_name == f"cc-{how}" and nb_oauth.tokens[f"cc-{how}"] is token
        assert api_me(f"cc-{how}", demo)["client_id"] == CONFIDENTIAL_CLIENT_ID
        assert token.expires_at is not None and 0 < token.expires_in <= 300


def test_client_authentication_really_goes_where_configured(demo) -> None:
    with recording_proxy(demo.url) as proxy:
        for how in ("header", "body"):
            cfg = OAuth2Config(token_name=how, grant_type="client_credentials", access_token_url=proxy.url + "/token",
                               client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                               client_authentication=how)
            nb_oauth.get_new_access_token(cfg)
        header_call, body_call = proxy.seen
    expected = "Basic " + base64.b64encode(f"{CONFIDENTIAL_CLIENT_ID}:{CONFIDENTIAL_CLIENT_SECRET}".encode()).decode()
    assert header_call.headers["authorization"] == expected
    assert "client_secret" not in dict(header_call.body)
    assert "authorization" not in body_call.headers
    assert dict(body_call.body)["client_secret"] == CONFIDENTIAL_CLIENT_SECRET


def test_password_grant(demo) -> None:
    cfg = OAuth2Config(token_name="pw", grant_type="password_credentials", access_token_url=demo.url + "/token",
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                       username="alice", password="wonderland", scope="profile items:read")
    token = nb_oauth.get_new_access_token(cfg)
    assert token.refresh_token
    assert api_me("pw", demo)["sub"] == "alice"


@pytest.mark.parametrize("method", ["S256", "plain"])
def test_pkce_code_flow_through_the_browser(demo, robot, method: str) -> None:
    token = nb_oauth.get_new_access_token(code_config(demo, code_challenge_method=method, issuer=demo.url))
    assert token.refresh_token and token.id_token
    assert token.claims["sub"] == "alice" and token.id_token_verified
    assert api_me("code", demo)["sub"] == "alice"
    steps = [s.title for s in token.trace.steps]
    assert steps[0] == "Authorization request" and any("PKCE" in s for s in steps)
    sent = dict(token.trace.steps[0].params)
    assert sent["code_challenge_method"] == method


def test_given_code_verifier_is_the_one_sent(demo, robot) -> None:
    verifier = "A" * 20 + "-._~" + "b" * 30
    with recording_proxy(demo.url) as proxy:
        cfg = code_config(demo, access_token_url=proxy.url + "/token", code_verifier=verifier)
        nb_oauth.get_new_access_token(cfg)
        token_call = proxy.seen[-1]
    assert dict(token_call.body)["code_verifier"] == verifier
    auth_step = nb_oauth.tokens["code"].trace.steps[0]
    challenge = dict(auth_step.params)["code_challenge"]
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == expected
    assert verifier not in repr(nb_oauth.tokens["code"].trace.to_dict())


def test_plain_authorization_code_with_confidential_client(demo, robot) -> None:
    cfg = code_config(demo, grant_type="authorization_code", client_id=CONFIDENTIAL_CLIENT_ID,
                      client_secret=CONFIDENTIAL_CLIENT_SECRET, scope="profile items:read items:write")
    token = nb_oauth.get_new_access_token(cfg)
    assert "code_challenge" not in dict(token.trace.steps[0].params)
    assert "items:write" in token.scope


def test_implicit_token_arrives_through_the_relay(demo, robot) -> None:
    cfg = code_config(demo, token_name="imp", grant_type="implicit", scope="profile items:read")
    token = nb_oauth.get_new_access_token(cfg)
    assert token.refresh_token is None
    assert api_me("imp", demo)["sub"] == "alice"
    redirect = next(s for s in token.trace.steps if s.title.startswith("Redirect"))
    assert redirect.note and "fragment" in redirect.note


def test_device_flow(demo, robot) -> None:
    cfg = OAuth2Config(token_name="dev", grant_type="device_code", issuer=demo.url, client_id=PUBLIC_CLIENT_ID,
                       scope="openid profile items:read", authorize_using_browser=True, callback_timeout=30)
    token = nb_oauth.get_new_access_token(cfg)
    assert api_me("dev", demo)["sub"] == "alice"
    assert token.refresh_token


def test_device_flow_denied(demo, robot) -> None:
    robot(NB_OAUTH_ROBOT_CONSENT="deny")
    cfg = OAuth2Config(token_name="dev", grant_type="device_code", issuer=demo.url, client_id=PUBLIC_CLIENT_ID,
                       authorize_using_browser=True, callback_timeout=30)
    with pytest.raises(nb_oauth.AuthorizationDeniedError) as info:
        nb_oauth.get_new_access_token(cfg)
    assert "access_denied" in str(info.value)
    assert "dev" not in nb_oauth.tokens


def test_denied_consent_is_an_authorization_error(demo, robot) -> None:
    robot(NB_OAUTH_ROBOT_CONSENT="deny")
    with pytest.raises(nb_oauth.AuthorizationDeniedError) as info:
        nb_oauth.get_new_access_token(code_config(demo))
    assert info.value.error == "access_denied"
    assert info.value.trace is not None and info.value.trace.error


def test_custom_parameters_audience_and_resource_reach_the_server(demo, robot) -> None:
    with recording_proxy(demo.url) as proxy:
        cfg = code_config(
            demo, auth_url=proxy.url + "/authorize", access_token_url=proxy.url + "/token",
            auth_request_params=[("prompt", "consent", "url"), ("tag", "a", "url"), ("tag", "b", "url")],
            token_request_params=[("x_body", "1", "body"), ("x_body", "2", "body"), ("x_q", "q", "url"),
                                  ("X-Custom", "h", "header")],
            audience=["https://api.one"], resource=["https://res.one", "https://res.two"],
        )
        nb_oauth.get_new_access_token(cfg)
        authorize = next(s for s in proxy.seen if s.path == "/authorize")
        token_call = next(s for s in proxy.seen if s.path == "/token")
    assert [v for k, v in authorize.query if k == "tag"] == ["a", "b"]
    assert ("prompt", "consent") in authorize.query and ("audience", "https://api.one") in authorize.query
    assert [v for k, v in token_call.body if k == "x_body"] == ["1", "2"]
    assert ("x_q", "q") in token_call.query
    assert token_call.headers["x-custom"] == "h"
    assert [v for k, v in token_call.body if k == "resource"] == ["https://res.one", "https://res.two"]
    assert ("audience", "https://api.one") in token_call.body


def test_narrower_scope_is_kept_and_reported(demo, robot, capsys) -> None:
    cfg = code_config(demo, scope="profile items:read items:write")  # the public client may not write
    token = nb_oauth.get_new_access_token(cfg)
    assert token.scope_narrowed == ["items:write"]
    assert "items:write" in capsys.readouterr().err


def test_wrong_client_secret_is_a_clean_error(demo) -> None:
    cfg = OAuth2Config(token_name="bad", grant_type="client_credentials", access_token_url=demo.url + "/token",
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret="wrong-secret-123")
    with pytest.raises(nb_oauth.TokenEndpointError) as info:
        nb_oauth.get_new_access_token(cfg)
    assert info.value.error == "invalid_client" and info.value.status in (400, 401)
    assert "wrong-secret-123" not in str(info.value)


def test_unreachable_token_url(free_port_url) -> None:
    cfg = OAuth2Config(token_name="down", grant_type="client_credentials", access_token_url=free_port_url,
                       client_id="a", client_secret="b")
    with pytest.raises(nb_oauth.NetworkError) as info:
        nb_oauth.get_new_access_token(cfg)
    assert "Could not connect" in str(info.value)


@pytest.fixture
def free_port_url() -> str:
    from .support.servers import free_port

    return f"http://127.0.0.1:{free_port()}/token"


def test_flow_times_out_and_releases_the_port(demo, no_browser) -> None:
    cfg = code_config(demo, callback_timeout=1)
    flow = nb_oauth.start_flow(cfg)
    port = flow.redirect.listener.port
    started = time.monotonic()
    with pytest.raises(nb_oauth.FlowTimeoutError):
        flow.wait()
    assert time.monotonic() - started < 10
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free again


def test_stray_and_wrong_state_requests_do_not_end_the_flow(demo, no_browser) -> None:
    flow = nb_oauth.start_flow(code_config(demo))
    callback = flow.redirect.redirect_uri
    state = flow.redirect.state
    assert requests.get(callback.rsplit("/", 1)[0] + "/favicon.ico", timeout=5).status_code == 404
    assert requests.get(callback + "?code=x&state=wrong", timeout=5).status_code == 400
    assert requests.get(callback + f"?code=x&state={state}&state=other", timeout=5).status_code == 400
    assert requests.get(callback + "?error=access_denied&state=wrong", timeout=5).status_code == 400
    assert not flow.redirect.listener.done
    from nb_oauth.demo.robot import run

    run(flow.authorization_url)
    token = flow.wait()
    assert token.access_token and flow.redirect.listener.rejected >= 3


def test_paste_mode_completes_with_the_redirected_url(demo) -> None:
    cfg = code_config(demo, callback_url="https://app.example/callback")
    flow = nb_oauth.start_flow(cfg, open_browser=False)
    assert flow.redirect.listener is None and flow.redirect.plan.paste
    url = urlsplit(flow.authorization_url)
    assert dict(parse_qsl(url.query))["redirect_uri"] == "https://app.example/callback"


def test_given_loopback_callback_url_binds_that_port_and_path(demo, robot) -> None:
    from .support.servers import free_port

    port = free_port()
    token = nb_oauth.get_new_access_token(code_config(demo, callback_url=f"http://127.0.0.1:{port}/oauth/done"))
    sent = dict(token.trace.steps[0].params)
    assert sent["redirect_uri"] == f"http://127.0.0.1:{port}/oauth/done"


def test_port_in_use_is_a_clear_error(demo) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(nb_oauth.ListenerError) as info:
            nb_oauth.get_new_access_token(code_config(demo, callback_url=f"http://127.0.0.1:{port}/cb"))
    assert str(port) in str(info.value) and "Fix:" in str(info.value)


def test_discovery_from_issuer_alone(demo, robot) -> None:
    cfg = OAuth2Config(token_name="disc", grant_type="authorization_code_with_pkce", issuer=demo.url,
                       client_id=PUBLIC_CLIENT_ID, scope="openid", authorize_using_browser=True, callback_timeout=30)
    resolved = resolve_config(cfg)
    assert resolved.auth_url == demo.url + "/authorize" and resolved.revocation_url and resolved.jwks_url
    token = nb_oauth.get_new_access_token(cfg)
    assert token.id_token_verified


def test_token_display_is_masked(demo) -> None:
    cfg = OAuth2Config(token_name="m", grant_type="client_credentials", access_token_url=demo.url + "/token",
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET)
    token = nb_oauth.get_new_access_token(cfg)
    for shown in (repr(token), str(token), token._repr_html_(), repr(nb_oauth.tokens), nb_oauth.tokens._repr_html_(),
                  repr(token.trace), repr(token.trace.to_dict()), str(token.to_dict())):
        assert token.access_token not in shown
        assert CONFIDENTIAL_CLIENT_SECRET not in shown


def test_openid_implicit_asks_for_id_token_token_when_the_provider_offers_it(demo, robot) -> None:
    """OIDC providers refuse a bare response_type=token with openid; the ID token is then verified too."""
    cfg = OAuth2Config(token_name="oidc-imp", grant_type="implicit", issuer=demo.url, client_id=PUBLIC_CLIENT_ID,
                       scope="openid profile", authorize_using_browser=True, callback_timeout=30)
    token = nb_oauth.get_new_access_token(cfg)
    sent = dict(token.trace.steps[0].params)
    assert sent["response_type"] == "id_token token" and sent["nonce"]
    assert token.id_token and token.id_token_verified


def test_a_given_response_type_replaces_the_built_in_one(demo, no_browser) -> None:
    cfg = OAuth2Config(token_name="rt", grant_type="implicit", auth_url=demo.url + "/authorize",
                       client_id=PUBLIC_CLIENT_ID, scope="profile", auth_request_params=[("response_type", "token", "url")])
    flow = nb_oauth.start_flow(cfg, open_browser=False)
    query = parse_qsl(urlsplit(flow.authorization_url).query)
    flow.cancel()
    assert [v for k, v in query if k == "response_type"] == ["token"]


def test_nothing_reaching_the_listener_hints_at_the_redirect_uri(demo, no_browser) -> None:
    with pytest.raises(nb_oauth.FlowTimeoutError) as info:
        nb_oauth.get_new_access_token(code_config(demo, callback_timeout=0.5))
    assert "redirect URI" in str(info.value) and "callback_url" in str(info.value)
    assert "never loaded" in str(info.value) and "front-channel URL" in str(info.value)  # a login page that did not answer


def test_a_token_without_refresh_token_is_used_until_it_really_expires(short_demo, robot) -> None:
    """Inside the refresh margin but not expired, and nothing to renew it with: it is still sent."""
    short_demo.settings.access_token_lifetime = 3
    cfg = OAuth2Config(token_name="imp2", grant_type="implicit", auth_url=short_demo.url + "/authorize",
                       client_id=PUBLIC_CLIENT_ID, scope="profile", authorize_using_browser=True, callback_timeout=30)
    token = nb_oauth.get_new_access_token(cfg)
    time.sleep(max(0.0, token.token_set.seconds_left() - 0.4))  # inside the 0.6 s margin, still valid
    assert nb_oauth.session("imp2").get(short_demo.url + "/api/me").status_code == 200
