"""The configuration form, driven kernel-side against the real demo authorization server."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets
import pytest

import nb_oauth
from nb_oauth import tokens
from nb_oauth.config import field_labels
from nb_oauth.demo import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
    DemoServer,
    robot,
)
from nb_oauth.errors import mask
from nb_oauth.notebook.form import MAIN_BUTTON, TokenForm
from nb_oauth.redirect import callback

SCOPES = "openid offline_access items:read"


# -- fixtures and helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer(port=0, device_interval=1) as srv:
        yield srv


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """An empty token store, a local kernel, and no real browser: opened URLs are recorded instead."""
    opened: list[str] = []
    monkeypatch.setattr("nb_oauth.redirect.browser._open", lambda url: opened.append(url) or True)
    monkeypatch.setenv("NB_OAUTH_REMOTE", "0")
    monkeypatch.setenv("NB_OAUTH_CALLBACK_TIMEOUT", "30")
    yield opened


def make_form(server: DemoServer, ns: dict[str, Any] | None = None, **fields: Any) -> TokenForm:
    base: dict[str, Any] = {"token_name": "demo", "grant_type": "authorization_code_with_pkce",
                            "auth_url": server.url + "/authorize", "access_token_url": server.url + "/token",
                            "client_id": PUBLIC_CLIENT_ID, "scope": SCOPES, "authorize_using_browser": False}
    return TokenForm(namespace=ns if ns is not None else {}, **{**base, **fields})


def type_into(widget: widgets.Widget, value: str) -> None:
    """What the front end does when the user types and leaves the field."""
    widget.set_state({"value": value})


def wait_for(what: Callable[[], Any], timeout: float = 10.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def login(form: TokenForm, consent: str = "allow") -> robot.RobotResult:
    """Click the main button and let the scripted user agent log in at the page it exposes."""
    form.click()
    url = wait_for(lambda: form.authorization_url)
    result = robot.run(url, consent=consent)
    assert result.ok, result.message
    return result


def walk(widget: widgets.Widget, seen: set[int] | None = None) -> Iterator[widgets.Widget]:
    """Every widget reachable from ``widget`` through synced traits (children, layout, style, ...)."""
    seen = seen if seen is not None else set()
    if id(widget) in seen:
        return
    seen.add(id(widget))
    yield widget
    for name in widget.keys:
        value = getattr(widget, name)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, widgets.Widget):
                yield from walk(item, seen)


def saved_state(form: TokenForm) -> str:
    return "\n".join(json.dumps(w.get_state(), default=str) for w in walk(form.widget()))


def descriptions(form: TokenForm) -> set[str]:
    return {getattr(w, "description", None) for w in walk(form.widget())} - {None}


# -- layout ---------------------------------------------------------------------------------------------


def test_every_postman_field_carries_its_label_and_the_main_button_reads_get_new_access_token() -> None:
    form = TokenForm(namespace={})
    shown = descriptions(form)
    html_text = " ".join(w.value for w in walk(form.widget()) if isinstance(w, widgets.HTML))
    labels = field_labels()
    for name in ("token_name", "grant_type", "callback_url", "authorize_using_browser", "auth_url",
                 "access_token_url", "client_id", "client_secret", "scope", "state", "client_authentication",
                 "code_challenge_method", "code_verifier", "username", "password", "refresh_token_url",
                 "audience", "resource", "add_token_to", "header_prefix", "auto_refresh", "use_token_type", "share",
                 "issuer", "device_authorization_url", "revocation_url"):
        assert labels[name] in shown, name
    for heading in ("Auth Request", "Token Request", "Refresh Request", "Audience and Resource",
                    "Configure New Token", "Current Token", "Manage Tokens"):
        assert heading in html_text
    assert {"Available Tokens", "Discover", "Cancel", "Retry"} <= shown
    assert form.button.description == MAIN_BUTTON == "Get New Access Token"
    assert "nb-oauth-get-token" in (form.button.button_class if hasattr(form.button, "button_class")
                                    else form.button._dom_classes)
    assert form.tabs.get_title(0) == "Configuration Options" and form.tabs.get_title(1) == "Advanced Options"
    for name in ("client_secret", "password", "code_verifier"):
        assert isinstance(form.rows[name].control, widgets.Password)


@pytest.mark.parametrize(("grant", "shown", "hidden"), [
    ("authorization_code", {"auth_url", "callback_url", "state", "client_secret", "auth_request_params"},
     {"code_verifier", "code_challenge_method", "username", "device_authorization_url"}),
    ("authorization_code_with_pkce", {"auth_url", "code_challenge_method", "code_verifier"},
     {"username", "password", "device_authorization_url"}),
    ("implicit", {"auth_url", "callback_url"},
     {"access_token_url", "client_secret", "code_verifier", "refresh_token_url", "token_request_params"}),
    ("password_credentials", {"username", "password", "access_token_url", "client_secret"},
     {"auth_url", "callback_url", "code_verifier", "state", "device_authorization_url"}),
    ("client_credentials", {"access_token_url", "client_secret", "token_request_params"},
     {"auth_url", "callback_url", "username", "authorize_using_browser", "auth_request_params"}),
    ("device_code", {"device_authorization_url", "access_token_url", "authorize_using_browser"},
     {"auth_url", "callback_url", "username", "code_verifier"}),
])
def test_fields_are_shown_and_hidden_by_grant_type(grant: str, shown: set[str], hidden: set[str]) -> None:
    form = TokenForm(namespace={})
    form.rows["grant_type"].control.value = grant  # as the dropdown would
    visible = set(form.visible_fields())
    assert shown <= visible
    assert not hidden & visible
    assert all(form.rows[n].box.layout.display == "none" for n in hidden)


def test_header_prefix_only_for_request_headers() -> None:
    form = TokenForm(namespace={})
    assert "header_prefix" in form.visible_fields()
    form.rows["add_token_to"].control.value = "url"
    assert "header_prefix" not in form.visible_fields()
    assert form.config().add_token_to == "url"


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


# -- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "words"), [
    ("auth_url", "not a url", "auth_url"),
    ("client_id", None, "client_id"),
    ("code_verifier", "too-short", "code_verifier is not valid"),
    ("access_token_url", "http://idp.example/token", "plain http"),
])
def test_bad_input_is_shown_next_to_its_field(server: DemoServer, field: str, value: Any, words: str) -> None:
    form = make_form(server)
    original = form.rows[field].get()
    if field == "code_verifier":
        type_into(form.rows[field].control, value)
    else:
        form.rows[field].set(value)
    form.click()
    assert form.status.state == "error" and words in form.status.text()
    assert "Fix:" in form.status.text() and "Traceback" not in form.status.text()
    row = form.rows[field]
    assert row.error.layout.display != "none"  # a short mark next to the field; the sentence is in the summary
    assert ("required" if value is None else "check this field") in row.error.value and len(row.error.value) < 60
    assert form.status.retry.layout.display != "none" and not form.status.retry.disabled  # Retry, also here
    assert form.attempt is None  # nothing was started
    form.rows[field].set(original)
    form.click()
    wait_for(lambda: form.authorization_url)
    assert row.error.layout.display == "none"
    form.cancel()


def test_prefill_round_trips_and_placeholders_pass_through(server: DemoServer) -> None:
    cfg = nb_oauth.OAuth2Config(
        token_name="api", grant_type="client_credentials", access_token_url=server.url + "/token",
        client_id=CONFIDENTIAL_CLIENT_ID, client_secret="{{DEMO_SECRET}}", scope="items:read",
        token_request_params=[("audience", "https://api.example", "body"), ("x-trace", "{{TRACE}}", "header")],
        audience=["https://a.example"], resource=["https://r.example"], add_token_to="url",
        auto_refresh=False, use_token_type="access_token", header_prefix="Token", revocation_url=server.url + "/revoke",
        refresh_leeway=5.0,
    )
    form = TokenForm(config=cfg, namespace={"DEMO_SECRET": CONFIDENTIAL_CLIENT_SECRET, "TRACE": "t1"})
    assert form.config() == cfg
    assert form.rows["client_secret"].control.placeholder.startswith("{{DEMO_SECRET}}")
    form.rows["token_request_params"].add_row("k", "v", "url")
    assert form.config().token_request_params[-1] == ("k", "v", "url")
    remove = form.rows["token_request_params"].rows.children[-1].children[-1]
    remove.click()
    assert form.config() == cfg
    form.click()
    token = form.wait(15)
    assert tokens.config("api").client_secret == "{{DEMO_SECRET}}"  # filled at use time only
    assert token.scope == "items:read"


def test_invalid_prefill_shows_the_error_instead_of_raising() -> None:
    form = TokenForm(namespace={}, auth_url="ftp://nope")
    assert form.status.state == "error" and "auth_url" in form.status.text()
    assert form.rows["auth_url"].control.value == "ftp://nope"
    with pytest.raises(TypeError, match="auth_url"):
        TokenForm(namespace={}, auth_ulr="https://x.example")


def test_discover_fills_only_empty_urls(server: DemoServer) -> None:
    form = TokenForm(namespace={}, issuer=server.url, auth_url="https://custom.example/authorize")
    form.discover_button.click()
    form.wait_idle()
    assert form.rows["auth_url"].get() == "https://custom.example/authorize"
    assert form.rows["access_token_url"].get() == server.url + "/token"
    assert form.rows["revocation_url"].get() == server.url + "/revoke"
    assert form.rows["device_authorization_url"].get() == server.url + "/device_authorization"
    assert "Access Token URL" in form.discover_note.value
    bad = TokenForm(namespace={}, issuer="http://127.0.0.1:9/nothing")
    bad.discover_button.click()
    bad.wait_idle()
    assert "✖" in bad.discover_note.value and bad.rows["access_token_url"].get() is None


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
