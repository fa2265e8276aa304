"""The form behaves like Postman's panel: one login at a time, one error summary, what was typed kept,
a chosen token's configuration loaded, a live token manager, and Delete that offers Revoke."""

from __future__ import annotations

from typing import Any

import pytest

import nb_oauth
from nb_oauth import tokens
from nb_oauth.demo import CONFIDENTIAL_CLIENT_SECRET, DemoServer
from nb_oauth.notebook import form_checks as form_module
from nb_oauth.notebook.form import TokenForm

from . import test_form as _form_tests
from .test_form import _client_credentials, make_form, type_into, wait_for

server = _form_tests.server  # the form tests' demo server and their no-real-browser set-up
clean = _form_tests.clean


@pytest.fixture(autouse=True)
def nothing_typed_yet() -> Any:
    form_module.forget_typed_values()
    yield
    form_module.forget_typed_values()


def test_a_second_click_while_a_login_waits_reuses_it(server: DemoServer) -> None:
    form = make_form(server)
    first = form.get_new_access_token()
    url = wait_for(lambda: form.authorization_url)
    assert form.button.disabled and form.status.retry.disabled
    again = form.get_new_access_token()  # a double click that reached the kernel anyway
    assert again is first and form.authorization_url == url
    assert "already waiting" in form.status.text()
    assert first is not None and first.flow is not None and first.flow.redirect is not None
    form.cancel()
    wait_for(lambda: first.done.is_set())
    assert not form.button.disabled and form.status.state == "error"  # cancelled: Retry is offered
    third = form.get_new_access_token()
    assert third is not first
    wait_for(lambda: form.authorization_url and form.authorization_url != url)
    form.cancel()


def test_an_empty_form_shows_one_summary_and_short_required_marks() -> None:
    form = TokenForm(namespace={}, grant_type="authorization_code_with_pkce")
    form.click()
    text = form.status.text()
    assert form.status.state == "error" and text.count("Fix:") == 1
    marks = {name: row.error.value for name, row in form.rows.items() if row.error.layout.display != "none"}
    assert {"auth_url", "access_token_url", "client_id"} <= set(marks)
    assert all("required" in mark and len(mark) < 20 for mark in marks.values()), marks
    assert form.status.retry.layout.display != "none"
    form.set(auth_url="https://idp.example/authorize")
    form.status.retry.click()  # Retry re-checks the fields as they are now
    marks = {name for name, row in form.rows.items() if row.error.layout.display != "none"}
    assert "auth_url" not in marks and "client_id" in marks


def test_the_magics_form_keeps_what_was_typed_but_no_secret(server: DemoServer) -> None:
    first = TokenForm(namespace={}, remember=True)
    first.rows["grant_type"].control.value = "client_credentials"
    type_into(first.rows["access_token_url"].control, server.url + "/token")
    type_into(first.rows["client_id"].control, "demo-confidential")
    type_into(first.rows["client_secret"].control, CONFIDENTIAL_CLIENT_SECRET)
    type_into(first.rows["scope"].control, "items:read")
    again = TokenForm(namespace={}, remember=True)  # the cell is run again
    assert again.rows["grant_type"].get() == "client_credentials"
    assert again.rows["access_token_url"].get() == server.url + "/token"
    assert again.rows["client_id"].get() == "demo-confidential" and again.rows["scope"].get() == "items:read"
    assert again.rows["client_secret"].get() is None  # secrets are typed again
    assert TokenForm(namespace={}).rows["client_id"].get() is None  # only the magic's form remembers


def test_choosing_an_available_token_loads_its_configuration(server: DemoServer) -> None:
    _client_credentials(server, "reports", scope="items:read", audience=["https://api.example"])
    form = TokenForm(namespace={})
    assert form.rows["grant_type"].get() != "client_credentials"
    form.available.dropdown.value = "reports"
    assert form.rows["grant_type"].get() == "client_credentials"
    assert form.rows["access_token_url"].get() == server.url + "/token"
    assert form.rows["scope"].get() == "items:read" and form.rows["audience"].get() == ["https://api.example"]
    assert form.rows["access_token_url"].visible and not form.rows["auth_url"].visible
    assert CONFIDENTIAL_CLIENT_SECRET not in str(form.rows["client_secret"].control.get_state())
    assert "obtained with" in form.status.text()


def test_manage_tokens_is_live(server: DemoServer) -> None:
    token = _client_credentials(server, "live")
    form = TokenForm(namespace={})
    countdown = next(w for w in _walk(form.manager.rows) if hasattr(w, "deadline"))
    before = countdown.deadline
    assert "refreshes on next use" in countdown.done_text  # client credentials can always get a new one
    old = token.access_token
    tokens.refresh("live")  # elsewhere in the notebook: the form was not touched
    countdown = next(w for w in _walk(form.manager.rows) if hasattr(w, "deadline"))
    assert token.access_token != old and countdown.deadline >= before
    assert countdown.deadline == pytest.approx(token.expires_at.timestamp())  # type: ignore[union-attr]
    tokens.delete("live")
    assert "No tokens yet" in form.manager.rows.children[0].value


def test_delete_offers_revoke_and_revoke_and_delete_revokes(server: DemoServer) -> None:
    _client_credentials(server, "gone", revocation_url=server.url + "/revoke")
    form = TokenForm(namespace={})
    bound = nb_oauth.tokens["gone"]
    form.manager.buttons["gone"]["Delete"].click()
    offered = {b.description: b for b in form.manager.confirm.children}
    offered["Keep"].click()
    assert "gone" in tokens and not form.manager.confirm.children
    form.manager.buttons["gone"]["Delete"].click()
    {b.description: b for b in form.manager.confirm.children}["Revoke and delete"].click()
    form.wait_idle()
    assert "revoked at the server" in form.manager.message.value and "gone" not in tokens
    assert "revoked" in repr(bound) and bound.deleted  # the variable holding it says so


def _walk(widget: Any) -> Any:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def test_fields_have_even_widths() -> None:
    import ipywidgets as widgets

    form = TokenForm(namespace={})
    controls = [row.control for row in form.rows.values() if isinstance(row.control, widgets.Text | widgets.Dropdown)]
    controls += [form.available.dropdown, form.available.variable]
    assert len(controls) > 10
    assert {c.layout.max_width for c in controls} == {"680px"}
    assert {c.layout.width for c in controls} == {"calc(100% - 8px)"}


def test_each_cells_form_keeps_its_own_typed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    cell = {"id": "cell-a"}
    monkeypatch.setattr(form_module, "_cell_key", lambda: cell["id"])
    type_into(TokenForm(namespace={}, remember=True).rows["client_id"].control, "typed-in-a")
    cell["id"] = "cell-b"
    assert TokenForm(namespace={}, remember=True).rows["client_id"].get() is None
    cell["id"] = "cell-a"
    assert TokenForm(namespace={}, remember=True).rows["client_id"].get() == "typed-in-a"
    assert TokenForm(namespace={}, remember=True, client_id="given").rows["client_id"].get() == "given"
