"""The configuration form, driven kernel-side against the real demo authorization server: getting tokens
(with no secret in saved widget state), the front end's button, Available Tokens and Manage Tokens."""

from __future__ import annotations

import time
from typing import Any

import pytest

import nb_oauth
from nb_oauth import tokens
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, DemoServer, robot
from nb_oauth.errors import mask
from nb_oauth.notebook.form import TokenForm
from nb_oauth.redirect import callback

from .support import token_form
from .support.token_form import login, make_form, saved_state, type_into, wait_for, walk

server = token_form.server  # the module's demo server
clean = token_form.clean  # automatic: a local kernel, and opened URLs recorded instead of a browser


# -- getting tokens -------------------------------------------------------------------------------------


def test_client_credentials_stores_the_token_and_shows_it_masked(server: DemoServer, clean: list[str]) -> None:
    ns: dict[str, Any] = {}
    form = make_form(server, ns, token_name="cc", grant_type="client_credentials",
                     client_id=CONFIDENTIAL_CLIENT_ID, scope="items:read")
    type_into(form.rows["client_secret"].control, CONFIDENTIAL_CLIENT_SECRET)
    started = time.monotonic()
    form.click()
    assert time.monotonic() - started < 1.0  # the click does not wait for the server
    token = form.wait(15)
    assert tokens["cc"] is token and ns["cc"] is token
    assert form.status.state == "success"
    text = form.status.text()
    assert mask(token.access_token) in text and "expires in" in text and "items:read" in text
    assert token.access_token not in saved_state(form)
    assert "cc" in form.available.dropdown.options and form.available.selected == "cc"
    assert clean == []  # no browser for a grant without a login page


def test_pkce_login_completes_in_the_background_and_shows_success(server: DemoServer) -> None:
    ns: dict[str, Any] = {}
    form = make_form(server, ns, var="token")
    login(form)
    token = form.wait(15)
    assert form.status.state == "success"
    assert ns["token"] is tokens["demo"] is token
    assert token.refresh_token and token.id_token
    assert mask(token.access_token) in form.status.text()
    assert form.manager.buttons["demo"]["Refresh"].disabled is False
    assert "nb-oauth-token-demo" in {c for w in walk(form.manager.box) for c in getattr(w, "_dom_classes", ())}


def test_no_secret_and_no_token_value_ends_up_in_saved_widget_state(server: DemoServer) -> None:
    form = make_form(server, grant_type="authorization_code", client_id=CONFIDENTIAL_CLIENT_ID)
    secret_row = form.rows["client_secret"]
    type_into(secret_row.control, CONFIDENTIAL_CLIENT_SECRET)
    assert CONFIDENTIAL_CLIENT_SECRET not in saved_state(form)
    assert secret_row.control.placeholder == "•••• (kept in the kernel)"
    login(form)
    token = form.wait(15)
    assert form.config().client_secret == CONFIDENTIAL_CLIENT_SECRET  # still there, kernel-side
    state = saved_state(form)
    for secret in (CONFIDENTIAL_CLIENT_SECRET, token.access_token, token.refresh_token, token.id_token):
        assert secret and secret not in state
    form.manager.act("refresh", "demo")
    form.wait_idle()
    state = saved_state(form)
    assert tokens["demo"].access_token not in state and tokens["demo"].refresh_token not in state


def test_secret_set_from_python_never_reaches_a_widget() -> None:
    form = TokenForm(namespace={}, grant_type="password_credentials", username="alice", password="wonderland",
                     code_verifier="v" * 50)
    assert form.rows["password"].control.value == ""
    assert "wonderland" not in saved_state(form) and "v" * 50 not in saved_state(form)
    assert form.config().password == "wonderland"
    form.rows["password"].forget.click()
    assert form.config().password is None


