"""Where the redirect goes: laptop, JupyterHub/Binder through jupyter-server-proxy, a fixed port, paste mode."""

from __future__ import annotations

import pytest

from nb_oauth.redirect import callback
from nb_oauth.redirect.callback import Environment, detect_environment, plan_callback

HUB_VARS = ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_API_URL", "JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_HOST",
            "BINDER_LAUNCH_HOST", "BINDER_REPO_URL", "BINDER_REQUEST", "COLAB_RELEASE_TAG", "SSH_CONNECTION",
            "NB_OAUTH_REMOTE", "NB_OAUTH_PUBLIC_URL", "JUPYTERHUB_EXTERNAL_URL")


@pytest.fixture(autouse=True)
def plain_env(monkeypatch: pytest.MonkeyPatch):
    for name in HUB_VARS:
        monkeypatch.delenv(name, raising=False)


def test_laptop_uses_a_loopback_listener_and_opens_the_browser() -> None:
    env = detect_environment()
    assert env == Environment("local", False)
    plan = plan_callback(None, env)
    assert plan.redirect_uri(5000) == "http://127.0.0.1:5000/callback" and plan.bind_host == "127.0.0.1"
    assert callback.default_authorize_using_browser(env) is True


def test_jupyterhub_goes_through_the_server_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/hub-base/user/alice/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example/hub-base/")
    env = detect_environment()
    assert env.remote and env.public_base_url == "https://hub.example/hub-base/user/alice/"
    assert plan_callback(None, env).redirect_uri(8765) == "https://hub.example/hub-base/user/alice/proxy/8765/callback"
    assert callback.default_authorize_using_browser(env) is False


def test_the_form_can_report_the_page_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINDER_LAUNCH_HOST", "https://mybinder.org/")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/bob-xyz/")
    assert detect_environment().public_base_url is None  # nothing says where the browser is...
    callback.set_frontend_base_url("https://hub.binder.example/user/bob-xyz")
    env = detect_environment()  # ...until the page tells
    assert env.kind == "binder" and env.public_base_url == "https://hub.binder.example/user/bob-xyz/"


def test_a_remote_kernel_anywhere_uses_the_reported_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forced remote (or SSH) without hub variables: the form's page base URL still leads to the proxy."""
    monkeypatch.setenv("NB_OAUTH_REMOTE", "1")
    monkeypatch.setattr(callback, "_server_proxy_installed", lambda: True)
    assert detect_environment() == Environment("local", True)
    callback.set_frontend_base_url("http://127.0.0.1:8888/")
    env = detect_environment()
    assert env.public_base_url == "http://127.0.0.1:8888/"
    assert plan_callback(None, env).redirect_uri(8765) == "http://127.0.0.1:8888/proxy/8765/callback"
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release")  # Colab's page is not a Jupyter server
    assert detect_environment().public_base_url is None


def test_a_new_page_address_forgets_cached_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ipywidgets")
    from nb_oauth.notebook.form_frontend import report_page
    from nb_oauth.oidc import discovery

    cleared: list[bool] = []
    monkeypatch.setattr(discovery, "clear_cache", lambda: cleared.append(True))
    page = {"origin": "https://hub.example", "base_url": "/user/a/"}
    report_page(page)
    report_page({**page, "base_url": "/user/a"})  # the same address again
    assert cleared == [True]
    report_page({**page, "base_url": "/user/b/"})
    assert cleared == [True, True]


def test_no_reachable_redirect_means_paste_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release")
    plan = plan_callback(None, detect_environment())
    assert plan.paste


def test_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/a/")
    monkeypatch.setenv("NB_OAUTH_REMOTE", "0")
    assert detect_environment().remote is False
    monkeypatch.setenv("NB_OAUTH_REMOTE", "1")
    monkeypatch.setenv("NB_OAUTH_PUBLIC_URL", "https://lab.example/user/a/")
    assert detect_environment().public_base_url == "https://lab.example/user/a/"


@pytest.mark.parametrize(
    ("url", "host", "port", "path", "paste"),
    [
        ("http://127.0.0.1:8765/cb", "127.0.0.1", 8765, "/cb", False),
        ("http://localhost:8765/oauth/callback", "localhost", 8765, "/oauth/callback", False),
        ("http://[::1]:8765/cb", "::1", 8765, "/cb", False),
        ("https://hub.example/user/a/proxy/8765/callback", "localhost", 8765, "/callback", False),
        ("https://hub.example/user/a/proxy/absolute/8765/user/a/cb", "localhost", 8765,
         "/user/a/proxy/absolute/8765/user/a/cb", False),
        ("https://app.example/callback", None, 0, "/callback", True),
        ("https://oauth.pstmn.io/v1/browser-callback", None, 0, "/callback", True),
    ],
)
def test_given_callback_urls(url: str, host, port: int, path: str, paste: bool) -> None:
    plan = plan_callback(url, Environment("local", False))
    assert (plan.bind_host, plan.bind_port, plan.paste) == (host, port, paste)
    if host:
        assert plan.path == path
    assert plan.redirect_uri(None) == url


