"""nb_oauth on a real JupyterHub, seen from a browser that can reach the hub (``https://hub.test``) and nothing else.

One hub for the module (see ``conftest.py``), four user servers:

* alice's default server: jupyter-server-proxy, ``JUPYTERHUB_PUBLIC_URL`` set;
* alice's named server ``second`` (``/user/alice/second/``);
* bob's server: ``JUPYTERHUB_PUBLIC_URL`` empty (zero-to-jupyterhub's and mybinder.org's default);
* carol's server: no jupyter-server-proxy.

The demo authorization server runs either inside the notebook's kernel, its pages reached through
jupyter-server-proxy (``DemoServer(front_channel_url="auto")``), or as the hub's service ``demo``
(``/services/demo``), which every server can use.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from ..e2e.ui import (
    LONG,
    MEDIUM,
    Notebook,
    Steps,
    expect_me,
    expect_token,
    me_request,
    open_login_tab,
    pkce_form,
    sign_in,
    write_notebook,
)
from ..support.servers import free_port
from .conftest import hub_login
from .hub import Hub

# the first test also waits for the hub and its four servers to start
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

MAGIC = ('%oauth_token {name} --grant-type authorization_code_with_pkce --issuer {{{{{issuer}}}}} '
         '--client-id demo-public --scope "openid profile items:read"')
IN_KERNEL_DEMO = ('from nb_oauth.demo import DemoServer\n'
                  'srv = DemoServer(front_channel_url="auto").start()\n'
                  'LOCAL = srv.url\n'
                  'print("pages at", srv.front_channel_url)')


def open_on_hub(page: Any, hub: Hub, user: str, server: str, name: str, cells: list[str]) -> Notebook:
    """Sign in at the hub as ``user``, write the notebook into their home and open it in JupyterLab."""
    hub_login(page, hub, user)
    path = write_notebook(hub.home(user), name, name.replace("-", " "), cells)
    nb = Notebook(page).open(f"{hub.server_url(user, server)}lab/tree/{path}?reset")
    if page.get_by_text("No Kernel").count():  # JupyterLab lost the session while opening: a person reloads
        page.reload(wait_until="domcontentloaded")
        nb = Notebook(page).open(page.url)
    nb.run_setup()
    return nb


def links(nb: Notebook, index: int) -> dict[str, str]:
    """Text → href of every link in a cell's output."""
    return {a.inner_text().strip(): a.get_attribute("href") or "" for a in nb.output(index).locator("a").all()}


def sign_in_and_land_outside(tab: Any, steps: Steps, name: str) -> str:
    """Sign in and consent; the provider sends the browser to a loopback address it cannot reach.

    The address the browser tried (the one in its address bar on the error page) is returned.
    """
    def to_loopback(request: Any) -> bool:
        return re.match(r"^http://127\.0\.0\.1:\d+/callback\?", request.url) is not None

    with tab.expect_event("requestfailed", predicate=to_loopback, timeout=MEDIUM) as failed:
        sign_in(tab, steps, name=name)
    return str(failed.value.url)


def test_magic_login_with_the_demo_pages_through_the_server_proxy(hub: Hub, page: Any, steps: Steps) -> None:
    """``%oauth_token`` with the demo in the kernel: its pages and the redirect both go through jupyter-server-proxy."""
    nb = open_on_hub(page, hub, "alice", "", "magic-through-proxy",
                     [IN_KERNEL_DEMO, MAGIC.format(name="hubmagic", issuer="LOCAL"), me_request("hubmagic").replace(
                         "{{DEMO}}", "{{LOCAL}}")])
    nb.run(1)
    pages_at = nb.output(1).inner_text()
    assert re.search(rf"pages at {re.escape(hub.url)}/user/alice/proxy/\d+$", pages_at.strip()), pages_at
    nb.run(2, wait=False)
    login = nb.output(2).get_by_text("Log in at the provider")
    login.wait_for(timeout=MEDIUM)
    shown = links(nb, 2)
    assert shown["Log in at the provider ↗"].startswith(f"{hub.url}/user/alice/proxy/"), shown
    cancel = shown["cancel this login"]
    assert re.match(rf"{re.escape(hub.url)}/user/alice/proxy/\d+/callback/abort\?state=", cancel), shown
    assert "127.0.0.1" not in " ".join(shown.values())
    steps.shot(page, "login-link", show=login)
    tab = open_login_tab(page, login)
    sign_in(tab, steps)
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    assert tab.url.startswith(f"{hub.url}/user/alice/proxy/") and "/callback" in tab.url
    steps.shot(tab, "tab-says-close")
    nb.wait_done(2)
    nb.output(2).locator(".nb-oauth-ok").filter(has_text="Token hubmagic obtained").wait_for(timeout=MEDIUM)
    nb.run(3)
    steps.shot(page, "authrequest", show=expect_me(nb, 3))


