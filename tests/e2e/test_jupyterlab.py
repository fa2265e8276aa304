"""nb_oauth in a real JupyterLab 4, used the way a person does: form, login tab, magics, request cells."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from ..support.servers import free_port
from .jupyter_server import JupyterServer
from .ui import (
    MEDIUM,
    Code,
    Notebook,
    Steps,
    expect_me,
    expect_token,
    form_call,
    me_request,
    open_login_tab,
    pkce_form,
    sign_in,
)

pytestmark = pytest.mark.browser


def test_pkce_form_login_and_request(open_notebook: Callable[..., Notebook], steps: Steps, page: Any) -> None:
    """Form → Get New Access Token → sign in and allow in the new tab → masked token → %%authrequest."""
    nb = open_notebook("Authorization code with PKCE from the form", [pkce_form("lab"), me_request("lab")])
    nb.run(1)
    button = nb.output(1).locator("button.nb-oauth-get-token")
    button.wait_for(timeout=MEDIUM)
    assert button.inner_text() == "Get New Access Token"
    steps.shot(page, "form", show=nb.output(1).locator(".nb-oauth-field-grant-type"))

    tab = open_login_tab(page, button)
    waiting = nb.output(1).locator(".nb-oauth-status-waiting")
    waiting.locator(".nb-oauth-countdown-text").filter(has_text="left").wait_for(timeout=MEDIUM)
    assert waiting.locator(".nb-oauth-cancel").is_visible()
    steps.shot(page, "waiting-for-login", show=waiting.locator(".nb-oauth-cancel"))
    sign_in(tab, steps)
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    steps.shot(tab, "tab-says-close")

    status = expect_token(nb, 1, "lab")
    steps.shot(page, "token", show=status)
    steps.shot(page, "token-manager", show=nb.output(1).locator(".nb-oauth-token-lab"))

    nb.run(2)
    resp = expect_me(nb, 2)
    steps.shot(page, "authrequest", show=resp)


def test_implicit_form_fragment_relayed(open_notebook: Callable[..., Notebook], steps: Steps, page: Any) -> None:
    """Implicit grant from the form: the listener's page relays the URL fragment to the kernel."""
    form = form_call(token_name="imp", grant_type="implicit", issuer=Code("DEMO"), client_id="demo-public",
                     scope="profile items:read")
    nb = open_notebook("Implicit grant from the form", [form, me_request("imp")])
    nb.run(1)
    button = nb.output(1).locator("button.nb-oauth-get-token")
    steps.shot(page, "form", show=button)

    tab = open_login_tab(page, button)
    sign_in(tab, steps)
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    assert "#" not in tab.url and "access_token" not in tab.url  # the relay page wiped the fragment
    steps.shot(tab, "relay-says-close")

    status = expect_token(nb, 1, "imp")
    steps.shot(page, "token", show=status)
    nb.run(2)
    steps.shot(page, "authrequest", show=expect_me(nb, 2))


def test_device_flow_magic_code_entered_in_second_tab(open_notebook: Callable[..., Notebook], steps: Steps,
                                                      page: Any) -> None:
    """``%oauth_token`` device flow: the cell shows the code; a second tab enters it, signs in and approves."""
    magic = ('%oauth_token dev --grant-type device_code --issuer {{DEMO}} --client-id demo-public '
             '--scope "openid profile items:read" --no-authorize-using-browser')
    nb = open_notebook("Device flow from the magic", [magic, me_request("dev")])
    nb.run(1, wait=False)
    code_box = nb.output(1).locator(".nb-oauth-user-code")
    code_box.wait_for(timeout=MEDIUM)
    user_code = code_box.inner_text().strip()
    assert user_code
    links = [a.get_attribute("href") or "" for a in nb.output(1).locator("a").all()]
    plain = [href for href in links if href.rstrip("/").endswith("/device")]
    assert plain, links
    steps.shot(page, "code-shown", show=code_box)

    tab = page.context.new_page()
    tab.goto(plain[0])
    tab.fill("input[name=user_code]", user_code)
    steps.shot(tab, "code-entered")
    tab.click("button[name=action][value=verify]")
    sign_in(tab, steps)
    tab.get_by_text("Device approved").wait_for(timeout=MEDIUM)
    steps.shot(tab, "approved")

    nb.wait_done(1)
    done = nb.output(1).locator(".nb-oauth-ok")
    done.filter(has_text="Token dev obtained").wait_for(timeout=MEDIUM)
    steps.shot(page, "token", show=done)
    nb.run(2)
    steps.shot(page, "authrequest", show=expect_me(nb, 2))


