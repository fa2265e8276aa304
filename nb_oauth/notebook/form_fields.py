"""The form's input rows: one per config field, Postman's label on each.

A row knows how to show its field's value, read it back as the config wants it, whether it
applies to a grant type, and how to show a config error next to itself.  Secrets never stay in
a widget: :class:`SecretRow` moves what is typed into the kernel as soon as the field is left.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import ipywidgets as widgets

from ..config import GRANT_TYPES, REDIRECT_GRANTS, SEND_AS, field_labels
from ..config.placeholders import has_placeholder

DESCRIPTION_WIDTH = "180px"
ROW_LAYOUT = {"width": "calc(100% - 8px)", "max_width": "680px"}

GRANT_LABELS: dict[str, str] = {
    "authorization_code": "Authorization Code",
    "authorization_code_with_pkce": "Authorization Code (With PKCE)",
    "implicit": "Implicit",
    "password_credentials": "Password Credentials",
    "client_credentials": "Client Credentials",
    "device_code": "Device Code",
}
CHOICES: dict[str, list[tuple[str, str]]] = {
    "grant_type": [(GRANT_LABELS[g], g) for g in GRANT_TYPES],
    "client_authentication": [("Send as Basic Auth header", "header"), ("Send client credentials in body", "body")],
    "code_challenge_method": [("SHA-256", "S256"), ("Plain", "plain")],
    "add_token_to": [("Request Headers", "header"), ("Request URL", "url")],
    "use_token_type": [("Access token", "access_token"), ("ID token", "id_token")],
}
SEND_AS_LABELS = [("Request Body", "body"), ("Request URL", "url"), ("Request Headers", "header")]
assert [v for _, v in SEND_AS_LABELS] == list(SEND_AS)

ALL = frozenset(GRANT_TYPES)
NOT_IMPLICIT = ALL - {"implicit"}
#: Which grants show a field (fields not listed apply to every grant).
SHOWN_FOR: dict[str, frozenset[str]] = {
    "callback_url": REDIRECT_GRANTS,
    "authorize_using_browser": REDIRECT_GRANTS | {"device_code"},
    "auth_url": REDIRECT_GRANTS,
    "state": REDIRECT_GRANTS,
    "access_token_url": NOT_IMPLICIT,
    "device_authorization_url": frozenset({"device_code"}),
    "client_secret": NOT_IMPLICIT,
    "client_authentication": NOT_IMPLICIT,
    "code_challenge_method": frozenset({"authorization_code_with_pkce"}),
    "code_verifier": frozenset({"authorization_code_with_pkce"}),
    "username": frozenset({"password_credentials"}),
    "password": frozenset({"password_credentials"}),
    "refresh_token_url": NOT_IMPLICIT,
    "auth_request_params": REDIRECT_GRANTS | {"device_code"},
    "token_request_params": NOT_IMPLICIT,
    "refresh_request_params": NOT_IMPLICIT,
}
PLACEHOLDERS: dict[str, str] = {
    "token_name": "the name to keep the token under",
    "callback_url": "empty: a kernel-local listener http://127.0.0.1:<port>/callback",
    "auth_url": "https://idp.example/authorize",
    "access_token_url": "https://idp.example/token",
    "refresh_token_url": "empty: same as Access Token URL",
    "device_authorization_url": "https://idp.example/device/code",
    "revocation_url": "https://idp.example/revoke",
    "issuer": "https://idp.example (fills the URLs left empty)",
    "scope": "space-separated, e.g. openid offline_access",
    "state": "empty: a fresh random value each time",
    "code_verifier": "empty: generated (43–128 characters)",
    "audience": "space-separated URIs",
    "resource": "space-separated URIs",
}
KEPT_IN_KERNEL = "•••• (kept in the kernel)"

LABELS = field_labels()


def style() -> dict[str, str]:
    return {"description_width": DESCRIPTION_WIDTH}


def layout(**extra: str) -> widgets.Layout:
    return widgets.Layout(**{**ROW_LAYOUT, **extra})


def set_visible(widget: widgets.Widget, visible: bool) -> None:
    widget.layout.display = None if visible else "none"


def is_visible(widget: widgets.Widget) -> bool:
    return widget.layout.display != "none"


class FieldRow:
    """One config field: its input widget, an error line under it, and show/hide by grant."""

    def __init__(self, name: str, control: widgets.Widget, *, extra: Iterable[widgets.Widget] = ()) -> None:
        self.name = name
        self.label = LABELS.get(name, name)
        self.control = control
        self.error = widgets.HTML("", layout=widgets.Layout(display="none"))
        self.error.add_class("nb-oauth-field-error")
        line = widgets.HBox([control, *extra], layout=layout()) if extra else control
        self.box = widgets.VBox([line, self.error], layout=layout())
        self.box.add_class(f"nb-oauth-field-{name.replace('_', '-')}")

    def applies_to(self, grant: str) -> bool:
        return grant in SHOWN_FOR.get(self.name, ALL)

    @property
    def visible(self) -> bool:
        return is_visible(self.box)

    def show(self, visible: bool) -> None:
        set_visible(self.box, visible)

    def get(self) -> Any:
        value = self.control.value
        return value.strip() or None if isinstance(value, str) else value

    def set(self, value: Any) -> None:
        self.control.value = "" if value is None else value

    def show_error(self, message: str) -> None:
        self.error.value = f"⚠ {html.escape(message)}"
        self.error.layout.display = None

    def clear_error(self) -> None:
        self.error.value = ""
        self.error.layout.display = "none"


class TextRow(FieldRow):
    def __init__(self, name: str, *, extra: Iterable[widgets.Widget] = ()) -> None:
        control = widgets.Text(description=self_label(name), placeholder=PLACEHOLDERS.get(name, ""),
                               style=style(), layout=layout(flex="1 1 auto"))
        super().__init__(name, control, extra=extra)


class ListRow(FieldRow):
    """Audience / Resource: a list of URIs, typed space-separated."""

    def __init__(self, name: str) -> None:
        control = widgets.Text(description=self_label(name), placeholder=PLACEHOLDERS.get(name, ""),
                               style=style(), layout=layout())
        super().__init__(name, control)

    def get(self) -> list[str]:
        return self.control.value.split()

    def set(self, value: Any) -> None:
        self.control.value = value if isinstance(value, str) else " ".join(value or [])


class ChoiceRow(FieldRow):
    def __init__(self, name: str) -> None:
        control = widgets.Dropdown(description=self_label(name), options=CHOICES[name], style=style(),
                                   layout=layout(width="auto", max_width="520px"))
        super().__init__(name, control)

    def set(self, value: Any) -> None:
        if value in [v for _, v in CHOICES[self.name]]:
            self.control.value = value


class BoolRow(FieldRow):
    def __init__(self, name: str, *, tooltip: str = "") -> None:
        control = widgets.Checkbox(description=self_label(name), indent=True, style=style(), tooltip=tooltip,
                                   layout=layout())
        super().__init__(name, control)

    def set(self, value: Any) -> None:
        self.control.value = bool(value)


class BrowserRow(BoolRow):
    """Authorize using browser: ticked means "open the login page in a new tab for me".

    Left as it was, it keeps the config's own default (``None``: open where the kernel and the
    browser share the machine), so the form does not turn a default into an explicit choice.
    """

    def __init__(self) -> None:
        super().__init__("authorize_using_browser",
                         tooltip="Open the login page in a new browser tab when you click Get New Access Token")
        self.default = True
        self.control.observe(self._touched, names="value")

    def _touched(self, _change: Any) -> None:
        self.default = False

    def get(self) -> bool | None:
        return None if self.default and self.control.value else self.control.value

    def set(self, value: Any) -> None:
        self.control.value = True if value is None else bool(value)
        self.default = value is None


class SecretRow(FieldRow):
    """Client Secret, Password, Code Verifier: typed in a password box, then kept only in the kernel.

    ipywidgets saves every synced value with the notebook; a secret left in the box would be
    written to disk.  So the value is taken out of the widget as soon as it reaches the kernel
    (the box does not sync while typing) and only a placeholder says it is there.
    """

    def __init__(self, name: str) -> None:
        control = widgets.Password(description=self_label(name), placeholder=PLACEHOLDERS.get(name, ""),
                                   continuous_update=False, style=style(), layout=layout(flex="1 1 auto"))
        self.forget = widgets.Button(description="Forget", tooltip=f"Forget the {LABELS.get(name, name)} kept in "
                                     "the kernel", layout=widgets.Layout(width="auto", flex="0 0 auto", display="none"))
        self.forget.add_class("nb-oauth-forget-secret")
        super().__init__(name, control, extra=[self.forget])
        self._secret: str | None = None
        self._empty_placeholder = control.placeholder
        control.observe(self._take, names="value")
        self.forget.on_click(lambda _b: self.set(None))

    def _take(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._keep(change["new"])
            self.control.value = ""

    def _keep(self, value: str | None) -> None:
        self._secret = value or None
        if self._secret is None:
            self.control.placeholder = self._empty_placeholder
        elif has_placeholder(self._secret):
            self.control.placeholder = f"{self._secret} (filled at use time)"
        else:
            self.control.placeholder = KEPT_IN_KERNEL
        self.forget.layout.display = None if self._secret else "none"

    def get(self) -> str | None:
        if self.control.value:
            self._take({"new": self.control.value})
        return self._secret

    def set(self, value: Any) -> None:
        self.control.value = ""
        self._keep(value if isinstance(value, str) else None)


class ParamsEditor(FieldRow):
    """Auth / Token / Refresh Request: custom parameter rows of key, value and where to send it.

    A header parameter's value is a secret (API keys travel there): like a :class:`SecretRow`, a
    literal value is taken out of the widget once it reaches the kernel, so the saved widget state
    never holds it; a ``{{VAR}}`` placeholder stays visible.
    """

    def __init__(self, name: str) -> None:
        self.rows = widgets.VBox([])
        self.add = widgets.Button(description="Add parameter", icon="plus",
                                  layout=widgets.Layout(width="auto", align_self="flex-start"))
        self.add.add_class("nb-oauth-add-param")
        self.add.on_click(lambda _b: self.add_row())
        heading = widgets.HTML(f"<b>{html.escape(LABELS.get(name, name))}</b>")
        heading.add_class("nb-oauth-heading")
        control = widgets.VBox([heading, self.rows, self.add], layout=layout())
        super().__init__(name, control)
        self._kept: dict[int, str] = {}  # row -> a header value kept out of the widget

    def add_row(self, key: str = "", value: str = "", send_as: str = "body") -> None:
        k = widgets.Text(value=key, placeholder="Key", layout=widgets.Layout(width="30%"))
        v = widgets.Text(value="", placeholder="Value", continuous_update=False, layout=widgets.Layout(width="40%"))
        s = widgets.Dropdown(options=SEND_AS_LABELS, value=send_as if send_as in SEND_AS else "body",
                             layout=widgets.Layout(width="auto"))
        remove = widgets.Button(icon="times", tooltip="Remove this parameter", layout=widgets.Layout(width="32px"))
        remove.add_class("nb-oauth-remove-param")
        row = widgets.HBox([k, v, s, remove])
        row.add_class("nb-oauth-param-row")
        remove.on_click(lambda _b: self._remove(row))
        v.observe(lambda _c: self._keep_header_value(row), names="value")
        s.observe(lambda _c: self._keep_header_value(row), names="value")
        v.value = value
        self.rows.children = (*self.rows.children, row)

    def _keep_header_value(self, row: widgets.HBox) -> None:
        """A literal header value moves from the widget into the kernel (it is a secret)."""
        value_box, send_as = row.children[1], row.children[2].value
        value = value_box.value
        if send_as == "header" and value and not has_placeholder(value):
            self._kept[id(row)] = value
            value_box.value = ""
            value_box.placeholder = KEPT_IN_KERNEL
        elif value:
            self._kept.pop(id(row), None)
            value_box.placeholder = "Value"

    def _remove(self, row: widgets.HBox) -> None:
        self._kept.pop(id(row), None)
        self.rows.children = tuple(r for r in self.rows.children if r is not row)

    def get(self) -> list[tuple[str, str, str]]:
        out = []
        for row in self.rows.children:
            key, value, send_as = (w.value for w in row.children[:3])
            value = value or self._kept.get(id(row), "")
            if key.strip() or value:
                out.append((key, value, send_as))
        return out

    def set(self, value: Any) -> None:
        self.rows.children = ()
        self._kept.clear()
        for item in _param_items(value):
            self.add_row(*item)


def _param_items(value: Any) -> list[tuple[str, str, str]]:
    """Best effort for prefilling; the config itself validates on use."""
    from ..config import normalise_params
    from ..errors import ConfigError

    try:
        return normalise_params("params", value)
    except ConfigError:
        return []


def self_label(name: str) -> str:
    return LABELS.get(name, name)


def make_row(name: str) -> FieldRow:
    """The right kind of row for a config field."""
    if name in CHOICES:
        return ChoiceRow(name)
    if name == "authorize_using_browser":
        return BrowserRow()
    if name in ("auto_refresh", "share", "allow_insecure_http"):
        return BoolRow(name)
    if name in ("client_secret", "password", "code_verifier"):
        return SecretRow(name)
    if name.endswith("_request_params"):
        return ParamsEditor(name)
    if name in ("audience", "resource"):
        return ListRow(name)
    return TextRow(name)


def heading(text: str) -> widgets.HTML:
    h = widgets.HTML(f"<h4 style='margin:0.6em 0 0.2em 0'>{html.escape(text)}</h4>")
    h.add_class("nb-oauth-heading")
    return h


def section(title: str, rows: Sequence[FieldRow | widgets.Widget], css: str) -> widgets.VBox:
    box = widgets.VBox([heading(title), *[r.box if isinstance(r, FieldRow) else r for r in rows]])
    box.add_class(css)
    return box


def on_change(rows: Iterable[FieldRow], callback: Callable[[Any], None]) -> None:
    for row in rows:
        row.control.observe(callback, names="value")
