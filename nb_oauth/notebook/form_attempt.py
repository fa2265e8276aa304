"""One press of Get New Access Token, and how the running flow talks to the form meanwhile."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from .._flows import PendingFlow
from .._token import Token
from ..config import OAuth2Config
from ..errors import FlowCancelledError, FlowTimeoutError, OAuthError
from ..redirect.listener import callback_timeout
from .form_fields import LABELS
from .form_frontend import LoginButton

if TYPE_CHECKING:
    from .form import TokenForm

__all__ = ["Attempt", "FormPresenter", "carries_state", "direct_grant_text", "explained"]


@dataclass(eq=False)
class Attempt:
    """One press of Get New Access Token, from the click to the token (or the error)."""

    config: OAuth2Config
    opener: LoginButton | None = None  # the button whose click opened a tab, if it did
    flow: PendingFlow | None = None
    authorization_url: str | None = None
    deadline: float = 0.0
    asked_paste: bool = False
    pasted: str | None = None
    token: Token | None = None
    error: OAuthError | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    paste_event: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class FormPresenter:
    """How the core's flow talks to the person at the form (see :class:`nb_oauth._presenter.Presenter`)."""

    def __init__(self, form: TokenForm, attempt: Attempt) -> None:
        self.form = form
        self.attempt = attempt

    @property
    def current(self) -> bool:
        return self.form._attempt is self.attempt

    def authorization_url(self, url: str, *, deadline: float, opened: bool, cancel_url: str | None) -> None:
        self.attempt.authorization_url, self.attempt.deadline = url, deadline
        if self.current:
            self.form.status.waiting_for_login(url, deadline, opened=opened or self.attempt.opener is not None)
        self._send_tab(url)

    def device_code(self, verification_uri: str, user_code: str, *, complete_uri: str | None,
                    deadline: float, opened: bool) -> None:
        self.attempt.deadline = deadline
        if self.current:
            self.form.status.device_code(verification_uri, user_code, complete_uri, deadline,
                                         opened=opened or self.attempt.opener is not None)
        self._send_tab(complete_uri or verification_uri)

    def _send_tab(self, url: str) -> None:
        """The tab the click opened gets the page; a superseded attempt's tab is closed instead."""
        opener = self.attempt.opener
        if opener is None:
            return
        if self.current and not self.attempt.cancelled.is_set():
            opener.navigate(url)
        else:
            opener.close_window()

    def ask_redirected_url(self, authorization_url: str) -> str | None:
        """Runs in the flow's thread: wait for the user to paste the address (or cancel, or time out)."""
        self.attempt.asked_paste = True
        if not self.attempt.authorization_url:  # in paste mode the link may come only with this request
            redirect = self.attempt.flow.redirect if self.attempt.flow is not None else None
            deadline = getattr(redirect, "deadline", 0.0) or time.time() + callback_timeout()
            self.authorization_url(authorization_url, deadline=deadline, opened=False, cancel_url=None)
        if self.current:
            self.form.status.paste_mode()
        left = (self.attempt.deadline or time.time() + 300) - time.time()
        self.attempt.paste_event.wait(timeout=max(1.0, left))
        return self.attempt.pasted

    def notice(self, message: str) -> None:
        if self.current:
            self.form.status.notice(message)

    def finished(self) -> None:
        pass


def explained(attempt: Attempt, error: OAuthError | None) -> OAuthError:
    """The error as the form's user caused it (a paste that never came was a cancel or a timeout)."""
    if error is None:
        return OAuthError("The flow ended without a token.")
    if attempt.asked_paste and attempt.pasted is None and isinstance(error, FlowCancelledError):
        if attempt.cancelled.is_set():
            return FlowCancelledError("The login was cancelled.")
        return FlowTimeoutError("Nobody pasted the address the browser landed on in time.",
                                fix="Click Get New Access Token again and paste the address sooner, or use "
                                    "Grant Type Device Code.")
    return error


def carries_state(url: str, state: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return any(state in parse_qs(part).get("state", []) for part in (parts.query, parts.fragment))


def direct_grant_text(cfg: OAuth2Config) -> str:
    if cfg.grant_type == "device_code":
        return "Asking the provider for a device code…"
    return f"Requesting a token ({LABELS['grant_type']}: {cfg.grant_type})…"