def test_request_still_works_after_the_token_expires(open_notebook: Callable[..., Notebook], steps: Steps,
                                                     page: Any, e2e_demo: Any) -> None:
    """A 3-second token from ``%oauth_token`` (login link in the cell): after it expired the request refreshes it."""
    magic = ('%oauth_token short --grant-type authorization_code_with_pkce --issuer {{DEMO}} '
             '--client-id demo-public --scope "openid profile items:read" --no-authorize-using-browser')
    nb = open_notebook("Auto-refresh", [magic, me_request("short"), "short"])
    lifetime = e2e_demo.settings.access_token_lifetime
    e2e_demo.settings.access_token_lifetime = 3
    try:
        nb.run(1, wait=False)
        link = nb.output(1).get_by_role("link", name="Log in at the provider")
        link.wait_for(timeout=MEDIUM)
        steps.shot(page, "login-link", show=link)
        tab = open_login_tab(page, link)
        sign_in(tab, steps)
        tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
        nb.wait_done(1)
        obtained = nb.output(1).locator(".nb-oauth-ok").filter(has_text="Token short obtained")
        obtained.wait_for(timeout=MEDIUM)
        assert re.search(r"expires in \d s|expired", obtained.inner_text()), obtained.inner_text()
        nb.run(2)
        steps.shot(page, "token-and-first-request", show=expect_me(nb, 2))
        refreshes = e2e_demo.stats["token:refresh_token"]
        time.sleep(4)  # every token issued so far (3-second lifetime) has now expired
    finally:
        e2e_demo.settings.access_token_lifetime = lifetime

    nb.run(2)
    expect_me(nb, 2)
    assert e2e_demo.stats["token:refresh_token"] > refreshes
    nb.run(3)
    renewed = nb.output(3).locator("table.nb-oauth-token")
    assert re.search(r"expires in [45] min", renewed.inner_text()), renewed.inner_text()  # a new 300-second token
    steps.shot(page, "request-after-expiry-and-renewed-token", show=renewed)


def test_denied_consent_shows_the_error_and_retry_works(open_notebook: Callable[..., Notebook], steps: Steps,
                                                         page: Any) -> None:
    """Deny on the consent page: the form says why; Retry opens a new tab, and allowing there gets the token."""
    nb = open_notebook("Denied, then retried", [pkce_form("retry")])
    nb.run(1)
    tab = open_login_tab(page, nb.output(1).locator("button.nb-oauth-get-token"))
    sign_in(tab, steps, consent="deny", name="first")
    tab.get_by_text("Authorization failed").wait_for(timeout=MEDIUM)
    steps.shot(tab, "tab-says-failed")

    error = nb.output(1).locator(".nb-oauth-status-error")
    error.wait_for(timeout=MEDIUM)
    message = error.locator(".nb-oauth-status-message").inner_text()
    assert "AuthorizationDeniedError" in message and "access_denied" in message, message
    retry = error.locator("button.nb-oauth-retry")
    retry.wait_for(timeout=MEDIUM)
    steps.shot(page, "error", show=retry)

    tab2 = open_login_tab(page, retry)
    assert tab2 is not tab
    sign_in(tab2, steps, name="retry")
    tab2.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    status = expect_token(nb, 1, "retry")
    steps.shot(page, "token", show=status)


