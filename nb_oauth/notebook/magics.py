"""The IPython magics: ``%oauth_token`` (get, reuse and manage tokens) and ``%%authrequest`` (call an API).

``%load_ext nb_oauth`` registers them. Loading is cheap: ipywidgets, pandas and httpx are
imported only when a feature needs them. The ``%oauth_token`` options are generated from
:class:`~nb_oauth.config.OAuth2Config`'s fields, so a new config field is a new option with no
other change here.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import html
import re
import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import argument, argument_group, kwds, magic_arguments
from IPython.display import display

from .._store import tokens
from ..config import OAuth2Config, placeholders
from ..errors import ConfigError, OAuthError, RedirectURLNeeded, mask, redact
from .authrequest import run_authrequest
from .magic_options import (
    config_changes,
    with_config_options,
)
from .ui import token_secrets, valid_var

# -- state kept between magic calls -------------------------------------------------------------------

_pending: dict[str, tuple[Any, str | None]] = {}  # paste-mode flows waiting for %oauth_token NAME --paste URL
_failed_traces: dict[str, Any] = {}  # the trace of the last failed attempt per name, for --trace


def _expiry(token: Any) -> str:
    return token.expiry_text() if hasattr(token, "expiry_text") else ""


# -- the magics ---------------------------------------------------------------------------------------

OAUTH_TOKEN_DOC = """Get an OAuth 2.0 token (reusing a valid stored one) and bind it to a notebook variable.

    %oauth_token NAME --grant-type client_credentials --access-token-url {{TOKEN_URL}} \\
                      --client-id my-app --client-secret {{CLIENT_SECRET}} [--var VAR]
    %oauth_token NAME            # the stored token NAME again (refreshed when due)
    %oauth_token                 # the configuration form and token manager

The token is stored under NAME and bound to the variable VAR (default: NAME, when NAME is a
Python name). A stored token is reused while it is valid and was made from the same options;
--new forces a new one. Redirect logins show a link (and open the browser), then wait with a
countdown; interrupt the kernel to cancel. {{VARIABLE}} anywhere in the line is filled from
notebook variables, then the environment, so secrets stay out of the notebook.

Custom parameters: --token-request-param KEY=VALUE[:body|url|header] (repeatable; body is the
default; a value that itself ends in :url etc. needs an explicit place, e.g. KEY=a:url:body).
Lists repeat the option: --audience A --audience B.

Management: --list, --show NAME, --trace NAME, --refresh NAME, --revoke NAME, --delete NAME,
--paste URL (finish a login where the redirect cannot reach the kernel).

Postman: %oauth_token --from-postman collection.json [--environment env.json] imports every OAuth 2.0
config of the collection (and reports what it could not map); %oauth_token NAME then gets that
token, or give NAME in the same line to get it right away.
"""

AUTHREQUEST_DOC = """Send the HTTP request written in the cell with token NAME and show the response.

    %%authrequest NAME [--var VAR] [--as json|dataframe|text] [--timeout SECONDS]
    # comments (# or //) may precede the request line
    POST https://api.example/items HTTP/1.1
    Content-Type: application/json

    {"name": "{{ITEM}}"}

