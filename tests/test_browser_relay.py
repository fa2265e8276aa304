"""The implicit grant in a real browser: the listener's relay page hands the URL fragment to the kernel."""

from __future__ import annotations

import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import PUBLIC_CLIENT_ID

from .support.browser import chromium, log_in_and_consent, shot

pytestmark = pytest.mark.browser


def implicit(demo, **kw) -> OAuth2Config:
    return OAuth2Config(token_name="imp", grant_type="implicit", auth_url=demo.url + "/authorize",
                        client_id=PUBLIC_CLIENT_ID, scope="profile items:read", callback_timeout=60, **kw)


def test_relay_page_posts_the_fragment_and_the_tab_says_close(demo) -> None:
    flow = nb_oauth.start_flow(implicit(demo), open_browser=False)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(flow.authorization_url)
        log_in_and_consent(page)
        page.wait_for_selector("text=You may close this tab", timeout=15000)
        assert "#" not in page.url and "access_token" not in page.url  # the fragment is wiped from the address bar
        shot(page, "relay", "implicit-done")
        shown = page.content()
    token = flow.wait()
    assert nb_oauth.session("imp").get(demo.url + "/api/me").json()["sub"] == "alice"
    assert token.access_token not in shown


def test_code_flow_in_a_real_browser_and_denial(demo) -> None:
    cfg = OAuth2Config(token_name="pkce", grant_type="authorization_code_with_pkce", issuer=demo.url,
                       client_id=PUBLIC_CLIENT_ID, scope="openid profile", callback_timeout=60)
    with chromium() as browser:
        page = browser.new_page()
        flow = nb_oauth.start_flow(cfg, open_browser=False)
        page.goto(flow.authorization_url)
        log_in_and_consent(page)
        page.wait_for_selector("text=You may close this tab", timeout=15000)
        token = flow.wait()
        assert token.id_token_verified
        denied = nb_oauth.start_flow(cfg.copy(token_name="denied"), open_browser=False)
        page.goto(denied.authorization_url)
        log_in_and_consent(page, consent="deny")
        page.wait_for_selector("text=Authorization failed", timeout=15000)
        assert "access_denied" in page.content()
        with pytest.raises(nb_oauth.AuthorizationDeniedError):
            denied.wait()


def test_a_real_flows_trace_renders_as_a_diagram(demo, robot) -> None:
    """The trace of a real PKCE login, its refresh and its revocation, drawn by a browser (kept as an artifact)."""
    from .support.browser import ARTIFACTS

    cfg = OAuth2Config(token_name="traced", grant_type="authorization_code_with_pkce", issuer=demo.url,
                       client_id=PUBLIC_CLIENT_ID, scope="openid profile offline_access", authorize_using_browser=True,
                       callback_timeout=60)
    token = nb_oauth.get_new_access_token(cfg)
    nb_oauth.tokens.refresh("traced")
    nb_oauth.tokens.revoke("traced")
    html = token.trace._repr_html_()
    for secret in (token.access_token, token.refresh_token, token.id_token):
        assert secret not in html
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.set_content(f"<!doctype html><meta charset='utf-8'><body style='margin:16px'>{html}</body>")
        titles = page.locator("svg text").all_text_contents()
        target = ARTIFACTS / "trace" / "real-pkce-refresh-revoke.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)
    shown = " ".join(titles)
    for step in ("Authorization request", "Token request", "Refresh request", "Revoke refresh token"):
        assert step in shown, shown
    print(f"trace diagram: {target}")
