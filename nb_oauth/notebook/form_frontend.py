"""The form's two front-end pieces: the login button and a ticking countdown.

Opening the provider's page must happen inside the user's own click, or popup blockers stop
it.  With ``anywidget`` the button's click handler opens an empty tab synchronously and the
kernel sends the login URL to it once the flow has built it; it also reports the page's origin
and Jupyter base URL, so a callback can go through jupyter-server-proxy on a hub.  Without
``anywidget`` both fall back to plain ipywidgets (the form then shows an ordinary link).
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ipywidgets as widgets
import traitlets

from ..oidc import discovery
from ..redirect import callback

# optional: the nicer one-click experience
HAS_ANYWIDGET = importlib.util.find_spec("anywidget") is not None
if HAS_ANYWIDGET:
    import anywidget as _anywidget

PressHandler = Callable[[dict[str, Any]], object]  # what it returns is ignored

# The front-end code lives in files of its own, loaded by anywidget (``_esm`` / ``_css`` take a path).
STATIC = Path(__file__).parent / "static"
BUTTON_ESM = STATIC / "login_button.js"
COUNTDOWN_ESM = STATIC / "countdown.js"
CSS = STATIC / "form.css"


def human(seconds: float) -> str:
    """The countdown's wording, kernel-side (same rules as the front end)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 48 * 3600:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} days"


def countdown_text(deadline: float, template: str, done_text: str, now: float | None = None) -> str:
    if not deadline:
        return ""
    left = int(deadline - (time.time() if now is None else now))
    return template.replace("{}", human(left)) if left > 0 else done_text


def is_web_url(url: str) -> bool:
    """Only http(s) pages are ever sent to the browser (never ``javascript:`` and the like)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def report_page(content: dict[str, Any]) -> None:
    """The page told us where it lives: the callback may then go through the server proxy."""
    origin, base = content.get("origin"), content.get("base_url")
    if not isinstance(origin, str) or not isinstance(base, str) or not origin.startswith("http"):
        return
    url = base if base.startswith("http") else origin.rstrip("/") + "/" + base.lstrip("/")
    if callback.set_frontend_base_url(url):
        discovery.clear_cache()  # a provider proxied by this server now announces other page addresses


class _PressMixin:
    """``on_press(handler)`` / ``click()`` shared by both button kinds; handlers get the page's report."""

    _press_handlers: list[PressHandler]

    def on_press(self, handler: PressHandler) -> None:
        self._press_handlers.append(handler)

    def click(self, frontend: dict[str, Any] | None = None) -> None:
        """Press the button (the front end's click, or a script's / test's)."""
        for handler in list(self._press_handlers):
            handler(dict(frontend or {}))


if HAS_ANYWIDGET:

    class LoginButton(_PressMixin, _anywidget.AnyWidget):
        """A button whose click opens the login tab at once; the kernel fills in the address later."""

        _esm = BUTTON_ESM
        _css = CSS
        description = traitlets.Unicode("Get New Access Token").tag(sync=True)
        tooltip = traitlets.Unicode("").tag(sync=True)
        disabled = traitlets.Bool(False).tag(sync=True)
        opens_window = traitlets.Bool(False).tag(sync=True)
        button_class = traitlets.Unicode("").tag(sync=True)

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._press_handlers = []
            self.on_msg(self._on_frontend_msg)

        def _on_frontend_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
            if not isinstance(content, dict):
                return
            report_page(content)
            if content.get("event") == "click" and not self.disabled:
                self.click(content)

        def navigate(self, url: str) -> None:
            """Send the tab opened by the last click to ``url``."""
            if is_web_url(url):
                self.send({"event": "navigate", "url": url})

        def close_window(self) -> None:
            """Close the tab opened by the last click (the flow failed before it had a page)."""
            self.send({"event": "close"})

    class Countdown(_anywidget.AnyWidget):
        """Seconds left until ``deadline`` (epoch seconds), ticking in the browser without kernel traffic."""

        _esm = COUNTDOWN_ESM
        deadline = traitlets.Float(0.0).tag(sync=True)
        template = traitlets.Unicode("{} left").tag(sync=True)
        done_text = traitlets.Unicode("time is up").tag(sync=True)

        def text(self) -> str:
            return countdown_text(self.deadline, self.template, self.done_text)

else:  # pragma: no cover - exercised only without anywidget

    class LoginButton(_PressMixin, widgets.Button):  # type: ignore[no-redef]
        """Plain button: the form shows the login page as a link to click."""

        def __init__(self, *, button_class: str = "", opens_window: bool = False, **kwargs: Any) -> None:
            super().__init__(button_style="primary", **kwargs)
            self._press_handlers = []
            self.opens_window = opens_window
            if button_class:
                self.add_class(button_class)

        def navigate(self, url: str) -> None:
            pass

        def close_window(self) -> None:
            pass

    class Countdown(widgets.HTML):  # type: ignore[no-redef]
        """Static text (no ticking without a front-end module): the time left when last updated."""

        deadline = traitlets.Float(0.0)
        template = traitlets.Unicode("{} left")
        done_text = traitlets.Unicode("time is up")

        @traitlets.observe("deadline", "template", "done_text")
        def _render(self, _change: Any) -> None:
            self.value = self.text()

        def text(self) -> str:
            return countdown_text(self.deadline, self.template, self.done_text)
