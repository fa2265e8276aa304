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


def test_advanced_options_show_the_modern_fields_and_a_pasted_key_stays_in_the_kernel(
        open_notebook: Callable[..., Notebook], steps: Steps, page: Any) -> None:
    from joserfc.jwk import ECKey

    pem = ECKey.generate_key("P-256", private=True).as_pem(private=True).decode()
    body = "".join(pem.strip().splitlines()[1:-1])  # the base64 between the PEM lines
    nb = open_notebook("Advanced Options: signed client auth, DPoP, PAR, token exchange", [
        "from nb_oauth.notebook.form import TokenForm\n"
        "form = TokenForm(token_name='bank', grant_type='authorization_code_with_pkce')\nform.widget()",
        "cfg = form.config()\nprint('key kept:', (cfg.client_assertion_key or '').startswith('-----BEGIN'), "
        "'| dpop:', cfg.dpop)",
    ])
    nb.run(1)
    out = nb.output(1)
    out.locator("button.nb-oauth-get-token").wait_for(timeout=MEDIUM)
    out.get_by_text("Advanced Options", exact=True).click()
    for label in ("Client Assertion Key", "DPoP (sender-constrained token)", "Pushed Authorization Request (PAR)",
                  "Security Profile", "Introspection URL"):
        out.get_by_text(label, exact=True).first.wait_for(timeout=MEDIUM)
    assert not out.get_by_text("Subject Token", exact=True).is_visible()
    key = out.locator(".nb-oauth-field-client-assertion-key input")
    key.fill(pem.replace("\n", " "))  # a password box takes one line: the PEM arrives with spaces
    key.press("Tab")
    out.locator(".nb-oauth-field-dpop input[type=checkbox]").check()
    page.wait_for_function("(el) => el.value === ''", arg=key.element_handle(), timeout=MEDIUM)
    steps.shot(page, "advanced-options-modern-fields", show=key)
    assert body[:40] not in out.inner_html()
    nb.run(2)
    assert "key kept: True | dpop: True" in nb.output(2).inner_text()

    out.get_by_text("Configuration Options", exact=True).click()
    out.locator(".nb-oauth-field-grant-type select").select_option(label="Token Exchange")
    out.get_by_text("Advanced Options", exact=True).click()
    out.get_by_text("Subject Token", exact=True).first.wait_for(timeout=MEDIUM)
    assert not out.get_by_text("Pushed Authorization Request (PAR)", exact=True).is_visible()
    assert body[:40] not in page.content()
