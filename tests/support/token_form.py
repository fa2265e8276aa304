"""The configuration form driven kernel-side against the demo authorization server: the module's demo
server, a set-up that records opened URLs instead of starting a browser, a form builder, and helpers to
type into a field, wait, log in with the scripted user agent and read the widget tree and its saved state."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets
import pytest

from nb_oauth.demo import PUBLIC_CLIENT_ID, DemoServer, robot
from nb_oauth.notebook.form import TokenForm

SCOPES = "openid offline_access items:read"


@pytest.fixture(scope="module")
def server() -> Iterator[DemoServer]:
    with DemoServer(port=0, device_interval=1) as srv:
        yield srv


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """An empty token store, a local kernel, and no real browser: opened URLs are recorded instead."""
    opened: list[str] = []
    monkeypatch.setattr("nb_oauth.redirect.browser._open", lambda url: opened.append(url) or True)
    monkeypatch.setenv("NB_OAUTH_REMOTE", "0")
    monkeypatch.setenv("NB_OAUTH_CALLBACK_TIMEOUT", "30")
    yield opened


def make_form(server: DemoServer, ns: dict[str, Any] | None = None, **fields: Any) -> TokenForm:
    base: dict[str, Any] = {"token_name": "demo", "grant_type": "authorization_code_with_pkce",
                            "auth_url": server.url + "/authorize", "access_token_url": server.url + "/token",
                            "client_id": PUBLIC_CLIENT_ID, "scope": SCOPES, "authorize_using_browser": False}
    return TokenForm(namespace=ns if ns is not None else {}, **{**base, **fields})


def type_into(widget: widgets.Widget, value: str) -> None:
    """What the front end does when the user types and leaves the field."""
    widget.set_state({"value": value})


def wait_for(what: Callable[[], Any], timeout: float = 10.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def login(form: TokenForm, consent: str = "allow") -> robot.RobotResult:
    """Click the main button and let the scripted user agent log in at the page it exposes."""
    form.click()
    url = wait_for(lambda: form.authorization_url)
    result = robot.run(url, consent=consent)
    assert result.ok, result.message
    return result


def walk(widget: widgets.Widget, seen: set[int] | None = None) -> Iterator[widgets.Widget]:
    """Every widget reachable from ``widget`` through synced traits (children, layout, style, ...)."""
    seen = seen if seen is not None else set()
    if id(widget) in seen:
        return
    seen.add(id(widget))
    yield widget
    for name in widget.keys:
        value = getattr(widget, name)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, widgets.Widget):
                yield from walk(item, seen)


def saved_state(form: TokenForm) -> str:
    return "\n".join(json.dumps(w.get_state(), default=str) for w in walk(form.widget()))


def descriptions(form: TokenForm) -> set[str]:
    return {getattr(w, "description", None) for w in walk(form.widget())} - {None}
