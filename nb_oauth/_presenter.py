"""How a flow talks to the person running it, without knowing whether that is a terminal or a notebook.

The core calls the current :class:`Presenter`; plain Python gets :class:`ConsolePresenter`, the
notebook adapters install richer ones (links, countdowns, a Cancel button) for the duration of a
call with :func:`use_presenter`.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from collections.abc import Iterator
from typing import Protocol


class Presenter(Protocol):
    def authorization_url(self, url: str, *, deadline: float, opened: bool, cancel_url: str | None) -> None:
        """Show the login link (it may also have been opened in the browser)."""

    def device_code(self, verification_uri: str, user_code: str, *, complete_uri: str | None,
                    deadline: float, opened: bool) -> None:
        """Show where to go and which code to type for the device flow."""

    def ask_redirected_url(self, authorization_url: str) -> str | None:
        """Paste mode: ask for the address the browser landed on; None when nobody can answer."""

    def notice(self, message: str) -> None:
        """Something the user should know that is not an error (a narrower scope, a reused token)."""

    def finished(self) -> None:
        """The flow is over (success or not): stop any countdown."""


class ConsolePresenter:
    """Plain text on stderr, for scripts and the terminal."""

    def __init__(self, stream=None) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stderr, flush=True)

    def authorization_url(self, url: str, *, deadline: float, opened: bool, cancel_url: str | None) -> None:
        left = max(0, round(deadline - time.time()))
        how = "A browser tab was opened; if not, open" if opened else "Open"
        self._print(f"{how} this link to log in (waiting up to {left} s):\n  {url}")

    def device_code(self, verification_uri: str, user_code: str, *, complete_uri: str | None,
                    deadline: float, opened: bool) -> None:
        left = max(0, round(deadline - time.time()))
        self._print(f"To log in, open {complete_uri or verification_uri}\n  and enter the code:  {user_code}"
                    f"\n  (waiting up to {left} s)")

    def ask_redirected_url(self, authorization_url: str) -> str | None:
        self._print(f"Open this link, log in, then paste the full address your browser lands on:\n  {authorization_url}")
        if not sys.stdin or not sys.stdin.isatty():
            return None
        try:
            return input("Redirected URL: ").strip() or None
        except EOFError:
            return None

    def notice(self, message: str) -> None:
        self._print(message)

    def finished(self) -> None:
        pass


_CONSOLE = ConsolePresenter()  # stateless apart from its stream, so one instance serves every context
_current: contextvars.ContextVar[Presenter] = contextvars.ContextVar("nb_oauth_presenter", default=_CONSOLE)


def presenter() -> Presenter:
    return _current.get()


@contextlib.contextmanager
def use_presenter(p: Presenter) -> Iterator[Presenter]:
    token = _current.set(p)
    try:
        yield p
    finally:
        _current.reset(token)
