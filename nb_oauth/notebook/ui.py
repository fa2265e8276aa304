"""What a flow shows in a notebook cell: the login link, a live countdown, the device code, notices.

:class:`NotebookPresenter` implements :class:`nb_oauth._presenter.Presenter` with ``IPython.display``
only (no widgets), so the magics and the form can both use it. The countdown is a display
handle updated from a small daemon thread while the kernel waits for the redirect; in a plain
terminal (no kernel) nothing is redrawn, the deadline is printed once instead.

The output helpers (:func:`show_error`, :func:`show_success`, ...) give every message the same
look, with a plain-text fallback for terminals and text-only front ends.
"""

from __future__ import annotations

import contextlib
import html
import keyword
import threading
import time
from typing import Any

from IPython.display import display

BOX = ("font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;padding:.5em .8em;margin:.2em 0;"
       "border-left:4px solid {color};background:{background}")
COLORS = {
    "info": ("#1976d2", "rgba(25,118,210,.07)"),
    "ok": ("#2e7d32", "rgba(46,125,50,.07)"),
    "warn": ("#ed6c02", "rgba(237,108,2,.08)"),
    "error": ("#c62828", "rgba(198,40,40,.07)"),
}
CANCEL_HINT = "To cancel, interrupt the kernel (■ button, or I, I); the callback port is released."


def _box(kind: str, inner_html: str) -> str:
    color, background = COLORS[kind]
    style = BOX.format(color=color, background=background)
    return f"<div class='nb-oauth-msg nb-oauth-{kind}' style='{style}'>{inner_html}</div>"


def bundle(kind: str, html_text: str, plain: str) -> dict[str, str]:
    return {"text/html": _box(kind, html_text), "text/plain": plain}


def show(kind: str, html_text: str, plain: str, **kwargs: Any) -> Any:
    """Display one styled message; returns the display handle when ``display_id=True`` is passed."""
    return display(bundle(kind, html_text, plain), raw=True, **kwargs)


class CellStopped(Exception):
    """Raised after an error was shown, so "Run All" stops here instead of going on without a token.

    IPython shows it as its one line (``_render_traceback_``): the reason is already displayed above.
    """

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


#: How many errors the magics have shown in this kernel (a magic fails its cell when this grows).
errors_shown = 0


def mark_failed() -> None:
    global errors_shown
    errors_shown += 1


def show_error(message: str, *, title: str = "Error", trace: Any = None) -> None:
    """A short readable error (never a traceback); the flow's trace folded underneath when there is one."""
    mark_failed()
    inner = f"<b>{html.escape(title)}:</b> {html.escape(message)}"
    plain = f"{title}: {message}"
    if trace is not None and len(getattr(trace, "steps", ())) > 1:
        inner += (f"<details style='margin-top:.4em'><summary>What happened ({len(trace.steps)} steps)</summary>"
                  f"{trace_html(trace)}</details>")
        plain += f"\n{trace!r}"
    show("error", inner, plain)


def show_notice(message: str) -> None:
    show("info", html.escape(message), message)


def show_warning(message: str) -> None:
    show("warn", html.escape(message), message)


def show_success(message_html: str, plain: str) -> None:
    show("ok", message_html, plain)


def trace_html(trace: Any) -> str:
    try:
        return str(trace._repr_html_())
    except Exception:  # a drawing problem must not hide the error it explains
        return f"<pre>{html.escape(repr(trace))}</pre>"


