"""nb_oauth — Postman-grade OAuth 2.0 inside Jupyter.

The core (this package without :mod:`nb_oauth.notebook.magics` and :mod:`nb_oauth.notebook.form`) imports
nothing from IPython or ipywidgets and works in plain Python::

    import nb_oauth
    cfg = nb_oauth.OAuth2Config(token_name="demo", grant_type="client_credentials", ...)
    token = nb_oauth.get_new_access_token(cfg)
    nb_oauth.session("demo").get("https://api.example/me")

In a notebook: ``%load_ext nb_oauth``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._auth import OAuth2Auth, auth_for, session_for
from ._store import TokenExpiredError, TokenStore, tokens
from ._token import Token
from .config import GRANT_TYPES, OAuth2Config
from .errors import (
    AuthorizationDeniedError,
    ConfigError,
    DiscoveryError,
    FlowCancelledError,
    FlowTimeoutError,
    IDTokenError,
    InvalidTokenResponseError,
    ListenerError,
    NetworkError,
    OAuthError,
    RedirectURLNeeded,
    RefreshError,
    RevocationError,
    StateMismatchError,
    StoreError,
    TokenEndpointError,
)

if TYPE_CHECKING:
    import requests

    from . import dask as dask  # loaded on first use, see __getattr__
    from ._flows import PendingFlow, get_new_access_token, start_flow

__version__ = "0.1.0"

from . import _log_guard

_log_guard.install()

__all__ = [
    "GRANT_TYPES",
    "AuthorizationDeniedError",
    "ConfigError",
    "DiscoveryError",
    "FlowCancelledError",
    "FlowTimeoutError",
    "IDTokenError",
    "InvalidTokenResponseError",
    "ListenerError",
    "NetworkError",
    "OAuth2Auth",
    "OAuth2Config",
    "OAuthError",
    "PendingFlow",
    "RedirectURLNeeded",
    "RefreshError",
    "RevocationError",
    "StateMismatchError",
    "StoreError",
    "Token",
    "TokenEndpointError",
    "TokenExpiredError",
    "TokenStore",
    "auth",
    "form",
    "from_postman",
    "get_new_access_token",
    "load_ipython_extension",
    "session",
    "start_flow",
    "tokens",
    "unload_ipython_extension",
]


#: Loaded on first use, so ``import nb_oauth`` (and ``%load_ext nb_oauth``) does not load the grants, the
#: callback listener, ``webbrowser`` or ``subprocess`` before a flow starts.
_LAZY = {"PendingFlow": "._flows", "get_new_access_token": "._flows", "start_flow": "._flows"}


def __getattr__(name: str) -> Any:
    """The flow functions, and ``nb_oauth.dask`` (so ``import nb_oauth`` does not import Dask), on first use."""
    import importlib

    if name == "dask":
        return importlib.import_module(f"{__name__}.dask")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def session(name: str) -> requests.Session:
    """A ``requests.Session`` that sends token ``name``, refreshes it before it expires and retries once on a 401.

    In the kernel the token comes from :data:`tokens`; on a Dask worker, from the tokens the kernel
    shared with :func:`nb_oauth.dask.share`.
    """
    return session_for(name)


def auth(name: str) -> OAuth2Auth:
    """An auth object for ``requests`` (``auth=``) and ``httpx`` (``httpx.Client(auth=...)``, sync and async).

    Pickled (for instance into a Dask task), it carries the token's name, never the token.
    """
    return auth_for(name)


def from_postman(path: str, environment: str | None = None) -> dict[str, OAuth2Config]:
    """Every OAuth 2.0 auth block of a Postman collection export, as configs keyed by token name."""
    from .importers.postman import from_postman as _from_postman

    return _from_postman(path, environment)


def form(**kwargs: Any) -> Any:
    """The configuration form and token manager (needs ipywidgets)."""
    try:
        from .notebook.form import TokenForm
    except ImportError as exc:
        raise ImportError(f"The form needs the notebook extras ({exc}). Install them with: "
                          "pip install 'nb_oauth[notebook]'") from exc
    kwargs.setdefault("remember", True)  # a re-run cell keeps what was typed (never a secret)
    return TokenForm(**kwargs).widget()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext nb_oauth``: register the magics (the widget form loads only when shown)."""
    from .notebook.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook.magics import unload_ipython_extension as _unload

    _unload(ipython)