def test_no_text_browser_is_started_on_a_machine_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    import webbrowser

    from nb_oauth.redirect import browser

    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0: opened.append(url) or True)
    monkeypatch.delenv("BROWSER", raising=False)
    monkeypatch.setattr(browser.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert browser._open("http://127.0.0.1/x") is False and opened == []
    monkeypatch.setenv("DISPLAY", ":0")
    assert browser._open("http://127.0.0.1/x") is True and opened == ["http://127.0.0.1/x"]


@pytest.mark.parametrize(
    ("url", "abort"),
    [
        ("http://127.0.0.1:8765/cb", "http://127.0.0.1:8765/cb/abort?state=s%2F1"),
        ("http://localhost:8765/oauth/callback/", "http://localhost:8765/oauth/callback/abort?state=s%2F1"),
        ("https://hub.example/user/a/proxy/8765/callback", "https://hub.example/user/a/proxy/8765/callback/abort?state=s%2F1"),
        ("https://hub.example/user/a/proxy/absolute/8765/user/a/cb",
         "https://hub.example/user/a/proxy/absolute/8765/user/a/cb/abort?state=s%2F1"),
        ("https://app.example/callback", None),  # paste mode: nothing reaches the kernel, no link
    ],
)
def test_the_cancel_link_goes_the_way_the_redirect_goes(url: str, abort: str | None) -> None:
    assert plan_callback(url, Environment("local", False)).abort_url(None, "s/1") == abort


def test_on_a_hub_the_cancel_link_goes_through_the_proxy_and_cancels(monkeypatch: pytest.MonkeyPatch) -> None:
    """The presenter is given the proxied cancel link; what the proxy delivers to the listener ends the login."""
    import threading
    from urllib.parse import urlsplit

    import requests

    import nb_oauth
    from nb_oauth._presenter import ConsolePresenter, use_presenter

    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example/")
    shown: list[str | None] = []

    class Recorder(ConsolePresenter):
        def authorization_url(self, url: str, *, deadline: float, opened: bool, cancel_url: str | None) -> None:
            shown.append(cancel_url)

    cfg = nb_oauth.OAuth2Config(token_name="hub-cancel", grant_type="authorization_code_with_pkce",
                                auth_url="https://idp.example/authorize", access_token_url="https://idp.example/token",
                                client_id="c")
    with use_presenter(Recorder()):
        flow = nb_oauth.start_flow(cfg, open_browser=False)
    assert flow.redirect is not None and flow.redirect.listener is not None
    port = flow.redirect.listener.port
    [cancel] = shown
    assert cancel is not None and cancel.startswith(f"https://hub.example/user/alice/proxy/{port}/callback/abort?state=")
    assert "127.0.0.1" not in cancel
    # jupyter-server-proxy strips <base_url>proxy/<port> and passes the rest to the kernel's loopback port
    parts = urlsplit(cancel)
    delivered = f"http://127.0.0.1:{port}{parts.path.split(f'/proxy/{port}', 1)[1]}?{parts.query}"
    threading.Timer(0.2, lambda: requests.get(delivered, headers={"Host": "hub.example"}, timeout=5)).start()
    with pytest.raises(nb_oauth.FlowCancelledError, match="cancelled from the browser"):
        flow.wait()


def test_why_no_redirect_reaches_a_hub_kernel_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "")  # zero-to-jupyterhub's and mybinder.org's default
    env = detect_environment()
    assert plan_callback(None, env).paste
    reason = callback.no_route_reason(env) or ""
    assert "JUPYTERHUB_PUBLIC_URL is empty" in reason and "NB_OAUTH_PUBLIC_URL" in reason and "device" in reason
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example/")
    assert callback.no_route_reason(detect_environment()) is None  # routed through the proxy: nothing to explain
    monkeypatch.setattr(callback, "_server_proxy_installed", lambda: False)
    env = detect_environment()
    assert plan_callback(None, env).paste
    reason = callback.no_route_reason(env) or ""
    assert "jupyter-server-proxy is not installed" in reason and "pip install jupyter-server-proxy" in reason
    assert callback.no_route_reason(Environment("local", False)) is None


def test_a_login_page_on_loopback_for_a_remote_kernel_says_the_browser_cannot_open_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import nb_oauth
    from nb_oauth._presenter import ConsolePresenter, use_presenter

    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example/")
    notices: list[str] = []

    class Recorder(ConsolePresenter):
        def notice(self, message: str) -> None:
            notices.append(message)

    for auth_url, warned in (("http://127.0.0.1:8750/authorize", True), ("https://idp.example/authorize", False)):
        cfg = nb_oauth.OAuth2Config(token_name="loop", grant_type="authorization_code_with_pkce", auth_url=auth_url,
                                    access_token_url="https://idp.example/token", client_id="c")
        notices.clear()
        with use_presenter(Recorder()):
            flow = nb_oauth.start_flow(cfg, open_browser=False)
        flow.cancel()
        assert flow.redirect is not None
        flow.redirect.close()
        found = [n for n in notices if "loopback address" in n]
        assert bool(found) is warned, notices
        if warned:
            assert "front_channel_url='auto'" in found[0] and "NB_OAUTH_PUBLIC_URL" in found[0]
