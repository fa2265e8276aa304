"""Postman's "Available Tokens" (which stored token a notebook variable holds) and "Manage Tokens".

Only masked values are ever put in these widgets.  Refresh and revoke talk to the server, so
they run in a background thread and report back here; the kernel stays free meanwhile.
"""

from __future__ import annotations

import html
import keyword
import weakref
from collections.abc import Callable, MutableMapping
from typing import Any

import ipywidgets as widgets

from .._store import TokenStore
from .._token import Token
from ..errors import OAuthError, mask
from .form_fields import DESCRIPTION_WIDTH, layout
from .form_frontend import Countdown
from .form_status import ERROR_STYLE, OK_STYLE

Background = Callable[[Callable[[], None], str], None]
NONE = "— none —"


def variable_for(name: str, requested: str) -> str:
    """The notebook variable a token is bound to: the one asked for, else the token's name if it can be one."""
    requested = requested.strip()
    if requested:
        return requested
    return name if name.isidentifier() and not keyword.iskeyword(name) else "token"


class AvailableTokens:
    """A dropdown of stored tokens; the chosen one is bound to a notebook variable."""

    def __init__(self, store: TokenStore, namespace: MutableMapping[str, Any], var: str = "",
                 on_select: Callable[[str], None] | None = None,
                 on_choose: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.namespace = namespace
        self.on_select = on_select  # a token was bound (chosen here, or just obtained)
        self.on_choose = on_choose  # the user chose a token in the dropdown
        self.dropdown = widgets.Dropdown(description="Available Tokens", options=[NONE], value=NONE,
                                         style={"description_width": DESCRIPTION_WIDTH},
                                         layout=layout())
        self.dropdown.add_class("nb-oauth-available-tokens")
        self.variable = widgets.Text(value=var, description="Variable", placeholder="empty: the token's name",
                                     style={"description_width": DESCRIPTION_WIDTH},
                                     layout=layout())
        self.variable.add_class("nb-oauth-variable")
        self.in_use = widgets.HTML("")
        self.in_use.add_class("nb-oauth-in-use")
        self.error = widgets.HTML("")
        self.box = widgets.VBox([self.dropdown, self.variable, self.in_use, self.error])
        self._quiet = False
        self.dropdown.observe(self._chosen, names="value")
        self.reload()

    def reload(self, select: str | None = None) -> None:
        """Show the store's tokens; keep (or change to) ``select`` without re-binding anything."""
        names = self.store.names()
        current = select if select is not None else self.dropdown.value
        self._quiet = True
        try:
            self.dropdown.options = [NONE, *names]
            self.dropdown.value = current if current in names else NONE
        finally:
            self._quiet = False
        if self.dropdown.value == NONE:
            self.in_use.value = "<small>No token in use yet.</small>" if not names else ""

    def _chosen(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] in (None, NONE):
            return
        if self.bind(change["new"]) is not None and self.on_choose is not None:
            self.on_choose(change["new"])

    @property
    def selected(self) -> str | None:
        value = self.dropdown.value
        return None if value in (None, NONE) else value

    def bind(self, name: str) -> str | None:
        """Put token ``name`` in the notebook variable; returns the variable's name."""
        var = variable_for(name, self.variable.value)
        self.error.value = ""
        if not var.isidentifier() or keyword.iskeyword(var):
            self.error.value = (f"<span style='{ERROR_STYLE}'>Variable {html.escape(var)!s} is not a valid Python "
                                "name. Fix: use letters, digits and _ only.</span>")
            return None
        try:
            token = self.store[name]
        except KeyError as exc:
            self.error.value = f"<span style='{ERROR_STYLE}'>{html.escape(str(exc.args[0]))}</span>"
            return None
        self.namespace[var] = token
        self.in_use.value = (f"<small>In use: <code>{html.escape(var)}</code> = token "
                             f"<b>{html.escape(name)}</b> ({html.escape(token.expiry_text())})</small>")
        if self.dropdown.value != name:
            self.reload(select=name)
        if self.on_select is not None:
            self.on_select(name)
        return var


class TokenManager:
    """Every stored token with its details and expiry countdown, and Refresh / Revoke / Delete."""

    def __init__(self, store: TokenStore, background: Background, on_change: Callable[[], None]) -> None:
        self.store = store
        self.background = background
        self.on_change = on_change
        self.reload_button = widgets.Button(description="Reload", icon="refresh",
                                            layout=widgets.Layout(width="auto", align_self="flex-start"),
                                            tooltip="Show the tokens as they are now")
        self.reload_button.add_class("nb-oauth-manage-reload")
        self.reload_button.on_click(lambda _b: self.reload())
        self.message = widgets.HTML("")
        self.message.add_class("nb-oauth-manage-message")
        self.rows = widgets.VBox([])
        self.rows.add_class("nb-oauth-token-rows")
        self.box = widgets.VBox([self.reload_button, self.message, self.rows])
        self.box.add_class("nb-oauth-manage-tokens")
        self.buttons: dict[str, dict[str, widgets.Button]] = {}
        self.confirm = widgets.HBox([])
        self.confirm.add_class("nb-oauth-delete-confirm")
        self.box.children = (*self.box.children[:2], self.confirm, self.box.children[2])
        self.reload()
        self._stop_listening = store.add_listener(_live_reload(self))

    def _store_changed(self, name: str) -> None:
        """A token was stored, refreshed (by any request) or forgotten: show it as it is now."""
        self.reload()

    def reload(self) -> None:
        self.buttons = {}
        tokens = self.store.list()
        self.rows.children = [self._row(t) for t in tokens] or [widgets.HTML("<i>No tokens yet.</i>")]

    def _row(self, token: Token) -> widgets.Widget:
        name = token.token_name or ""
        details = widgets.HTML(token_summary(token), layout=widgets.Layout(flex="1 1 auto"))
        renews = self._can_refresh(name, token) and self._auto_refresh(name)
        countdown = Countdown(template="expires in {}", done_text="expired, refreshes on next use" if renews
                              else "expired", deadline=token.expires_at.timestamp() if token.expires_at else 0.0)
        countdown.add_class("nb-oauth-expiry")
        buttons = {label: self._button(label, name) for label in ("Refresh", "Revoke", "Delete")}
        if not self._can_refresh(name, token):
            buttons["Refresh"].disabled = True
            buttons["Refresh"].tooltip = "No refresh token: log in again to renew it."
        self.buttons[name] = buttons
        row = widgets.VBox([details, widgets.HBox([countdown, *buttons.values()])],
                           layout=widgets.Layout(border="1px solid var(--jp-border-color2, #ddd)", padding="4px",
                                                 margin="2px 0", max_width="680px"))
        row.add_class("nb-oauth-token-row")
        row.add_class(f"nb-oauth-token-{css_name(name)}")
        return row

    def _button(self, label: str, name: str) -> widgets.Button:
        icons = {"Refresh": "refresh", "Revoke": "ban", "Delete": "trash"}
        button = widgets.Button(description=label, icon=icons[label], layout=widgets.Layout(width="auto"),
                                button_style="danger" if label == "Revoke" else "")
        button.add_class(f"nb-oauth-{label.lower()}")
        button.on_click(lambda _b: self.act(label.lower(), name))
        return button

    def _auto_refresh(self, name: str) -> bool:
        try:
            return self.store.config(name).auto_refresh
        except KeyError:
            return False

    def _can_refresh(self, name: str, token: Token) -> bool:
        if token.refresh_token:
            return True
        try:
            return self.store.config(name).grant_type == "client_credentials"
        except KeyError:
            return False

    def act(self, action: str, name: str) -> None:
        """Refresh, revoke or delete ``name``; the result (or the error) shows in the message line.

        Delete first asks: deleting only forgets the token here, so Revoke is offered beside it.
        """
        if action == "delete":
            self.offer_revoke(name)
            return
        self._start(action, name)

    def offer_revoke(self, name: str) -> None:
        self.message.value = (f"Delete only forgets <b>{html.escape(name)}</b> here: the server still accepts it "
                              "until it expires. Revoke it at the server instead?")
        choices = {"Revoke and delete": ("revoke", "danger"), "Delete only": ("delete", ""), "Keep": ("keep", "")}
        buttons = []
        for label, (action, style) in choices.items():
            button = widgets.Button(description=label, button_style=style, layout=widgets.Layout(width="auto"))
            button.add_class(f"nb-oauth-confirm-{action}")
            button.on_click(lambda _b, a=action: self._confirmed(a, name))
            buttons.append(button)
        self.confirm.children = buttons

    def _confirmed(self, action: str, name: str) -> None:
        self.confirm.children = []
        if action == "keep":
            self.message.value = f"Kept {html.escape(name)}."
            return
        self._start(action, name)

    def _start(self, action: str, name: str) -> None:
        for button in self.buttons.get(name, {}).values():
            button.disabled = True
        doing = {"refresh": "Refreshing", "revoke": "Revoking", "delete": "Deleting"}[action]
        self.message.value = f"{doing} {html.escape(name)}…"
        self.background(lambda: self._do(action, name), f"nb_oauth-form-{action}")

    def _do(self, action: str, name: str) -> None:
        try:
            text = getattr(self, f"_{action}")(name)
            self.message.value = f"<span style='{OK_STYLE}'>✔ {html.escape(text)}</span>"
        except OAuthError as exc:
            self.message.value = (f"<span style='{ERROR_STYLE}'>✖ {action.capitalize()} failed — "
                                  f"<b>{type(exc).__name__}</b>: {html.escape(str(exc))}</span>")
        except KeyError as exc:
            self.message.value = f"<span style='{ERROR_STYLE}'>✖ {html.escape(str(exc.args[0]))}</span>"
        except Exception as exc:  # a button must never leave a traceback behind
            self.message.value = (f"<span style='{ERROR_STYLE}'>✖ {action.capitalize()} failed unexpectedly: "
                                  f"{html.escape(type(exc).__name__)}</span>")
        finally:
            self.reload()
            self.on_change()

    def _refresh(self, name: str) -> str:
        token = self.store.refresh(name)
        return f"Token {name!r} refreshed: {mask(token.access_token)}, {token.expiry_text()}."

    def _revoke(self, name: str) -> str:
        self.store.revoke(name)
        return f"Token {name!r} revoked at the server and removed from nb_oauth."

    def _delete(self, name: str) -> str:
        self.store.delete(name)
        return (f"Token {name!r} deleted from nb_oauth. It was not revoked: the server still accepts it until it "
                "expires.")


def _live_reload(manager: TokenManager) -> Callable[[str], None]:
    """A store listener that holds the manager weakly (a form that is gone stops listening)."""
    ref = weakref.ref(manager)

    def changed(name: str) -> None:
        target = ref()
        if target is None:
            return
        target._store_changed(name)

    return changed


def token_summary(token: Token) -> str:
    """One token's details, masked."""
    items = [
        ("Access Token", mask(token.access_token)),
        ("Token Type", token.token_type or "—"),
        ("Refresh Token", mask(token.refresh_token) if token.refresh_token else "none"),
        ("ID Token", mask(token.id_token) if token.id_token else "none"),
        ("Scope", token.scope or "—"),
        ("Expires at", f"{token.expires_at:%Y-%m-%d %H:%M:%S} UTC" if token.expires_at else "unknown"),
    ]
    if token.scope_narrowed:
        items.append(("Not granted", " ".join(token.scope_narrowed)))
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{k}</th>"
                    f"<td style='text-align:left'><code>{html.escape(str(v))}</code></td></tr>" for k, v in items)
    return (f"<b class='nb-oauth-token-name'>{html.escape(token.token_name or '')}</b>"
            f"<table style='font-size:90%'>{cells}</table>")


def css_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
