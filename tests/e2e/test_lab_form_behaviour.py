"""The form's Postman-like behaviours in a real JupyterLab 4, driven as a person would."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from .ui import MASKED, MEDIUM, Notebook, Steps, expect_token, pkce_form, sign_in

pytestmark = pytest.mark.browser

CC = ('nb_oauth.get_new_access_token(nb_oauth.OAuth2Config(token_name="svc", grant_type="client_credentials", '
      'access_token_url=DEMO + "/token", client_id="demo-confidential", client_secret="demo-secret", '
      'scope="items:read"))\n"ok"')


def test_double_click_opens_one_login_and_the_button_waits(open_notebook: Callable[..., Notebook], steps: Steps,
                                                           page: Any) -> None:
    nb = open_notebook("One login at a time", [pkce_form("once")])
    nb.run(1)
    button = nb.output(1).locator("button.nb-oauth-get-token")
    button.wait_for(timeout=MEDIUM)
    with page.expect_popup(timeout=MEDIUM) as popup:
        button.dblclick()  # a person's double click: one tab, one login
    tab = popup.value
    page.wait_for_timeout(500)
    assert len(page.context.pages) == 2, [p.url for p in page.context.pages]
    nb.output(1).locator(".nb-oauth-status-waiting").wait_for(timeout=MEDIUM)
    page.wait_for_function("(el) => el.disabled", arg=button.element_handle(), timeout=MEDIUM)
    pages = len(page.context.pages)
    button.click(force=True)  # the second click of a double click: nothing new opens
    page.wait_for_timeout(500)
    assert len(page.context.pages) == pages
    steps.shot(page, "button-disabled-while-waiting", show=button)
    sign_in(tab, steps)
    expect_token(nb, 1, "once")
    page.wait_for_function("(el) => !el.disabled", arg=button.element_handle(), timeout=MEDIUM)


def test_empty_form_summary_required_marks_and_kept_values(open_notebook: Callable[..., Notebook], steps: Steps,
                                                           page: Any) -> None:
    nb = open_notebook("The magic's form: empty, then re-run", ["%oauth_token"])
    nb.run(1)
    out = nb.output(1)
    out.locator("button.nb-oauth-get-token").click()
    error = out.locator(".nb-oauth-status-error")
    error.wait_for(timeout=MEDIUM)
    assert error.locator(".nb-oauth-status-message").inner_text().count("Fix:") == 1
    marks = out.locator(".nb-oauth-field-error:visible")
    marks.first.wait_for(timeout=MEDIUM)
    assert marks.count() >= 2 and all(t.strip() == "⚠ required" for t in marks.all_inner_texts())
    assert error.locator("button.nb-oauth-retry").is_visible()
    steps.shot(page, "one-summary-and-required-marks", show=error)

    client_id = out.locator(".nb-oauth-field-client-id input")
    client_id.fill("typed-by-me")
    client_id.press("Tab")
    secret = out.locator(".nb-oauth-field-client-secret input")
    if secret.count():
        secret.first.fill("not-kept")
        secret.first.press("Tab")
    page.wait_for_timeout(300)  # the value reaches the kernel
    nb.run(1)  # the cell is run again
    kept = nb.output(1).locator(".nb-oauth-field-client-id input")
    kept.wait_for(timeout=MEDIUM)
    assert kept.input_value() == "typed-by-me"
    assert "not-kept" not in nb.output(1).inner_html()
    steps.shot(page, "re-run-keeps-typed-values", show=kept)


def test_available_token_loads_config_manage_is_live_and_delete_offers_revoke(
        open_notebook: Callable[..., Notebook], steps: Steps, page: Any) -> None:
    nb = open_notebook("Available and Manage Tokens", [CC, "%oauth_token", 'nb_oauth.tokens.refresh("svc")\n"ok"'])
    nb.run(1)
    nb.run(2)
    out = nb.output(2)
    out.locator(".nb-oauth-available-tokens select").select_option("svc")
    url = out.locator(".nb-oauth-field-access-token-url input")
    page.wait_for_function("(el) => el.value.endsWith('/token')", arg=url.element_handle(), timeout=MEDIUM)
    assert out.locator(".nb-oauth-field-grant-type select").input_value() == "Client Credentials"
    steps.shot(page, "chosen-token-config-loaded", show=url)

    row = out.locator(".nb-oauth-token-rows .nb-oauth-token-svc")
    before = MASKED.search(row.inner_text())
    assert before
    nb.run(3)  # refreshed elsewhere in the notebook: the manager shows the new token without Reload
    page.wait_for_function("([el, old]) => !el.innerText.includes(old)", arg=[row.element_handle(), before.group(0)],
                           timeout=MEDIUM)
    steps.shot(page, "manage-tokens-live", show=row)

    row.locator("button.nb-oauth-delete").click()
    confirm = out.locator(".nb-oauth-delete-confirm")
    confirm.locator("button.nb-oauth-confirm-revoke").wait_for(timeout=MEDIUM)
    assert "Revoke it at the server instead?" in out.locator(".nb-oauth-manage-message").inner_text()
    steps.shot(page, "delete-offers-revoke", show=confirm)
    confirm.locator("button.nb-oauth-confirm-delete").click()
    message = out.locator(".nb-oauth-manage-message")
    message.filter(has_text=re.compile("not revoked")).wait_for(timeout=MEDIUM)
    assert "tokens.revoke" not in message.inner_text()
