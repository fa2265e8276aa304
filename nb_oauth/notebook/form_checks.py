"""The form's checks before anything starts, and how it fills its fields from what it was given."""

from __future__ import annotations

import dataclasses
import difflib
import html
import re
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from ..config import OAuth2Config
from ..errors import ConfigError
from .form_fields import FieldRow

if TYPE_CHECKING:
    from .form import TokenForm

__all__ = ["check_field_names", "discover_into", "error_html", "fields_named_in", "forget_typed_values", "precheck",
           "prefill", "typed_memory", "user_namespace"]


def check_field_names(fields: dict[str, Any]) -> None:
    known = [f.name for f in dataclasses.fields(OAuth2Config)]
    for name in fields:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TypeError(f"TokenForm got an unknown field {name!r}.{hint}")


def prefill(config: OAuth2Config | None, fields: dict[str, Any]) -> tuple[OAuth2Config, dict[str, Any],
                                                                             ConfigError | None]:
    """The valid base config, the values to show, and the problem with the given ones (if any)."""
    base = config if config is not None else OAuth2Config()
    shown = {f.name: getattr(base, f.name) for f in dataclasses.fields(OAuth2Config)}
    try:
        merged = base.copy(**fields) if fields else base
    except ConfigError as exc:
        shown.update(fields)
        return base, shown, exc
    values = {f.name: getattr(merged, f.name) for f in dataclasses.fields(OAuth2Config)}
    # The box means "open the login tab from this page when I click": right on any machine, remote
    # kernels included, so it starts ticked unless the caller said otherwise (a config resolves its
    # own default from where the kernel runs, which concerns the kernel's browser, not this page).
    values["authorize_using_browser"] = fields.get("authorize_using_browser")
    return merged, values, None


#: What was typed into a remembering form, by notebook cell, then by field (never a secret): the form
#: of a re-run cell shows it again.
_typed: dict[str, dict[str, Any]] = {}


def forget_typed_values() -> None:
    _typed.clear()


def typed_memory() -> dict[str, Any]:
    """This cell's memory of what was typed into its form (filled by the form as the user types)."""
    return _typed.setdefault(_cell_key(), {})


def _cell_key() -> str:
    """The running cell's id where the front end sends one (JupyterLab, Notebook 7), else one shared key."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent() if kernel is not None else {}
        return str((parent.get("metadata") or {}).get("cellId") or "")
    except Exception:  # no kernel, an older kernel: one memory for the notebook
        return ""


def precheck(cfg: OAuth2Config, variables: MutableMapping[str, Any]) -> None:
    """The checks that need no network, at once: the error then shows before anything starts."""
    filled = cfg.with_placeholders_filled(variables)
    if not filled.issuer:
        filled.check_complete()


def fields_named_in(message: str, rows: dict[str, FieldRow]) -> list[str]:
    """The fields a config error is about (the part before its fix)."""
    cause = message.split(" Fix:")[0]
    return [name for name in rows if re.search(rf"\b{re.escape(name)}\b", cause)]


def error_html(text: str) -> str:
    return f"<span style='color:var(--jp-error-color1,#d32f2f)'>✖ {html.escape(text)}</span>"


def user_namespace() -> MutableMapping[str, Any]:
    """The notebook's variables, or a private dict outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def discover_into(form: TokenForm) -> None:
    """The form's Discover button: fill its empty endpoint URLs from the issuer's metadata (in the background)."""
    issuer = form.rows["issuer"].get()
    form.rows["issuer"].clear_error()
    if not issuer:
        form.discover_note.value = error_html("Enter the Issuer first, e.g. https://accounts.example.com.")
        return
    form.discover_note.value = "Reading the discovery document…"
    allow_http = bool(form.rows["allow_insecure_http"].get())
    form._background(lambda: _discover(form, issuer, allow_http), "nb_oauth-form-discover")


def _discover(form: TokenForm, issuer: str, allow_http: bool) -> None:
    from urllib.parse import urlsplit

    from ..config import check_url, is_loopback_host, placeholders
    from ..errors import OAuthError
    from ..oidc import discovery

    try:
        url = placeholders.fill(issuer, form.namespace, where="issuer")
        check_url("issuer", url, allow_http=allow_http)
        doc = discovery.metadata(url, allow_http=allow_http or is_loopback_host(urlsplit(url).hostname))
    except OAuthError as exc:
        form.discover_note.value = error_html(str(exc))
        return
    filled = []
    for name, key in discovery.FIELD_KEYS.items():
        row = form.rows.get(name)
        if row is not None and not row.get() and isinstance(doc.get(key), str):
            row.set(doc[key])
            filled.append(row.label)
    form.discover_note.value = ("✔ Filled from the discovery document: " + html.escape(", ".join(filled)) + "."
                                if filled else "✔ Nothing to fill: every URL the issuer lists is already set.")