The first line is METHOD URL (or just URL for GET); header lines `Name: value` follow, then a
blank line and the body. Lines starting with ? or & right after the request line continue the
query. {{VARIABLE}} is filled from notebook variables, then the environment. The token is
added (and refreshed) as its config says. The requests.Response is bound to VAR (default
`response`); with --as, the parsed body instead (a JSON value, the text, or a pandas DataFrame
of the records: a list of objects, or the first list inside a JSON object such as "items").
"""


def _doc(text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Set a magic's docstring (``%magic?`` shows it above the generated option list)."""
    def apply(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__doc__ = text
        return func
    return apply


@magics_class
class OAuthMagics(Magics):
    """``%oauth_token`` and ``%%authrequest``."""

    @no_var_expand
    @magic_arguments()
    @kwds(usage="%(prog)s [NAME] [--var VAR] [config options] [management option]")
    @argument("name", nargs="?", metavar="NAME", help="Token Name: the key in the token store.")
    @argument("--var", metavar="VAR", help="Notebook variable for the Token (default: NAME).")
    @argument("--new", action="store_true", help="Get a new token even if a valid one is stored.")
    @argument_group("Token management")
    @argument("--list", action="store_true", help="Show the stored tokens (masked).")
    @argument("--show", action="store_true", help="Details of token NAME: expiry, scope, decoded claims, config.")
    @argument("--trace", action="store_true", help="Show the steps of the flow behind token NAME (secrets masked).")
    @argument("--refresh", action="store_true", help="Refresh token NAME now.")
    @argument("--revoke", action="store_true", help="Revoke token NAME at the server (RFC 7009) and forget it.")
    @argument("--delete", action="store_true", help="Forget token NAME here (it is not revoked).")
    @argument("--paste", metavar="URL", help="Finish the waiting login of NAME with the address the browser landed on.")
    @argument_group("Postman")
    @argument("--from-postman", metavar="FILE", help="Import every OAuth 2.0 config of a Postman collection "
              "export; with NAME, get that token right away.")
    @argument("--environment", metavar="FILE", help="A Postman environment export filling the collection's {{vars}}.")
    @with_config_options
    @_doc(OAUTH_TOKEN_DOC)
    @line_magic
    def oauth_token(self, line: str = "") -> Any:
        if not line.strip():
            return _show_form()
        args = _parse(self.oauth_token, line)
        return _stop_cell_on_error(lambda: _run_oauth_token(self.shell, args))

    @no_var_expand
    @magic_arguments()
    @kwds(usage="%%%(prog)s NAME [--var VAR] [--as json|dataframe|text] [--timeout SECONDS]")
    @argument("name", metavar="NAME", help="The stored token to send.")
    @argument("--var", metavar="VAR", default=None, help="Variable for the result (default: response).")
    @argument("--as", dest="as_", choices=("response", "json", "dataframe", "text"), default="response",
              help="Bind the requests.Response (default), the JSON body, a pandas DataFrame, or the text.")
    @argument("--timeout", type=float, metavar="SECONDS", default=None,
              help="Seconds to wait for the API (default NB_OAUTH_HTTP_TIMEOUT or 30).")
    @_doc(AUTHREQUEST_DOC)
    @cell_magic
    def authrequest(self, line: str, cell: str = "") -> None:
        args = _parse(self.authrequest, line, "%%")
        _stop_cell_on_error(lambda: run_authrequest(self.shell, args, cell))


def _stop_cell_on_error(run: Callable[[], Any]) -> Any:
    """Run a magic; when it showed an error, fail the cell (one short line) so "Run All" stops there."""
    from . import ui as notebook_ui

    before = notebook_ui.errors_shown
    result = run()
    if notebook_ui.errors_shown > before:
        raise notebook_ui.CellStopped("nb_oauth stopped this cell; the reason is shown above.")
    return result


def _option_strings(func: Any) -> list[str]:
    return [s for action in func.parser._actions for s in action.option_strings]


def _parse(func: Any, line: str, escape: str = "%") -> argparse.Namespace:
    """Parse the magic line with shell quoting (quotes removed, ``#`` kept as text).

    An unknown option gets a "did you mean" from the real option names.
    """
    try:
        words = shlex.split(line, comments=False, posix=True)
    except ValueError as exc:
        raise UsageError(f"The line cannot be split into words ({exc}); check the quotes.") from None
    try:
        return func.parser.parse_args(words)
    except UsageError as exc:
        unknown = re.findall(r"(--[\w-]+)", str(exc))
        hints = [m for w in unknown for m in difflib.get_close_matches(w, _option_strings(func), n=1)]
        suffix = f" Did you mean {', '.join(hints)}?" if hints and "unrecognized" in str(exc) else ""
        raise UsageError(f"{exc}.{suffix} See {escape}{func.__name__}? for every option.") from None


OAuthMagics.oauth_token.parser.allow_abbrev = False
OAuthMagics.authrequest.parser.allow_abbrev = False


# -- %oauth_token -------------------------------------------------------------------------------------


def _show_form() -> None:
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


def _run_oauth_token(shell: Any, args: argparse.Namespace) -> Any:
    from .ui import show_error

    chosen = [a for a in ACTIONS if getattr(args, a)]
    if len(chosen) > 1:
        raise UsageError(f"Use one of --{', --'.join(chosen)} at a time.")
    if args.var is not None and not valid_var(args.var):
        raise UsageError(f"--var {args.var!r} is not a valid Python variable name.")
    action = chosen[0] if chosen else None
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


# -- --show and --trace -------------------------------------------------------------------------------

TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time", "updated_at")


def _claim_value(key: str, value: Any) -> str:
    if key in TIME_CLAIMS and isinstance(value, int | float) and not isinstance(value, bool):
        when = datetime.fromtimestamp(value, UTC)
        return f"{value}  ({when:%Y-%m-%d %H:%M:%S} UTC)"
    return str(value)


def _rows(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'><code>{html.escape(v)}</code></td></tr>" for k, v in pairs)


def _config_rows(cfg: OAuth2Config) -> list[tuple[str, str]]:
    """The options that differ from the defaults, secrets masked, labelled as in Postman."""
    data = cfg.to_dict()
    rows = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        if value == default or value is None:
            continue
        shown = data[f.name] if data[f.name] is not None else mask(str(value))
        rows.append((f.metadata.get("label", f.name), str(shown)))
    return rows


def _show_details(name: str) -> None:
    token = tokens[name]
    secrets = token_secrets(name)
    claims = [(k, redact(_claim_value(k, v), secrets)) for k, v in token.claims.items()]
    info = [("Obtained", f"{token.obtained_at:%Y-%m-%d %H:%M:%S} UTC"),
            ("Refreshed", f"{tokens.refresh_count(name)} time(s)")]
    parts = [token._repr_html_(), f"<table>{_rows(info)}</table>"]
    plain = [repr(token)] + [f"{k}: {v}" for k, v in info]
    if claims:
        parts.append("<details open><summary>Claims (decoded, not verified here)</summary>"
                     f"<table>{_rows(claims)}</table></details>")
        plain += ["Claims:"] + [f"  {k}: {v}" for k, v in claims]
    config_rows = [(k, redact(v, secrets)) for k, v in _config_rows(tokens.config(name))]
    parts.append(f"<details><summary>Configuration</summary><table>{_rows(config_rows)}</table></details>")
    plain += ["Configuration:"] + [f"  {k}: {v}" for k, v in config_rows]
    display({"text/html": "".join(parts), "text/plain": "\n".join(plain)}, raw=True)


def _show_trace(name: str) -> None:
    from .ui import show_notice

    token = tokens.get(name)
    trace = token.trace if token is not None else _failed_traces.get(name)
    if trace is None:
        if token is None:
            raise KeyError(f"No token named {name!r} and no failed attempt to show.")
        show_notice(f"Token {name!r} has no recorded trace.")
        return
    display(trace)



# -- loading ------------------------------------------------------------------------------------------


def load_ipython_extension(ip: Any) -> None:
    """Register the magics and let ``{{NAME}}`` read the notebook's variables."""
    ip.register_magics(OAuthMagics)
    placeholders.set_namespace(lambda: ip.user_ns)


def unload_ipython_extension(ip: Any) -> None:
    """Remove the magics (``%reload_ext nb_oauth`` then registers fresh ones)."""
    manager = ip.magics_manager
    manager.magics["line"].pop("oauth_token", None)
    manager.magics["cell"].pop("authrequest", None)
    manager.registry.pop(OAuthMagics.__name__, None)
    placeholders.set_namespace(None)