def in_kernel() -> bool:
    """True inside a Jupyter kernel, where display handles can be updated in place."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is imported above
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def format_left(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def link_html(url: str, text: str | None = None) -> str:
    safe = html.escape(url, quote=True)
    return f"<a href='{safe}' target='_blank' rel='noopener noreferrer'>{html.escape(text or url)}</a>"


class Countdown:
    """A display line showing the time left until ``deadline``, redrawn every ``tick`` seconds."""

    def __init__(self, deadline: float, *, live: bool, tick: float = 1.0, what: str = "Waiting for the login") -> None:
        self.deadline = deadline
        self.live = live
        self.tick = tick
        self.what = what
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.handle: Any = None

    def _bundle(self) -> dict[str, str]:
        left = format_left(self.deadline - time.time())
        return {"text/html": f"<div class='nb-oauth-countdown' style='font-size:12px;color:#666;margin:0 0 .3em 1em'>"
                             f"{html.escape(self.what)}… <b>{left}</b> left. {html.escape(CANCEL_HINT)}</div>",
                "text/plain": f"{self.what}… {left} left. {CANCEL_HINT}"}

    def start(self) -> Countdown:
        self.handle = display(self._bundle(), raw=True, display_id=True)
        if self.live and self.handle is not None:
            self._thread = threading.Thread(target=self._run, name="nb_oauth-countdown", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            if time.time() >= self.deadline:
                break
            try:
                self.handle.update(self._bundle(), raw=True)
            except Exception:  # the kernel may be shutting down; the countdown is cosmetic
                return

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=2)
        if self.live and self.handle is not None:
            with contextlib.suppress(Exception):
                self.handle.update({"text/html": "", "text/plain": ""}, raw=True)


class NotebookPresenter:
    """The :class:`nb_oauth._presenter.Presenter` for notebook cells (``with use_presenter(NotebookPresenter()):``).

    ``live`` (default: inside a kernel) redraws the countdown in place; ``tick`` is its period.
    """

    def __init__(self, *, live: bool | None = None, tick: float = 1.0) -> None:
        self.live = in_kernel() if live is None else live
        self.tick = tick
        self._countdowns: list[Countdown] = []
        self.shown_urls: list[str] = []
        self.paste_requested = False
        self._link: Any = None  # display handle of the login-link box, replaced by the paste prompt

    def _countdown(self, deadline: float, what: str) -> None:
        self._countdowns.append(Countdown(deadline, live=self.live, tick=self.tick, what=what).start())

    def authorization_url(self, url: str, *, deadline: float, opened: bool, cancel_url: str | None) -> None:
        self.shown_urls.append(url)
        lead = ("A browser tab was opened for the login. If it did not appear, open this link:" if opened
                else "Open this link to log in (it opens in a new tab):")
        inner = (f"<div>{html.escape(lead)}</div>"
                 f"<div style='margin:.4em 0;font-size:14px'><b>{link_html(url, 'Log in at the provider ↗')}</b></div>"
                 f"<div style='font-size:11px;color:#666;word-break:break-all'>{html.escape(url)}</div>")
        if cancel_url:
            inner += ("<div style='font-size:11px;margin-top:.3em'>Or cancel from the browser: "
                      f"{link_html(cancel_url, 'cancel this login')}</div>")
        self._link = show("info", inner, f"{lead}\n  {url}", display_id=True)
        self._countdown(deadline, "Waiting for the login")

    def device_code(self, verification_uri: str, user_code: str, *, complete_uri: str | None,
                    deadline: float, opened: bool) -> None:
        target = complete_uri or verification_uri
        self.shown_urls.append(target)
        lead = "A browser tab was opened. " if opened else ""
        inner = (f"<div>{html.escape(lead)}On any device, go to {link_html(target)} and enter this code:</div>"
                 f"<div class='nb-oauth-user-code' style='font:bold 2.2em var(--jp-code-font-family,monospace);"
                 f"letter-spacing:.15em;margin:.3em 0'>{html.escape(user_code)}</div>")
        if complete_uri and complete_uri != verification_uri:
            inner += ("<div style='font-size:11px;color:#666'>(The code is already filled in at that link; "
                      f"the plain page is {link_html(verification_uri)}.)</div>")
        show("info", inner, f"{lead}Go to {target} and enter the code: {user_code}")
        self._countdown(deadline, "Waiting for the approval")

    def ask_redirected_url(self, authorization_url: str) -> str | None:
        """Paste mode: no redirect can reach this kernel, so ask for the address the browser landed on."""
        self.shown_urls.append(authorization_url)
        inner = ("<div>No redirect can reach this kernel. Open the link, log in, and when the browser shows an "
                 "error page or an address it cannot load, copy that <b>whole address</b> and paste it into the "
                 "box below.</div>"
                 "<div style='margin:.4em 0;font-size:14px'>"
                 f"<b>{link_html(authorization_url, 'Log in at the provider ↗')}</b></div>"
                 f"<div style='font-size:11px;color:#666;word-break:break-all'>{html.escape(authorization_url)}</div>"
                 "<div style='font-size:11px;margin-top:.3em'>No way to paste? Use the device flow instead "
                 "(<code>--grant-type device_code</code>), which needs no redirect. Or press Enter with the box "
                 f"empty and finish later with <code>--paste</code>. {html.escape(CANCEL_HINT)}</div>")
        plain = ("No redirect can reach this kernel. Open this link, log in, then paste the full address the browser "
                 f"lands on:\n  {authorization_url}\n(Or use --grant-type device_code.) {CANCEL_HINT}")
        self._stop_countdowns()  # no countdown: nothing times out while the prompt waits
        if self._link is not None:
            self._link.update(bundle("warn", inner, plain), raw=True)
        else:
            show("warn", inner, plain)
        self.paste_requested = True
        return read_line("Redirected URL (paste the whole address, then Enter): ")

    def notice(self, message: str) -> None:
        show_notice(message)

    def _stop_countdowns(self) -> None:
        countdowns, self._countdowns = self._countdowns, []
        for countdown in countdowns:
            countdown.stop()

    def finished(self) -> None:
        """The flow is over: stop the countdown and remove the login box (its links no longer work)."""
        self._stop_countdowns()
        if self._link is not None and not self.paste_requested:
            self._link.update({"text/plain": ""}, raw=True)  # its links no longer work: the result says the rest
            self._link = None


def read_line(prompt: str) -> str | None:
    """``input()`` where a front end can answer it; None where nobody can (no stdin, nbclient, tests)."""
    try:
        from IPython.core.error import StdinNotImplementedError
    except ImportError:  # pragma: no cover
        StdinNotImplementedError = NotImplementedError  # type: ignore[assignment,misc]  # noqa: N806
    try:
        answer = input(prompt)
    except (EOFError, OSError, StdinNotImplementedError, NotImplementedError, RuntimeError):
        return None
    return answer.strip() or None


def valid_var(name: str) -> bool:
    """A name a cell can bind a result to."""
    return name.isidentifier() and not keyword.iskeyword(name)


def token_secrets(name: str) -> list[str]:
    """Every secret that must not be shown for token ``name`` (token values and config secrets)."""
    from .._store import tokens
    from ..config import SECRET_FIELDS, placeholders
    from ..errors import OAuthError

    found: list[str] = []
    token = tokens.get(name)
    if token is not None:
        found += token.token_set.secrets()
    if name in tokens:
        cfg = tokens.config(name)
        found += [v for v in (getattr(cfg, f) for f in SECRET_FIELDS) if v and not placeholders.has_placeholder(v)]
        try:
            resolved = cfg.with_placeholders_filled()
            found += [v for v in (getattr(resolved, f) for f in SECRET_FIELDS) if v]
        except OAuthError:
            pass
    return found + placeholders.filled_values()  # every value filled from a {{placeholder}} is a secret
