"""The configuration form and token manager: Postman's OAuth 2.0 panel as ipywidgets.

``%oauth_token`` with no argument and ``nb_oauth.form(**fields)`` show it::

    from nb_oauth.notebook.form import TokenForm
    form = TokenForm(grant_type="client_credentials", access_token_url="https://idp.example/token")
    form                      # or display(form.widget())
    form.config()             # the OAuth2Config the fields describe

The form never blocks the kernel: "Get New Access Token" starts the flow in a background
thread, the kernel-local listener finishes it there, and the widgets are updated from that
thread.  Secrets are never left in a widget (saved widget state would write them to disk) and
tokens are only ever shown masked.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import ipywidgets as widgets

from .._flows import start_flow
from .._presenter import use_presenter
from .._store import TokenStore, tokens
from .._token import Token
from ..config import REDIRECT_GRANTS, SECRET_FIELDS, OAuth2Config
from ..errors import ConfigError, OAuthError
from ..grants._token_request import config_secrets
from .form_advanced import ADVANCED, AdvancedTab
from .form_attempt import Attempt, FormPresenter, carries_state, direct_grant_text, explained
from .form_checks import check_field_names, discover_into, fields_named_in, precheck, prefill, typed_memory, user_namespace
from .form_fields import FieldRow, make_row, on_change, section
from .form_frontend import LoginButton
from .form_status import StatusArea
from .form_tokens import AvailableTokens, TokenManager

__all__ = ["TokenForm"]

CONFIGURE = ("token_name", "grant_type", "issuer", "callback_url", "authorize_using_browser", "auth_url",
             "access_token_url", "device_authorization_url", "username", "password", "client_id", "client_secret",
             "code_challenge_method", "code_verifier", "scope", "state", "client_authentication")
CURRENT = ("add_token_to", "header_prefix", "auto_refresh", "share", "use_token_type")
#: Current Token settings that also change the selected stored token at once (read when it is used).
LIVE_SETTINGS = ("add_token_to", "header_prefix", "auto_refresh", "use_token_type")
OPENS_A_PAGE = REDIRECT_GRANTS | {"device_code"}
MAIN_BUTTON = "Get New Access Token"

class TokenForm:
    """Postman's "Configure New Token", "Advanced Options", Available Tokens and Manage Tokens.

    ``TokenForm(**fields)`` or ``TokenForm(config=cfg)`` prefill it; ``var`` names the notebook
    variable the token in use is bound to (default: the token's name); ``namespace`` is where
    that variable lives (default: the IPython user namespace).
    """

    def __init__(self, config: OAuth2Config | None = None, *, var: str = "",
                 namespace: MutableMapping[str, Any] | None = None, store: TokenStore | None = None,
                 remember: bool = False, **fields: Any) -> None:
        check_field_names(fields)
        self.remember = remember  # the magic's form: keep what is typed for the next form of this kernel
        self._typed = typed_memory() if remember else {}
        if remember and config is None:
            fields = {**self._typed, **fields}  # what the call gives wins over what was typed
        self.store = store if store is not None else tokens
        self.namespace = namespace if namespace is not None else user_namespace()
        self._attempt: Attempt | None = None
        self._threads: list[threading.Thread] = []
        self._loading = False
        self._base, values, problem = prefill(config, fields)
        self.rows: dict[str, FieldRow] = {name: make_row(name) for name in (*CONFIGURE, *ADVANCED, *CURRENT)}
        self._build_widgets(var)
        self.set(**values)
        self._wire()
        self._update_visibility()
        if problem is not None:
            self._show_config_error(problem)

    # -- building ---------------------------------------------------------------------------------

    def _build_widgets(self, var: str) -> None:
        self.discover_button = widgets.Button(description="Discover", icon="search",
                                              layout=widgets.Layout(width="auto", flex="0 0 auto"),
                                              tooltip="Fill the empty URLs from the issuer's discovery document")
        self.discover_button.add_class("nb-oauth-discover")
        self.discover_note = widgets.HTML("")
        self.discover_note.add_class("nb-oauth-discover-note")
        issuer = self.rows["issuer"]
        issuer.box.children = (widgets.HBox([issuer.control, self.discover_button]), issuer.error, self.discover_note)
        self.button = LoginButton(description=MAIN_BUTTON, button_class="nb-oauth-get-token",
                                  tooltip="Run the grant and keep the token under its Token Name")
        self.button.add_class("nb-oauth-get-token-widget")
        self.status = StatusArea(on_cancel=self.cancel, on_paste=self._paste)
        self.available = AvailableTokens(self.store, self.namespace, var, on_select=self._load_current_settings,
                                         on_choose=self.load_token_config)
        self.manager = TokenManager(self.store, self._background, on_change=self.available.reload)
        r = self.rows
        configure = widgets.VBox([r[n].box for n in CONFIGURE])
        configure.add_class("nb-oauth-configure")
        self.advanced = AdvancedTab(r)
        self.tabs = widgets.Tab(children=[configure, self.advanced.box])
        self.tabs.set_title(0, "Configuration Options")
        self.tabs.set_title(1, "Advanced Options")
        current = section("Current Token", [self.available.box, *[r[n] for n in CURRENT]], "nb-oauth-current")
        new = section("Configure New Token", [self.tabs], "nb-oauth-new-token")
        manage = section("Manage Tokens", [self.manager.box], "nb-oauth-manage")
        self._root = widgets.VBox([widgets.HTML("<h3 style='margin:0'>OAuth 2.0</h3>"), current, new,
                                   widgets.HBox([self.button]), self.status.box, manage],
                                  layout=widgets.Layout(max_width="720px"))
        self._root.add_class("nb-oauth-form")

    def _wire(self) -> None:
        self.button.on_press(self._pressed_by(self.button))
        self.status.retry.on_press(self._pressed_by(self.status.retry))
        self.discover_button.on_click(lambda _b: self.discover())
        watched = [self.rows["grant_type"], self.rows["authorize_using_browser"], self.rows["add_token_to"]]
        on_change(watched, lambda _c: self._update_visibility())
        for name in LIVE_SETTINGS:
            self.rows[name].control.observe(lambda change, n=name: self._apply_setting(n, change["new"]),
                                            names="value")
        if self.remember:
            for name, row in self.rows.items():
                if name not in SECRET_FIELDS:
                    row.control.observe(lambda _c, n=name, r=row: self._typed.__setitem__(n, r.get()), names="value")

    def widget(self) -> widgets.VBox:
        """The form, to display (``display(form.widget())``)."""
        return self._root

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self._root._repr_mimebundle_(**kwargs)

    # -- fields -------------------------------------------------------------------------------------

    def set(self, **fields: Any) -> None:
        """Fill fields by config name (no check yet: :meth:`config` checks)."""
        check_field_names(fields)
        for name, value in fields.items():
            if name in self.rows:
                self.rows[name].set(value)

    def config(self) -> OAuth2Config:
        """The :class:`OAuth2Config` the fields describe; a :class:`ConfigError` says what to fix."""
        grant = self.rows["grant_type"].get()
        values: dict[str, Any] = {}
        for name, row in self.rows.items():
            values[name] = row.get() if row.applies_to(grant) else getattr(self._base, name)
        if values["add_token_to"] != "header":
            values["header_prefix"] = self._base.header_prefix
        values["header_prefix"] = values["header_prefix"] or ""
        values["token_name"] = values["token_name"] or ""
        return dataclasses.replace(self._base, **values)

    def visible_fields(self) -> list[str]:
        return [name for name, row in self.rows.items() if row.visible]

    def _update_visibility(self) -> None:
        grant = self.rows["grant_type"].get()
        for row in self.rows.values():
            row.show(row.applies_to(grant))
        self.advanced.update(grant)
        self.rows["header_prefix"].show(self.rows["add_token_to"].get() == "header")
        browser = self.rows["authorize_using_browser"].control.value
        opens = grant in OPENS_A_PAGE and bool(browser)
        self.button.opens_window = self.status.retry.opens_window = opens

    def _clear_field_errors(self) -> None:
        for row in self.rows.values():
            row.clear_error()

    def _show_config_error(self, exc: OAuthError) -> None:
        """One summary in the status area (with Retry); a short mark on each field it names."""
        self.status.error(exc)
        cause = str(exc).split(" Fix:")[0]
        missing = "not set" in cause or "needs" in cause
        for name in fields_named_in(str(exc), self.rows):
            self.rows[name].show_error("required" if missing and not self.rows[name].get() else
                                       "check this field (see the message below)")

    # -- Get New Access Token ---------------------------------------------------------------------

    def _pressed_by(self, button: LoginButton | None) -> Callable[[dict[str, Any]], object]:
        return lambda frontend: self.get_new_access_token(frontend, _button=button)

    def click(self) -> None:
        """Press Get New Access Token (as a script or test would)."""
        self.button.click()

    def get_new_access_token(self, frontend: dict[str, Any] | None = None, *,
                             _button: LoginButton | None = None) -> Attempt | None:
        """Start the grant with the fields as they are; the rest happens in the background."""
        frontend = frontend or {}
        opener = _button if frontend.get("window_opened") else None
        waiting = self._attempt
        if waiting is not None and not waiting.done.is_set() and not waiting.cancelled.is_set():
            self._reuse_waiting(waiting, opener)  # a double click: the login already waiting is the one
            return waiting
        self._clear_field_errors()
        try:
            cfg = self.config()
            precheck(cfg, self.namespace)
        except ConfigError as exc:
            if opener is not None:
                opener.close_window()
            self._show_config_error(exc)
            return None
        attempt = Attempt(cfg, opener=opener)
        self._attempt = attempt
        self._set_busy(True)
        self.status.working("Starting…")
        self._background(lambda: self._run(attempt), f"nb_oauth-form-{cfg.token_name}")
        return attempt

    def _set_busy(self, busy: bool) -> None:
        """While a login waits, Get New Access Token and Retry are disabled (Cancel stops the wait)."""
        self.button.disabled = busy
        self.status.retry.disabled = busy
        self.button.tooltip = ("A login is waiting: finish it in its tab, or Cancel" if busy
                               else "Run the grant and keep the token under its Token Name")

    def _reuse_waiting(self, attempt: Attempt, opener: LoginButton | None) -> None:
        if opener is not None:
            if attempt.authorization_url:
                opener.navigate(attempt.authorization_url)  # the new tab shows the same, still valid login
            else:
                opener.close_window()
        self.status.notice("A login is already waiting (see above): finish it, or Cancel to start another.")

    def _run(self, attempt: Attempt) -> None:
        """In a worker thread: resolve (maybe discover), open the listener, then let the flow finish."""
        try:
            with use_presenter(FormPresenter(self, attempt)):
                flow = start_flow(attempt.config, variables=self.namespace,
                                  open_browser=False if attempt.opener is not None else None)
                attempt.flow = flow
                if attempt.cancelled.is_set():
                    flow.cancel()
                if flow.redirect is None and self._attempt is attempt:
                    self.status.working(direct_grant_text(attempt.config))
                flow.run_in_background(lambda token, error: self._finished(attempt, token, error))
        except OAuthError as exc:
            self._finished(attempt, None, exc)
        except Exception as exc:  # the form must show every failure, never a traceback
            self._finished(attempt, None, OAuthError(f"Unexpected failure: {type(exc).__name__}: {exc}",
                                                     secrets=config_secrets(attempt.config)))

    def _finished(self, attempt: Attempt, token: Token | None, error: OAuthError | None) -> None:
        failure = explained(attempt, error) if error is not None or token is None else None
        attempt.token, attempt.error = token, failure
        try:
            if self._attempt is not attempt:
                return
            self._set_busy(False)
            if failure is not None:
                if attempt.opener is not None and attempt.authorization_url is None:
                    attempt.opener.close_window()
                self.status.error(failure)
                if isinstance(failure, ConfigError):
                    self._show_config_error(failure)
                return
            assert token is not None
            var = self.available.bind(token.token_name or attempt.config.token_name)
            self.manager.reload()
            self.status.success(token, var)
        finally:
            attempt.done.set()

    def cancel(self) -> None:
        """Stop waiting for the current login (Cancel button)."""
        attempt = self._attempt
        if attempt is None or attempt.done.is_set():
            return
        attempt.cancelled.set()
        attempt.paste_event.set()
        self._set_busy(False)
        if attempt.flow is not None:
            attempt.flow.cancel()

    def _paste(self, url: str) -> None:
        """The user pasted the address the browser landed on."""
        attempt = self._attempt
        redirect = attempt.flow.redirect if attempt is not None and attempt.flow is not None else None
        if attempt is None or attempt.done.is_set() or redirect is None:
            self.status.paste_problem("No login is waiting for a redirect. Click Get New Access Token first.")
            return
        if not carries_state(url, redirect.state):
            self.status.paste_problem("That address does not carry this login's state. Paste the full address "
                                      "the browser shows after logging in, from this attempt.")
            return
        if attempt.asked_paste:
            attempt.pasted = url
            attempt.paste_event.set()
            return
        if attempt.flow is None:
            return
        try:
            attempt.flow.submit_redirected_url(url)
        except OAuthError as exc:
            self.status.paste_problem(str(exc))

    # -- state for scripts and tests ----------------------------------------------------------------

    @property
    def attempt(self) -> Attempt | None:
        return self._attempt

    @property
    def authorization_url(self) -> str | None:
        """The login page of the current attempt, once the flow has built it."""
        return self._attempt.authorization_url if self._attempt is not None else None

    def wait(self, timeout: float | None = None) -> Token:
        """Block until the current attempt ends; its token, or its error raised (for scripts and tests)."""
        attempt = self._attempt
        if attempt is None:
            raise RuntimeError("Nothing is running: click Get New Access Token first.")
        if not attempt.done.wait(timeout):
            raise TimeoutError(f"The attempt did not finish within {timeout} s.")
        if attempt.error is not None:
            raise attempt.error
        assert attempt.token is not None
        return attempt.token

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Wait for the form's background work (discovery, refresh, revoke, flow start-up) to end."""
        end = time.monotonic() + timeout
        for thread in list(self._threads):
            thread.join(max(0.0, end - time.monotonic()))

    def _background(self, target: Callable[[], None], name: str) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    # -- Discover -----------------------------------------------------------------------------------

    def discover(self) -> None:
        """Fill the empty endpoint URLs from the issuer's discovery document (in the background)."""
        discover_into(self)

    # -- Current Token ------------------------------------------------------------------------------

    def _load_current_settings(self, name: str) -> None:
        """Show the chosen token's own settings (Add auth data to, Header Prefix, ...)."""
        try:
            cfg = self.store.config(name)
        except KeyError:
            return
        self._loading = True
        try:
            for setting in CURRENT:
                self.rows[setting].set(getattr(cfg, setting))
        finally:
            self._loading = False

    def load_token_config(self, name: str) -> None:
        """Postman's "the details you used to generate the token are saved with your request": choosing a
        token in Available Tokens fills Configure New Token with the configuration it was obtained with."""
        try:
            cfg = self.store.config(name)
        except KeyError:
            return
        self.set(**{field: getattr(cfg, field) for field in (*CONFIGURE, *ADVANCED)})
        self._clear_field_errors()
        self._update_visibility()
        self.status.notice(f"Configure New Token now shows the configuration token {name!r} was obtained with.")

    def _apply_setting(self, name: str, value: Any) -> None:
        """A Current Token setting changed: the token in use takes it at once (like Postman's)."""
        selected = self.available.selected
        if self._loading or selected is None:
            return
        try:
            stored = self.store.config(selected)
            checked = stored.copy(**{name: value if value is not None else ""})
            if name == "use_token_type" and value == "id_token" and not self.store[selected].id_token:
                raise ConfigError(f"Token {selected!r} has no ID token.",
                                  fix="Ask for the openid scope, or keep Use Token Type at Access token.")
        except (ConfigError, KeyError) as exc:
            self.rows[name].show_error(str(exc.args[0]) if isinstance(exc, KeyError) else str(exc))
            return
        self.rows[name].clear_error()
        setattr(stored, name, getattr(checked, name))
