"""The form's status area: waiting (countdown, Cancel, the login link, a paste box), success, error.

Everything shown here is masked: token values go through :func:`~nb_oauth.errors.mask` (or the
token's own masked display) and error messages are already redacted by the core.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .form_fields import set_visible
from .form_frontend import Countdown, LoginButton, is_web_url

if TYPE_CHECKING:
    from .._token import Token
    from ..errors import OAuthError

OK_STYLE = "color:var(--jp-success-color1,#2e7d32)"
ERROR_STYLE = "color:var(--jp-error-color1,#d32f2f)"
WARN_STYLE = "color:var(--jp-warn-color1,#e65100)"


def _css(widget: widgets.Widget, name: str) -> widgets.Widget:
    widget.add_class(name)
    return widget


class StatusArea:
    """One place that says what the form is doing; safe to update from the flow's thread."""

    def __init__(self, *, on_cancel: Callable[[], None], on_paste: Callable[[str], None]) -> None:
        self._lock = threading.RLock()
        self.message = _css(widgets.HTML(""), "nb-oauth-status-message")
        self.countdown = _css(Countdown(template="waiting for the login: {} left", done_text="timed out"),
                              "nb-oauth-countdown")
        self.link = _css(widgets.HTML(""), "nb-oauth-login-link-box")
        self.device = _css(widgets.HTML(""), "nb-oauth-device")
        self.cancel = _css(widgets.Button(description="Cancel", icon="stop", button_style="warning",
                                          layout=widgets.Layout(width="auto")), "nb-oauth-cancel")
        self.cancel.on_click(lambda _b: on_cancel())
        self.retry = LoginButton(description="Retry", button_class="nb-oauth-retry",
                                 tooltip="Try again with the fields as they are now")
        self.retry.add_class("nb-oauth-retry-widget")
        self.paste_hint = _css(widgets.HTML(""), "nb-oauth-paste-hint")
        self.paste_url = _css(widgets.Text(placeholder="http://127.0.0.1:…/callback?code=…&state=…",
                                           description="Redirected URL", style={"description_width": "120px"},
                                           layout=widgets.Layout(flex="1 1 auto")), "nb-oauth-paste-url")
        self.paste_go = _css(widgets.Button(description="Complete login", layout=widgets.Layout(width="auto")),
                             "nb-oauth-paste-complete")
        self.paste_go.on_click(lambda _b: self._pasted(on_paste))
        self.paste_error = _css(widgets.HTML(""), "nb-oauth-paste-error")
        self.paste = widgets.VBox([self.paste_hint, widgets.HBox([self.paste_url, self.paste_go]), self.paste_error])
        self.details = _css(widgets.HTML(""), "nb-oauth-status-details")
        self.box = _css(widgets.VBox([self.message, self.device, self.link, self.countdown, self.paste,
                                      widgets.HBox([self.cancel, self.retry]), self.details],
                                     layout=widgets.Layout(max_width="680px")), "nb-oauth-status")
        self.state = "idle"
        self.idle()

    # -- states ---------------------------------------------------------------------------------

    def _show(self, state: str, message: str, *, waiting: bool = False, retry: bool = False) -> None:
        self.state = state
        for old in ("idle", "working", "waiting", "success", "error"):
            self.box.remove_class(f"nb-oauth-status-{old}")
        self.box.add_class(f"nb-oauth-status-{state}")
        self.message.value = message
        set_visible(self.cancel, waiting)
        set_visible(self.retry, retry)
        if not waiting:
            self.countdown.deadline = 0.0
            set_visible(self.countdown, False)
            set_visible(self.paste, False)
            self.link.value = ""
            self.device.value = ""

    def idle(self) -> None:
        with self._lock:
            self._show("idle", "")
            self.details.value = ""

    def working(self, text: str) -> None:
        with self._lock:
            self._show("working", html.escape(text), waiting=True)
            self.details.value = ""

    def waiting_for_login(self, url: str, deadline: float, *, opened: bool) -> None:
        """The login page is (being) opened; the listener waits for the redirect."""
        with self._lock:
            how = "A new tab was opened for the login" if opened else "Open the login page to log in"
            self._show("waiting", f"{how}. Waiting for the provider to send you back…", waiting=True)
            self.link.value = login_link(url, "Open login page")
            self._countdown(deadline)
            self.paste_hint.value = ("<small>If the browser does not come back here, paste the address it "
                                     "lands on:</small>")
            self.paste_url.value = ""
            self.paste_error.value = ""
            set_visible(self.paste, True)

    def paste_mode(self) -> None:
        """No redirect can reach this kernel: the pasted address is the only way back."""
        with self._lock:
            self.paste_hint.value = (
                "<b>No redirect can reach this kernel.</b> Log in, then copy the full address your browser "
                "lands on (it may show an error page; that is fine) and paste it here. Or use Grant Type "
                "<i>Device Code</i>, which needs no redirect.")
            set_visible(self.paste, True)

    def device_code(self, uri: str, user_code: str, complete: str | None, deadline: float, *, opened: bool) -> None:
        with self._lock:
            how = "A new tab was opened; confirm" if opened else "Open the page and enter"
            self._show("waiting", f"{how} the code below. Waiting for your approval…", waiting=True)
            target = complete or uri
            self.link.value = login_link(target, html.escape(uri))
            self.device.value = (f"<div>Code: <code class='nb-oauth-user-code' style='font-size:1.5em;"
                                 f"letter-spacing:0.1em'>{html.escape(user_code)}</code></div>")
            self._countdown(deadline)

    def notice(self, text: str) -> None:
        with self._lock:
            self.details.value += f"<div style='{WARN_STYLE}'>ℹ {html.escape(text)}</div>"

    def success(self, token: Token, bound_to: str | None) -> None:
        from ..errors import mask

        with self._lock:
            parts = [f"✔ Token <b>{html.escape(token.token_name or '')}</b> obtained: "
                     f"<code>{html.escape(mask(token.access_token))}</code>, {html.escape(token.expiry_text())}"]
            if token.scope:
                parts.append(f"scope <code>{html.escape(token.scope)}</code>")
            if bound_to:
                parts.append(f"in use as <code>{html.escape(bound_to)}</code>")
            self._show("success", f"<span style='{OK_STYLE}'>{', '.join(parts)}.</span>")
            notes = [self.details.value] if self.details.value else []
            if token.scope_narrowed:
                notes.append(f"<div style='{WARN_STYLE}' class='nb-oauth-scope-narrowed'>ℹ The server granted "
                             f"fewer scopes than asked: not granted <code>{html.escape(' '.join(token.scope_narrowed))}"
                             f"</code>.</div>")
            notes.append(token._repr_html_())
            if token.trace is not None:
                notes.append(_trace_details(token.trace))
            self.details.value = "".join(notes)

    def error(self, exc: OAuthError) -> None:
        with self._lock:
            title = type(exc).__name__
            self._show("error", f"<span style='{ERROR_STYLE}'>✖ <b>{html.escape(title)}</b>: "
                                f"{html.escape(str(exc))}</span>", retry=True)
            trace = getattr(exc, "trace", None)
            self.details.value = _trace_details(trace) if trace is not None and len(trace) else ""

    def paste_problem(self, text: str) -> None:
        with self._lock:
            self.paste_error.value = f"<span style='{ERROR_STYLE}'>{html.escape(text)}</span>"

    # -- helpers --------------------------------------------------------------------------------

    def _countdown(self, deadline: float) -> None:
        self.countdown.deadline = float(deadline or 0.0)
        set_visible(self.countdown, bool(deadline))

    def _pasted(self, on_paste: Callable[[str], None]) -> None:
        url = self.paste_url.value.strip()
        self.paste_url.value = ""  # the address carries a one-time code: do not keep it in the widget
        self.paste_error.value = ""
        if url:
            on_paste(url)

    def text(self) -> str:
        """Plain text of what the status area says (for scripts and tests)."""
        import re

        joined = " ".join(w.value for w in (self.message, self.device, self.link, self.paste_error, self.details))
        return html.unescape(re.sub(r"<[^>]+>", " ", joined))


def login_link(url: str, text: str) -> str:
    """A real link (a second click needs no popup permission)."""
    if not is_web_url(url):
        return ""
    return (f"<a href='{html.escape(url, quote=True)}' target='_blank' rel='noopener noreferrer' "
            f"class='nb-oauth-login-link' style='text-decoration:underline'>{text}</a>")


def _trace_details(trace: Any) -> str:
    try:
        body = trace._repr_html_()
    except Exception:  # a display problem must not hide the result
        return ""
    return f"<details class='nb-oauth-trace-details'><summary>Trace</summary>{body}</details>"
