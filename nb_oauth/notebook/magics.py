"""The IPython magics: ``%oauth_token`` (get, reuse and manage tokens) and ``%%authrequest`` (call an API).

``%load_ext nb_oauth`` registers them. Loading is cheap: ipywidgets, pandas and httpx are
imported only when a feature needs them. The ``%oauth_token`` options are generated from
:class:`~nb_oauth.config.OAuth2Config`'s fields, so a new config field is a new option with no
other change here.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Callable
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

from ..config import placeholders
from . import exc_guard
from .magic_options import (
    with_config_options,
)

# What the magics run (grants, the listener, the browser, widgets) is imported when a magic runs, not
# when ``%load_ext`` registers them: loading the extension stays about as cheap as importing requests-oauthlib.

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
        from .magic_token import run_oauth_token, show_form

        if not line.strip():
            return show_form()
        args = _parse(self.oauth_token, line)
        return _stop_cell_on_error(lambda: run_oauth_token(self.shell, args))

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
        from .authrequest import run_authrequest

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
        import difflib

        unknown = re.findall(r"(--[\w-]+)", str(exc))
        hints = [m for w in unknown for m in difflib.get_close_matches(w, _option_strings(func), n=1)]
        suffix = f" Did you mean {', '.join(hints)}?" if hints and "unrecognized" in str(exc) else ""
        raise UsageError(f"{exc}.{suffix} See {escape}{func.__name__}? for every option.") from None


OAuthMagics.oauth_token.parser.allow_abbrev = False
OAuthMagics.authrequest.parser.allow_abbrev = False


# -- loading ------------------------------------------------------------------------------------------


def load_ipython_extension(ip: Any) -> None:
    """Register the magics and let ``{{NAME}}`` read the notebook's variables."""
    ip.register_magics(OAuthMagics)
    placeholders.set_namespace(lambda: ip.user_ns)
    exc_guard.install(ip)


def unload_ipython_extension(ip: Any) -> None:
    """Remove the magics (``%reload_ext nb_oauth`` then registers fresh ones)."""
    manager = ip.magics_manager
    manager.magics["line"].pop("oauth_token", None)
    manager.magics["cell"].pop("authrequest", None)
    manager.registry.pop(OAuthMagics.__name__, None)
    placeholders.set_namespace(None)
    exc_guard.uninstall(ip)
