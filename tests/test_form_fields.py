"""The configuration form's fields: Postman's labels and layout, the fields each grant type shows, bad input
marked next to its field, prefilled values and placeholders, and Discover filling empty URLs."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pytest

import nb_oauth
from nb_oauth import tokens
from nb_oauth.config import field_labels
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, DemoServer
from nb_oauth.notebook.form import MAIN_BUTTON, TokenForm

from .support import token_form
from .support.token_form import descriptions, make_form, type_into, wait_for, walk

server = token_form.server  # the module's demo server
clean = token_form.clean  # automatic: a local kernel, and opened URLs recorded instead of a browser


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
