"""What ``%oauth_token`` does: get, reuse, paste, list and manage tokens, and bind them to variables."""

from __future__ import annotations

import argparse
import html
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from .._store import tokens
from ..config import OAuth2Config
from ..errors import ConfigError, OAuthError, RedirectURLNeeded
from .line_secrets import reset as _reset_line_secrets
from .line_secrets import warn_literal_secrets
from .magic_details import failed_traces as _failed_traces
from .magic_details import show_details as _show_details
from .magic_details import show_trace as _show_trace
from .magic_options import config_changes
from .ui import valid_var

# -- state kept between magic calls -------------------------------------------------------------------

_pending: dict[str, tuple[Any, str | None]] = {}  # paste-mode flows waiting for %oauth_token NAME --paste URL


def reset_state() -> None:
    """Forget waiting paste-mode logins, failed traces and imported configs (tests start clean)."""
    _pending.clear()
    _failed_traces.clear()
    _imported.clear()
    _reset_line_secrets()


def _expiry(token: Any) -> str:
    return token.expiry_text() if hasattr(token, "expiry_text") else ""


# -- %oauth_token -------------------------------------------------------------------------------------


def show_form() -> None:
    try:
        from .form import TokenForm
    except ImportError as exc:
        from .ui import show_error

        missing = "ipywidgets" if "ipywidgets" in str(exc) else "the form"
        show_error(f"The configuration form is not available ({missing} cannot be imported: {exc}).",
                   title="No form")
        return None
    display(TokenForm().widget())
    return None


ACTIONS = ("list", "show", "refresh", "revoke", "delete", "paste")


def run_oauth_token(shell: Any, args: argparse.Namespace) -> Any:
    from .ui import show_error

    chosen = [a for a in ACTIONS if getattr(args, a)]
    if len(chosen) > 1:
        raise UsageError(f"Use one of --{', --'.join(chosen)} at a time.")
    if args.var is not None and not valid_var(args.var):
        raise UsageError(f"--var {args.var!r} is not a valid Python variable name.")
    action = chosen[0] if chosen else None
    warn_literal_secrets(args)
    if args.from_postman:
        imported = _import_postman(args.from_postman, args.environment)
        if imported is None or not args.name:
            return None
    elif args.environment:
        raise UsageError("--environment goes with --from-postman FILE.")
    if action == "list":
        return _list_tokens()
    if not args.name:
        raise UsageError("Give the token NAME, e.g. %oauth_token github --grant-type ... (or run %oauth_token "
                         "alone for the form).")
    name = args.name
    try:
        if action == "paste":
            return _finish_paste(shell, name, args.paste, args.var)
        if action is not None:
            return _manage(shell, action, name, args)
        changes = config_changes(args)
        if not changes and args.trace and not args.new:
            return _show_trace(name)
        token = _get_token(shell, name, changes, args)
    except KeyError as exc:
        show_error(exc.args[0] if exc.args else str(exc), title="Unknown token")
        return None
    except OAuthError as exc:
        show_error(str(exc), title=f"Token {name!r}", trace=exc.trace)
        return None
    if token is not None and args.trace:
        _show_trace(name)
    return token


def _list_tokens() -> None:
    from .ui import show_notice

    if not len(tokens):
        show_notice("No tokens yet. Get one with %oauth_token NAME --grant-type ... (or %oauth_token for the form).")
        return
    display(tokens)


def _manage(shell: Any, action: str, name: str, args: argparse.Namespace) -> Any:
    from .ui import show_success

    if action == "show":
        return _show_details(name)
    if action == "refresh":
        token = tokens.refresh(name)  # updated in place: variables bound to it see the new value
        if args.var:
            shell.user_ns[args.var] = token
        show_success(f"Token <b>{html.escape(name)}</b> refreshed: {html.escape(_expiry(token))}.",
                     f"Token {name!r} refreshed: {_expiry(token)}.")
        return None
    if action == "revoke":
        tokens.revoke(name)
        show_success(f"Token <b>{html.escape(name)}</b> revoked at the server and removed from nb_oauth.",
                     f"Token {name!r} revoked at the server and removed from nb_oauth.")
        return None
    message = tokens.delete(name)
    show_success(html.escape(message), message)
    return None


def _reusable(name: str, cfg: OAuth2Config | None) -> Any:
    """The stored token when it was made from ``cfg`` (None: the stored config) and is still good."""
    from .ui import show_notice

    if name not in tokens and cfg is not None and cfg.share:
        try:  # another kernel of this user may already hold this token (Share access token)
            tokens.load_shared(cfg)
        except OAuthError as exc:
            show_notice(f"The shared token store could not be read ({exc}); getting a new token.")
    if name not in tokens or (cfg is not None and tokens.config(name) != cfg):
        return None
    token = tokens[name]
    try:
        tokens.current(name)  # refreshes first when due (and auto-refresh is on)
    except OAuthError as exc:
        show_notice(f"The stored token {name!r} could not be renewed ({exc}); getting a new one.")
        return None
    return None if token.expired else token


#: Configs imported from Postman collections, by token name (used when no token of that name is stored).
_imported: dict[str, OAuth2Config] = {}