def test_the_cancel_link_cancels_through_the_proxy(hub: Hub, page: Any, steps: Steps) -> None:
    nb = open_on_hub(page, hub, "alice", "", "cancel-link", [MAGIC.format(name="tocancel", issuer="DEMO")])
    nb.run(1, wait=False)
    cancel = nb.output(1).get_by_text("cancel this login")
    cancel.wait_for(timeout=MEDIUM)
    steps.shot(page, "waiting", show=cancel)
    with page.expect_popup(timeout=MEDIUM) as info:
        cancel.click()
    tab = info.value
    tab.get_by_text("The login was cancelled").wait_for(timeout=MEDIUM)
    steps.shot(tab, "tab-says-cancelled")
    nb.wait_done(1)
    text = nb.output(1).inner_text()
    assert "cancelled from the browser" in text and "obtained" not in text, text
    steps.shot(page, "cell-says-cancelled", show=nb.output(1))


def test_a_fixed_callback_port_through_the_proxy(hub: Hub, page: Any, steps: Steps) -> None:
    """The README's step 2: the URI to register is the hub's, with a fixed port the listener binds."""
    port = free_port()
    registered = f"{hub.url}/user/alice/proxy/{port}/callback"
    magic = (MAGIC.format(name="fixedport", issuer="DEMO")
             + f" --callback-url {hub.url}/user/{{{{JUPYTERHUB_USER}}}}/proxy/{port}/callback")
    nb = open_on_hub(page, hub, "alice", "", "fixed-callback-port", [magic, me_request("fixedport")])
    nb.run(1, wait=False)
    login = nb.output(1).get_by_text("Log in at the provider")
    login.wait_for(timeout=MEDIUM)
    tab = open_login_tab(page, login)
    assert dict(parse_qsl(urlsplit(tab.url).query))["redirect_uri"] == registered
    sign_in(tab, steps)
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    assert tab.url.startswith(registered + "?")
    nb.wait_done(1)
    nb.output(1).locator(".nb-oauth-ok").filter(has_text="Token fixedport obtained").wait_for(timeout=MEDIUM)
    nb.run(2)
    expect_me(nb, 2)


def test_the_form_button_on_a_named_server(hub: Hub, page: Any, steps: Steps) -> None:
    """``/user/alice/second/``: the form's button, the hub's demo service, the redirect through that server's proxy."""
    nb = open_on_hub(page, hub, "alice", "second", "form-on-named-server", [pkce_form("named"), me_request("named")])
    nb.run(1)
    button = nb.output(1).locator("button.nb-oauth-get-token")
    button.wait_for(timeout=MEDIUM)
    tab = open_login_tab(page, button)
    assert tab.url.startswith(f"{hub.url}/services/demo/authorize?"), tab.url
    assert "%2Fuser%2Falice%2Fsecond%2Fproxy%2F" in tab.url  # the redirect_uri goes through the named server
    sign_in(tab, steps)
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    assert tab.url.startswith(f"{hub.url}/user/alice/second/proxy/")
    steps.shot(page, "token", show=expect_token(nb, 1, "named"))
    nb.run(2)
    expect_me(nb, 2)


def test_an_empty_public_url_pastes_the_magic_and_the_form_finds_its_way(hub: Hub, page: Any, steps: Steps) -> None:
    """bob's server knows no public URL: the magic says so and takes the pasted address; NB_OAUTH_PUBLIC_URL routes
    it through the proxy; so does the form (its page reports the address), and the magic after it."""
    public = ("import os\nos.environ['NB_OAUTH_PUBLIC_URL'] = " + repr(hub.server_url("bob")) + "\n"
              + MAGIC.format(name="byenv", issuer="DEMO") + "\ndel os.environ['NB_OAUTH_PUBLIC_URL']")
    nb = open_on_hub(page, hub, "bob", "", "empty-public-url",
                     [MAGIC.format(name="pasted", issuer="DEMO"), public, pkce_form("viaform"),
                      MAGIC.format(name="afterform", issuer="DEMO"), me_request("afterform")])
    nb.run(1, wait=False)
    out = nb.output(1)
    out.get_by_text("JUPYTERHUB_PUBLIC_URL is empty").wait_for(timeout=MEDIUM)
    box = out.locator("input.jp-Stdin-input")
    box.wait_for(timeout=MEDIUM)
    shown = out.inner_text()
    assert "NB_OAUTH_PUBLIC_URL" in shown and "interrupt the kernel" in shown, shown  # the fix, and how to cancel
    assert "cancel this login" not in shown  # no link the browser could not reach
    steps.shot(page, "paste-prompt", show=box)
    tab = open_login_tab(page, out.get_by_text("Log in at the provider"))
    landed = sign_in_and_land_outside(tab, steps, "login")  # the loopback redirect cannot load in this browser
    box.fill(landed)
    box.press("Enter")
    nb.wait_done(1)
    out.locator(".nb-oauth-ok").filter(has_text="Token pasted obtained").wait_for(timeout=MEDIUM)

    magic_through_the_proxy(nb, 2, page, steps, "byenv", hub.server_url("bob"))
    # the form's front end reports the page's address: its button goes through the proxy
    nb.run(3)
    tab = open_login_tab(page, nb.output(3).locator("button.nb-oauth-get-token"))
    assert "%2Fuser%2Fbob%2Fproxy%2F" in tab.url, tab.url
    sign_in(tab, steps, name="form")
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    steps.shot(page, "form-token", show=expect_token(nb, 3, "viaform"))
    magic_through_the_proxy(nb, 4, page, steps, "afterform", hub.server_url("bob"))
    nb.run(5)
    expect_me(nb, 5)


