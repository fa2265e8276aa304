"""A second form in the same kernel: both work side by side; sharing one fixed callback port says so and how to fix it."""

from __future__ import annotations

import pytest

import nb_oauth
from nb_oauth import tokens
from nb_oauth.demo import DemoServer, robot

from .support.servers import free_port
from .test_form import make_form, wait_for


@pytest.fixture(scope="module")
def server() -> DemoServer:
    with DemoServer(port=0) as srv:
        yield srv


@pytest.fixture(autouse=True)
def local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("nb_oauth.redirect.browser._open", lambda url: True)
    monkeypatch.setenv("NB_OAUTH_REMOTE", "0")
    monkeypatch.setenv("NB_OAUTH_CALLBACK_TIMEOUT", "30")


def test_two_forms_log_in_side_by_side(server: DemoServer) -> None:
    first, second = make_form(server, token_name="first"), make_form(server, token_name="second")
    first.click()
    second.click()
    urls = wait_for(lambda: first.authorization_url and second.authorization_url and
                    (first.authorization_url, second.authorization_url))
    assert urls[0] != urls[1]
    for url in reversed(urls):  # finish them in the other order than they were started
        assert robot.run(url).ok
    assert first.wait(20).access_token and second.wait(20).access_token
    assert {"first", "second"} <= {t.token_name for t in tokens.list()}
    assert first.status.state == second.status.state == "success"


def test_two_forms_on_one_fixed_callback_port_name_the_fix(server: DemoServer) -> None:
    port = free_port()
    callback = f"http://127.0.0.1:{port}/callback"
    first = make_form(server, token_name="fixed1", callback_url=callback)
    second = make_form(server, token_name="fixed2", callback_url=callback)
    first.click()
    wait_for(lambda: first.authorization_url)
    second.click()
    with pytest.raises(nb_oauth.ListenerError) as caught:
        second.wait(20)
    message = str(caught.value)
    assert f"Port {port}" in message and "already in use" in message and "Callback URL empty" in message
    assert second.status.state == "error"
    # the first login is unharmed by the second's failure
    assert first.status.state == "waiting"
    assert robot.run(first.authorization_url or "").ok
    assert first.wait(20).access_token and "fixed1" in tokens and "fixed2" not in tokens