def _import_postman(path: str, environment: str | None) -> Any:
    """Import a Postman collection's OAuth 2.0 configs and show what was (and was not) mapped."""
    from ..importers.postman import from_postman
    from .ui import show_error, show_warning

    try:
        imported = from_postman(path, environment)
    except OAuthError as exc:
        show_error(str(exc), title="Postman import")
        return None
    _imported.update(imported)
    display(imported)
    if not imported:
        show_warning(f"No OAuth 2.0 configuration found in {path}.")
    return imported


def _get_token(shell: Any, name: str, changes: dict[str, Any], args: argparse.Namespace) -> Any:
    from .ui import show_success

    if not changes and name not in tokens and name in _imported:
        return _get_imported(shell, name, args)
    if not changes and name not in tokens:
        raise ConfigError(f"No token named {name!r} yet, and no configuration was given.",
                          fix=f"Give the options, e.g. %oauth_token {name} --grant-type client_credentials "
                              "--access-token-url URL --client-id ID --client-secret {{SECRET}}; or run "
                              "%oauth_token alone for the form.")
    cfg = OAuth2Config(token_name=name, **changes) if changes else tokens.config(name)
    token = None if args.new else _reusable(name, cfg if changes else None)
    verb = "reused (still valid; --new forces a new one)"
    if token is None:
        token = _run_flow(name, cfg, args.var)
        if token is None:
            return None
        verb = "obtained"
    where = _bind(shell, name, args.var, token)
    show_success(f"Token <b>{html.escape(name)}</b> {html.escape(verb)}: {html.escape(_expiry(token))}. {where[0]}",
                 f"Token {name!r} {verb}: {_expiry(token)}. {where[1]}")
    return token


def _get_imported(shell: Any, name: str, args: argparse.Namespace) -> Any:
    from .ui import show_success

    token = _run_flow(name, _imported[name], args.var)
    if token is None:
        return None
    where = _bind(shell, name, args.var, token)
    show_success(f"Token <b>{html.escape(name)}</b> obtained (Postman config): {html.escape(_expiry(token))}. "
                 f"{where[0]}", f"Token {name!r} obtained (Postman config): {_expiry(token)}. {where[1]}")
    return token


def _run_flow(name: str, cfg: OAuth2Config, var: str | None) -> Any:
    """Run the grant with the notebook presenter; errors are shown, not raised."""
    from .._flows import PendingFlow
    from .._presenter import use_presenter
    from .ui import NotebookPresenter, show_error

    presenter = NotebookPresenter()
    flow = PendingFlow(cfg)
    _pending.pop(name, None)
    try:
        with use_presenter(presenter):
            return flow.wait()
    except KeyboardInterrupt:
        flow.cancel()
        if flow.redirect is not None:
            flow.redirect.close()  # however early the interrupt came, the port is released
        _failed_traces[name] = flow.trace
        show_error(f"The login for {name!r} was interrupted; nothing was stored and the callback port was released. "
                   "Earlier tokens are unchanged.", title="Cancelled")
    except OAuthError as exc:
        _failed_traces[name] = flow.trace
        if isinstance(exc, RedirectURLNeeded):
            _pending[name] = (flow, var)
            _show_paste_hint(name)
        else:
            show_error(str(exc), title=f"Could not get token {name!r}", trace=flow.trace)
    finally:
        presenter.finished()
    return None


def _show_paste_hint(name: str) -> None:
    from .ui import mark_failed, show_warning

    mark_failed()  # the token is not there yet: the cell stops, so later cells do not run without it
    show_warning(f"Login {name!r} is waiting for the address the browser landed on. After logging in, run:  "
                 f"%oauth_token {name} --paste '<the whole redirected URL>'  (or use --grant-type device_code).")


def _finish_paste(shell: Any, name: str, url: str, var: str | None) -> Any:
    from .ui import show_success

    if name not in _pending:
        raise ConfigError(f"No login named {name!r} is waiting for a pasted URL.",
                          fix=f"Start it first with %oauth_token {name} ... ; the link to open is shown there.")
    flow, first_var = _pending[name]
    try:
        token = flow.complete(url)
    except OAuthError:
        _failed_traces[name] = flow.trace
        raise
    _pending.pop(name, None)
    where = _bind(shell, name, var or first_var, token)
    show_success(f"Token <b>{html.escape(name)}</b> obtained: {html.escape(_expiry(token))}. {where[0]}",
                 f"Token {name!r} obtained: {_expiry(token)}. {where[1]}")
    return token


def _bind(shell: Any, name: str, var: str | None, token: Any) -> tuple[str, str]:
    """Bind the token to VAR (default NAME when it is a Python name); the HTML and text saying where."""
    target = var or (name if valid_var(name) else None)
    if target is None:
        text = (f"Not bound to a variable: {name!r} is not a Python name (add --var VAR); "
                f"nb_oauth.tokens[{name!r}] holds it.")
        return html.escape(text), text
    shell.user_ns[target] = token
    return f"Bound to <code>{html.escape(target)}</code>.", f"Bound to {target}."
