"""The listener's defences in a real browser (Debian's Chromium): a ``localhost`` callback, which
Chromium reaches over ``::1`` or ``127.0.0.1`` as it likes, and the real redirect while 64 idle
connections are held."""

from __future__ import annotations

import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import PUBLIC_CLIENT_ID

from .support.browser import chromium, log_in_and_consent
from .support.pressure import idle_connections
from .support.servers import free_port

pytestmark = pytest.mark.browser


def test_implicit_token_to_a_localhost_callback_reaches_the_kernel_in_chromium(demo) -> None:
    port = free_port()
    cfg = OAuth2Config(token_name="lh-imp", grant_type="implicit", auth_url=demo.url + "/authorize",
                       client_id=PUBLIC_CLIENT_ID, scope="profile items:read", callback_timeout=60,
                       callback_url=f"http://localhost:{port}/callback")
    flow = nb_oauth.start_flow(cfg, open_browser=False)
    assert flow.redirect is not None and flow.redirect.listener is not None
    with chromium() as browser:
        page = browser.new_page()
        page.goto(flow.authorization_url)
        log_in_and_consent(page)
        page.wait_for_selector("text=You may close this tab", timeout=15000)
        assert page.url.startswith(f"http://localhost:{port}/callback")
    token = flow.wait()
    assert nb_oauth.session("lh-imp").get(demo.url + "/api/me").json()["sub"] == "alice"
    assert token.access_token


def test_chromium_completes_the_login_while_64_idle_connections_are_held(demo) -> None:
    from nb_oauth.redirect._http import MAX_CONCURRENT

    cfg = OAuth2Config(token_name="pressed", grant_type="authorization_code_with_pkce", issuer=demo.url,
                       client_id=PUBLIC_CLIENT_ID, scope="profile", callback_timeout=60)
    flow = nb_oauth.start_flow(cfg, open_browser=False)
    assert flow.redirect is not None and flow.redirect.listener is not None
    port = flow.redirect.listener.port
    with idle_connections(port, MAX_CONCURRENT) as held, chromium() as browser:
        assert len(held) == MAX_CONCURRENT
        page = browser.new_page()
        page.goto(flow.authorization_url)
        log_in_and_consent(page)
        page.wait_for_selector("text=You may close this tab", timeout=30000)
        token = flow.wait()
    assert token.access_token and nb_oauth.tokens["pressed"] is token