def magic_through_the_proxy(nb: Notebook, index: int, page: Any, steps: Steps, name: str, server: str) -> None:
    """Run a ``%oauth_token`` cell whose redirect goes through ``server``'s proxy, and log in."""
    nb.run(index, wait=False)
    login = nb.output(index).get_by_text("Log in at the provider")
    login.wait_for(timeout=MEDIUM)
    tab = open_login_tab(page, login)
    assert dict(parse_qsl(urlsplit(tab.url).query))["redirect_uri"].startswith(server + "proxy/"), tab.url
    sign_in(tab, steps, name=name)
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    nb.wait_done(index)
    nb.output(index).locator(".nb-oauth-ok").filter(has_text=f"Token {name} obtained").wait_for(timeout=MEDIUM)


def test_without_the_server_proxy_device_flow_paste_box_and_paste_option(hub: Hub, page: Any, steps: Steps) -> None:
    """carol's server has no jupyter-server-proxy: the device flow works; the form's paste box; ``--paste``."""
    device = ('%oauth_token dev --grant-type device_code --issuer {{DEMO}} --client-id demo-public '
              '--scope "openid profile items:read"')
    nb = open_on_hub(page, hub, "carol", "", "no-server-proxy",
                     [device, pkce_form("boxed"), MAGIC.format(name="later", issuer="DEMO"), ""])
    # the device flow: the verification page is the hub's demo service
    nb.run(1, wait=False)
    code = nb.output(1).locator(".nb-oauth-user-code")
    code.wait_for(timeout=MEDIUM)
    out = nb.output(1)
    out.get_by_text("interrupt the kernel").wait_for(timeout=MEDIUM)  # the way to cancel: no route to the kernel
    assert "cancel this login" not in out.inner_text()
    verify = [href for href in links(nb, 1).values() if "/device" in href]
    assert verify and all(h.startswith(f"{hub.url}/services/demo/device") for h in verify), verify
    tab = page.context.new_page()
    tab.goto(verify[0])
    if tab.locator("input[name=user_code]").input_value() == "":
        tab.fill("input[name=user_code]", code.inner_text().strip())
    tab.click("button[name=action][value=verify]")
    sign_in(tab, steps, name="device")
    tab.get_by_text("Device approved").wait_for(timeout=MEDIUM)
    nb.wait_done(1)
    nb.output(1).locator(".nb-oauth-ok").filter(has_text="Token dev obtained").wait_for(timeout=MEDIUM)
    steps.shot(page, "device-token", show=nb.output(1))

    # the form: no route back, so it shows the reason and a paste box
    nb.run(2)
    form = nb.output(2)
    tab = open_login_tab(page, form.locator("button.nb-oauth-get-token"))
    form.get_by_text("jupyter-server-proxy is not installed").wait_for(timeout=MEDIUM)
    landed = sign_in_and_land_outside(tab, steps, "form")
    form.locator(".nb-oauth-paste-url input").fill(landed)
    form.locator("button.nb-oauth-paste-complete").click()
    steps.shot(page, "form-token", show=expect_token(nb, 2, "boxed"))

    # the magic: nothing typed into its paste prompt, then --paste in another cell
    nb.run(3, wait=False)
    out = nb.output(3)
    login = out.get_by_text("Log in at the provider")
    login.wait_for(timeout=MEDIUM)
    authorize = links(nb, 3)["Log in at the provider ↗"]
    out.locator("input.jp-Stdin-input").press("Enter")
    out.get_by_text("--paste").first.wait_for(timeout=MEDIUM)
    tab = page.context.new_page()
    tab.goto(authorize)
    landed = sign_in_and_land_outside(tab, steps, "magic")
    editor = nb.cell(4).locator(".jp-InputArea-editor")
    editor.click()
    page.keyboard.insert_text(f"%oauth_token later --paste '{landed}'")
    nb.run(4)
    nb.output(4).locator(".nb-oauth-ok").filter(has_text="Token").wait_for(timeout=LONG)
    steps.shot(page, "pasted-token", show=nb.output(4))