def test_code_flow_through_jupyter_server_proxy(open_notebook: Callable[..., Notebook], steps: Steps, page: Any,
                                                jupyter: JupyterServer) -> None:
    """Callback URL on the Jupyter server's ``/proxy/<port>/callback``: the redirect reaches the kernel through it."""
    port = free_port()
    callback = f"{jupyter.url}/proxy/{port}/callback"
    nb = open_notebook("Code flow through jupyter-server-proxy", [pkce_form("proxied", callback_url=callback)])
    nb.run(1)
    button = nb.output(1).locator("button.nb-oauth-get-token")
    steps.shot(page, "form", show=button)
    tab = open_login_tab(page, button)
    sign_in(tab, steps)
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    assert tab.url.startswith(callback), tab.url
    steps.shot(tab, "proxied-tab-says-close")
    status = expect_token(nb, 1, "proxied")
    steps.shot(page, "token", show=status)


#: The first cell of a notebook on a hub: the browser cannot reach the kernel's loopback, and the kernel runs
#: its own demo server whose pages go through jupyter-server-proxy.
HUB_SETUP = """%load_ext nb_oauth
import os
os.environ["NB_OAUTH_REMOTE"] = "1"  # as on JupyterHub / Binder: the browser cannot reach this kernel's 127.0.0.1
import nb_oauth
from nb_oauth.demo import DemoServer

hub_demo = DemoServer(front_channel_url="auto").start()
DEMO = hub_demo.url
print(f"demo server on port {hub_demo.port}: {DEMO}")"""


def test_demo_pages_and_callback_through_jupyter_server_proxy(open_notebook: Callable[..., Notebook], steps: Steps,
                                                              page: Any, jupyter: JupyterServer) -> None:
    """A remote kernel's own demo server: login pages at ``/proxy/<demo port>/``, back via ``/proxy/<n>/callback``."""
    nb = open_notebook("In-kernel demo server behind jupyter-server-proxy", [pkce_form("hub"), me_request("hub")],
                       setup=HUB_SETUP)
    started = re.search(r"demo server on port (\d+): http://127\.0\.0\.1:\1\b", nb.output(0).inner_text())
    assert started, nb.output(0).inner_text()
    demo_port = started[1]
    front = f"{jupyter.url}/proxy/{demo_port}"

    nb.run(1)  # the form reports the page's base URL to the kernel
    button = nb.output(1).locator("button.nb-oauth-get-token")
    button.wait_for(timeout=MEDIUM)
    steps.shot(page, "form", show=button)

    tab = open_login_tab(page, button)
    assert tab.url.startswith(front + "/authorize?"), tab.url  # not the kernel's 127.0.0.1:<demo port>
    query = dict(parse_qsl(urlsplit(tab.url).query))
    callback = re.fullmatch(re.escape(jupyter.url) + r"/proxy/(\d+)/callback", query["redirect_uri"])
    assert callback and callback[1] != demo_port, query["redirect_uri"]

    tab.fill("input[name=username]", "alice")
    tab.fill("input[name=password]", "wonderland")
    steps.shot(tab, "proxied-sign-in")
    tab.click("button[name=action][value=login]")
    allow = tab.locator("button[name=consent][value=allow]")
    allow.wait_for(timeout=MEDIUM)
    assert tab.url.startswith(front + "/authorize?"), tab.url  # the sign-in posted and redirected under the prefix
    steps.shot(tab, "proxied-consent")
    allow.click()
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    assert tab.url.startswith(query["redirect_uri"] + "?"), tab.url
    steps.shot(tab, "proxied-callback-says-close")

    status = expect_token(nb, 1, "hub")
    steps.shot(page, "token", show=status)
    nb.run(2)  # the API, like the token endpoint, is reached by the kernel on loopback
    steps.shot(page, "authrequest", show=expect_me(nb, 2))
