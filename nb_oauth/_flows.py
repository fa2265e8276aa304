"""Running a grant from a config to a stored :class:`Token`.

:func:`get_new_access_token` blocks until the token is there (scripts, magics).
:class:`PendingFlow` runs the same thing in steps, so a form can show the link at once and let
the listener finish in the background.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ._presenter import presenter
from ._token import Token, TokenSet
from ._trace import Trace
from .config import REDIRECT_GRANTS, OAuth2Config
from .errors import ConfigError, OAuthError, RedirectURLNeeded
from .grants import client_credentials, device_code, password
from .grants.redirect import RedirectFlow
from .grants.resolve import resolve_config
from .oidc.idtoken import verify_id_token

DoneCallback = Callable[[Token | None, OAuthError | None], None]


class PendingFlow:
    """One "Get New Access Token" in progress.

    ``start()`` resolves the config and, for redirect grants, opens the listener and builds the
    login URL (``authorization_url``); ``wait()`` finishes and stores the token.
    """

    def __init__(self, cfg: OAuth2Config, *, variables: Mapping[str, Any] | None = None,
                 open_browser: bool | None = None, timeout: float | None = None, store: bool = True) -> None:
        if not isinstance(cfg, OAuth2Config):
            raise ConfigError(f"Expected an OAuth2Config, got {type(cfg).__name__}.",
                              fix="Build one with nb_oauth.OAuth2Config(...).")
        self.config = cfg
        self.variables = variables
        self.open_browser = open_browser
        self.timeout = timeout
        self.store = store
        self.trace = Trace(cfg.grant_type, cfg.token_name)
        self.resolved: OAuth2Config | None = None
        self.redirect: RedirectFlow | None = None
        self._cancel = threading.Event()
        self._started = False
        self.token: Token | None = None
        self.error: OAuthError | None = None
        self.done = threading.Event()

    @property
    def authorization_url(self) -> str | None:
        return self.redirect.authorization_url if self.redirect else None

    def _failed(self, exc: OAuthError) -> OAuthError:
        exc.trace = self.trace
        if isinstance(exc, RedirectURLNeeded):
            return exc  # not a failure: the flow waits for complete(url)
        self.trace.fail(str(exc))
        self.error = exc
        self.done.set()
        return exc

    def start(self) -> PendingFlow:
        if self._started:
            return self
        self._started = True
        try:
            self.resolved = resolve_config(self.config, self.variables)
            if self.resolved.grant_type in REDIRECT_GRANTS:
                self.redirect = RedirectFlow(self.resolved, self.trace, open_browser=self.open_browser,
                                             timeout=self.timeout)
                self.redirect.start()
        except OAuthError as exc:
            if self.redirect is not None:
                self.redirect.close()
            raise self._failed(exc) from None
        except BaseException:
            if self.redirect is not None:
                self.redirect.close()  # whatever went wrong, the port is released
            raise
        return self

    def wait(self) -> Token:
        self.start()
        cfg = self.resolved
        assert cfg is not None
        try:
            if self.redirect is not None:
                token_set = self.redirect.wait()
                nonce = self.redirect.nonce
            else:
                nonce = None
                token_set = self._direct_grant(cfg)
            token_set = verify_id_token(cfg, token_set, nonce=nonce, trace=self.trace)
        except OAuthError as exc:
            raise self._failed(exc) from None
        except KeyboardInterrupt:
            self.cancel()
            raise
        finally:
            if self.redirect is not None:
                self.redirect.close()
            presenter().finished()
        self.token = self._keep(token_set)
        self.done.set()
        return self.token

    def _direct_grant(self, cfg: OAuth2Config) -> TokenSet:
        if cfg.grant_type == "client_credentials":
            return client_credentials.fetch(cfg, self.trace)
        if cfg.grant_type == "password_credentials":
            return password.fetch(cfg, self.trace)
        if cfg.grant_type == "token_exchange":
            from ._store import tokens
            from .grants import token_exchange

            return token_exchange.fetch(cfg, self.trace, subject_token=tokens.subject_token(cfg))
        if cfg.grant_type == "device_code":
            from .redirect.callback import default_authorize_using_browser

            browser = self.open_browser if self.open_browser is not None else cfg.authorize_using_browser
            if browser is None:
                browser = default_authorize_using_browser()
            return device_code.fetch(cfg, self.trace, cancel=self._cancel, open_browser=browser, timeout=self.timeout)
        raise ConfigError(f"grant_type {cfg.grant_type!r} has no runner.")  # unreachable: validated earlier

    def _keep(self, token_set: TokenSet) -> Token:
        if not self.store:
            return Token(token_set, self.config.token_name, self.trace)
        from ._store import tokens

        return tokens.put(self.config, token_set, self.trace)

    def complete(self, redirected_url: str) -> Token:
        """Paste mode: finish with the address the browser landed on."""
        self.start()
        if self.redirect is None:
            raise ConfigError("Only authorization code and implicit logins finish with a redirected URL.")
        try:
            token_set = self.redirect.complete(redirected_url)
            assert self.resolved is not None
            token_set = verify_id_token(self.resolved, token_set, nonce=self.redirect.nonce, trace=self.trace)
        except OAuthError as exc:
            raise self._failed(exc) from None
        self.token = self._keep(token_set)
        self.done.set()
        return self.token

    def submit_redirected_url(self, redirected_url: str) -> None:
        """Hand the address the browser landed on to a login still waiting on its listener.

        For when the redirect could not reach the listener (a remote kernel): the same state
        check applies, and the waiting :meth:`wait` (or background run) then finishes.
        """
        if self.redirect is None or self.redirect.listener is None:
            raise ConfigError("No login of this flow is waiting on a listener.",
                              fix="Use complete(url) for a login started in paste mode.")
        self.redirect.listener.submit_redirect_url(redirected_url)

    @property
    def state(self) -> str | None:
        """The ``state`` this login sent (not a secret: it travels in URLs)."""
        return self.redirect.state if self.redirect is not None else None

    def cancel(self) -> None:
        self._cancel.set()
        if self.redirect is not None:
            self.redirect.cancel()

    def run_in_background(self, on_done: DoneCallback | None = None) -> threading.Thread:
        """Finish in a thread (the form's way: the kernel stays free); ``on_done(token, error)`` at the end."""
        self.start()
        ctx = contextvars.copy_context()

        def run() -> None:
            token, error = None, None
            try:
                token = ctx.run(self.wait)
            except OAuthError as exc:
                error = exc
            except Exception as exc:  # never let a thread die silently
                error = OAuthError(f"Unexpected failure: {type(exc).__name__}: {exc}")
                self._failed(error)
            if on_done is not None:
                on_done(token, error)

        thread = threading.Thread(target=run, name=f"nb_oauth-flow-{self.config.token_name}", daemon=True)
        thread.start()
        return thread


def get_new_access_token(cfg: OAuth2Config, *, variables: Mapping[str, Any] | None = None,
                         open_browser: bool | None = None, timeout: float | None = None,
                         store: bool = True) -> Token:
    """Run the config's grant and return the :class:`Token` (stored under ``cfg.token_name``)."""
    return PendingFlow(cfg, variables=variables, open_browser=open_browser, timeout=timeout, store=store).wait()


def start_flow(cfg: OAuth2Config, **kwargs: Any) -> PendingFlow:
    """Begin a flow without waiting: ``flow.authorization_url`` now, ``flow.wait()`` or ``flow.complete(url)`` later."""
    return PendingFlow(cfg, **kwargs).start()