def test_denied_login_shows_the_error_and_retry_gets_a_token(server: DemoServer) -> None:
    form = make_form(server)
    login(form, consent="deny")
    with pytest.raises(nb_oauth.AuthorizationDeniedError):
        form.wait(15)
    assert form.status.state == "error"
    assert "access_denied" in form.status.text() and "AuthorizationDeniedError" in form.status.text()
    assert form.status.retry.layout.display != "none"
    first_url = form.authorization_url
    form.status.retry.click()
    url = wait_for(lambda: form.authorization_url != first_url and form.authorization_url)
    assert robot.run(url).ok
    assert form.wait(15).token_name == "demo"
    assert form.status.state == "success" and form.status.retry.layout.display == "none"


def test_cancel_stops_waiting_and_offers_retry(server: DemoServer) -> None:
    form = make_form(server)
    form.click()
    wait_for(lambda: form.authorization_url)
    assert form.status.state == "waiting"
    assert form.status.countdown.deadline > time.time()
    assert "Open login page" in form.status.link.value and "target='_blank'" in form.status.link.value
    form.status.cancel.click()
    with pytest.raises(nb_oauth.FlowCancelledError):
        form.wait(10)
    assert form.status.state == "error" and "demo" not in tokens


def test_pasted_redirect_finishes_a_login_no_redirect_can_reach(server: DemoServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NB_OAUTH_REMOTE", "1")  # a remote kernel without a proxy: paste mode
    form = make_form(server)
    form.click()
    url = wait_for(lambda: form.authorization_url)
    wait_for(lambda: "No redirect can reach this kernel" in form.status.paste_hint.value)
    landed = robot.run(url).final_url
    assert landed
    form.status.paste_url.value = landed.replace("state=", "state=x")  # a wrong address is refused...
    form.status.paste_go.click()
    assert "state" in form.status.paste_error.value and form.status.state == "waiting"
    form.status.paste_url.value = landed  # ...and the right one finishes the login
    form.status.paste_go.click()
    assert form.wait(15).token_name == "demo"
    assert form.status.paste_url.value == ""


def test_cancel_while_waiting_for_a_paste(server: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NB_OAUTH_REMOTE", "1")
    form = make_form(server)
    form.click()
    wait_for(lambda: form.authorization_url)
    assert "Device Code" in form.status.paste_hint.value  # the way out that needs no redirect
    form.status.cancel.click()
    with pytest.raises(nb_oauth.FlowCancelledError, match="cancelled"):
        form.wait(10)
    assert form.status.state == "error" and "demo" not in tokens


def test_device_flow_shows_the_code_and_link(server: DemoServer) -> None:
    form = make_form(server, grant_type="device_code", device_authorization_url=server.url + "/device_authorization")
    form.click()
    wait_for(lambda: "nb-oauth-user-code" in form.status.device.value)
    link = form.status.link.value
    href = link.split("href='")[1].split("'")[0].replace("&amp;", "&")
    assert robot.run(href).ok
    assert form.wait(20).token_name == "demo"
    assert form.status.state == "success"


# -- the front end's button -------------------------------------------------------------------------


def test_frontend_click_opens_its_own_tab_and_reports_the_page(server: DemoServer, clean: list[str]) -> None:
    form = make_form(server, authorize_using_browser=None)
    if not hasattr(form.button, "send"):
        pytest.skip("anywidget is not installed")
    sent: list[dict[str, Any]] = []
    form.button.send = lambda content, buffers=None: sent.append(content)  # type: ignore[method-assign]
    assert form.button.opens_window is True
    page = {"event": "click", "window_opened": True, "origin": "http://hub.example", "base_url": "/user/alice/"}
    form.button._on_frontend_msg(form.button, page, [])
    url = wait_for(lambda: form.authorization_url)
    wait_for(lambda: sent)
    assert sent == [{"event": "navigate", "url": url}]
    assert clean == []  # the page's own tab is used: no second one from the kernel
    assert callback._frontend_base_url == "http://hub.example/user/alice/"
    form.cancel()
    form.rows["client_id"].set(None)  # a config error: the blank tab is closed again
    form.button._on_frontend_msg(form.button, page, [])
    assert sent[-1] == {"event": "close"}
    form.rows["grant_type"].control.value = "client_credentials"
    assert form.button.opens_window is False


# -- Available Tokens and Manage Tokens ------------------------------------------------------------------


def _client_credentials(server: DemoServer, name: str, **extra: Any) -> nb_oauth.Token:
    cfg = nb_oauth.OAuth2Config(token_name=name, grant_type="client_credentials",
                                access_token_url=server.url + "/token", client_id=CONFIDENTIAL_CLIENT_ID,
                                client_secret=CONFIDENTIAL_CLIENT_SECRET, **extra)
    return nb_oauth.get_new_access_token(cfg)


def test_available_tokens_binds_the_chosen_token_and_applies_its_settings(server: DemoServer) -> None:
    one, two = _client_credentials(server, "one"), _client_credentials(server, "two")
    ns: dict[str, Any] = {}
    form = TokenForm(namespace=ns, var="token")
    assert set(form.available.dropdown.options) >= {"one", "two"}
    form.available.dropdown.value = "two"
    assert ns["token"] is two
    form.available.dropdown.value = "one"
    assert ns["token"] is one
    form.rows["header_prefix"].control.value = "Token"
    assert tokens.config("one").header_prefix == "Token" and tokens.config("two").header_prefix == "Bearer"
    form.rows["use_token_type"].control.value = "id_token"  # "one" has no ID token
    assert "no ID token" in form.rows["use_token_type"].error.value
    assert tokens.config("one").use_token_type == "access_token"
    form.available.variable.value = "not valid"
    form.available.dropdown.value = "two"
    assert "not a valid Python name" in form.available.error.value and ns["token"] is one


def test_manage_tokens_refresh_revoke_delete(server: DemoServer) -> None:
    form = make_form(server)
    login(form)
    token = form.wait(15)
    _client_credentials(server, "plain")  # no revocation endpoint known
    form.manager.reload()
    manager = form.manager
    old = token.access_token
    manager.buttons["demo"]["Refresh"].click()
    form.wait_idle()
    assert "refreshed" in manager.message.value and tokens["demo"].access_token != old
    assert mask(tokens["demo"].access_token) in manager.message.value
    manager.buttons["plain"]["Revoke"].click()
    form.wait_idle()
    assert "RevocationError" in manager.message.value and "plain" in tokens
    form.set(revocation_url=server.url + "/revoke")
    manager.buttons["demo"]["Revoke"].click()  # revocation_url comes from the stored config: none for demo
    form.wait_idle()
    assert "RevocationError" in manager.message.value
    tokens.config("demo").issuer = server.url  # discovery gives the stored config its endpoint
    manager.buttons["demo"]["Revoke"].click()
    form.wait_idle()
    assert "revoked at the server" in manager.message.value and "demo" not in tokens
    manager.buttons["plain"]["Delete"].click()  # Delete offers Revoke first
    assert "Revoke it at the server instead?" in manager.message.value and "plain" in tokens
    offered = {b.description: b for b in manager.confirm.children}
    assert set(offered) == {"Revoke and delete", "Delete only", "Keep"}
    offered["Delete only"].click()
    form.wait_idle()
    assert "not revoked" in manager.message.value and "plain" not in tokens
    assert "tokens.revoke" not in manager.message.value and not manager.confirm.children
    assert "No tokens yet" in manager.rows.children[0].value
    assert form.available.dropdown.options == ("— none —",)


def test_without_anywidget_the_form_falls_back_to_plain_widgets() -> None:
    import subprocess
    import sys

    code = """
import sys
sys.modules["anywidget"] = None  # as if it were not installed
import ipywidgets as widgets
from nb_oauth.notebook.form import TokenForm
form = TokenForm(namespace={}, grant_type="client_credentials")
assert isinstance(form.button, widgets.Button)
assert form.button.description == "Get New Access Token" and "nb-oauth-get-token" in form.button._dom_classes
form.click()
assert form.status.state == "error" and "access_token_url" in form.status.text()
form.status.countdown.deadline = 1e12
assert "left" in form.status.countdown.value
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]
