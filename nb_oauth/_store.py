"""The token store: Postman's "Available Tokens" and "Manage Tokens".

Each entry keeps the config as the user wrote it (placeholders unfilled, so no secret is kept
in it) and one live :class:`Token`.  Refreshing is single-flight per entry: however many
threads find the token expiring, one refresh request goes out and all of them use its result.
A failed refresh never replaces the token that was there.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import _log_guard
from ._auth import OAuth2Auth, auth_for, session_for, set_default_source
from ._token import Token, TokenSet
from .config import OAuth2Config
from .errors import OAuthError, RefreshError, RevocationError, StoreError

log = logging.getLogger("nb_oauth")

if TYPE_CHECKING:
    import requests

    from ._trace import Trace

#: After a failed refresh, callers within this many seconds get the same error without a new request.
FAILURE_HOLD_SECONDS = 2.0
#: Grants that get a new token without a refresh token (no user involved).
RENEWABLE_GRANTS = ("client_credentials", "token_exchange")


@dataclass
class _Entry:
    config: OAuth2Config
    token: Token
    lock: threading.Lock = field(default_factory=threading.Lock)
    refresh_count: int = 0
    last_failure: tuple[float, str, OAuthError] | None = None  # (when, access token it failed for, error)


class TokenExpiredError(RefreshError):
    """The token has expired and auto-refresh is off."""


class TokenStore:
    """Tokens by name: ``tokens["demo"]``, ``"demo" in tokens``, ``tokens.list()``, refresh, revoke, delete."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []

    # -- change notifications (what keeps a token manager's display live) ----------------------------

    def add_listener(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """``callback(name)`` after a token is stored, refreshed or forgotten; returns the remover."""
        with self._lock:
            self._listeners.append(callback)

        def remove() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    def _changed(self, name: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for callback in listeners:
            try:
                callback(name)
            except Exception:  # noqa: BLE001 - a display that cannot update must never break a refresh
                log.debug("a token store listener failed", exc_info=True)

    # -- mapping-like access -------------------------------------------------------------------------

    def _entry(self, name: str) -> _Entry:
        name = _name_of(name)
        with self._lock:
            entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(sorted(self._entries)) or "none yet"
            raise KeyError(f"No token named {name!r} (stored: {known}). Get one with %oauth_token {name} "
                           f"or nb_oauth.get_new_access_token(config).")
        return entry

    def __getitem__(self, name: str) -> Token:
        return self._entry(name).token

    def __contains__(self, name: object) -> bool:
        if isinstance(name, Token):
            name = name.token_name
        with self._lock:
            return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._entries))

    def names(self) -> list[str]:
        return list(self)

    def list(self) -> list[Token]:
        with self._lock:
            return [e.token for e in self._entries.values()]

    def get(self, name: str, default: Token | None = None) -> Token | None:
        try:
            return self[name]
        except KeyError:
            return default

    def config(self, name: str) -> OAuth2Config:
        return self._entry(name).config

    def refresh_count(self, name: str) -> int:
        return self._entry(name).refresh_count

    # -- adding --------------------------------------------------------------------------------------

    def put(self, cfg: OAuth2Config, token_set: TokenSet, trace: Trace | None = None) -> Token:
        """Store a new token set under ``cfg.token_name``; an existing Token object is updated in place."""
        name = cfg.token_name
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                entry = _Entry(cfg, Token(token_set, name, trace, owner=self))
                self._entries[name] = entry
            else:
                entry.config = cfg
                entry.token.trace = trace or entry.token.trace
                entry.token._swap(token_set)
                entry.last_failure = None
        self._persist(entry)
        self._changed(name)
        return entry.token

    def _persist(self, entry: _Entry) -> None:
        """Share a new login with the user's other kernels; a store that cannot be written only warns."""
        if not entry.config.share:
            return
        from ._presenter import presenter
        from .sharing import shared

        try:
            shared.save(entry.config, entry.token.token_set)
        except StoreError as exc:
            presenter().notice(f"The token works here but could not be shared with other kernels: {exc}")

    def load_shared(self, cfg: OAuth2Config) -> Token | None:
        """A token another kernel shared under this config (``share=True``), stored here too; else None."""
        if not cfg.share:
            return None
        from .sharing import shared

        token_set = shared.load(cfg)
        if token_set is None:
            return None
        left = token_set.seconds_left()
        if left is not None and left <= 0 and not token_set.refresh_token:
            return None
        return self.put(cfg, token_set)

    # -- refreshing ----------------------------------------------------------------------------------

    def current(self, name: str) -> TokenSet:
        """The token set to send now: refreshed first when it is (nearly) expired and auto-refresh is on."""
        entry = self._entry(name)
        token_set = entry.token.token_set
        leeway = entry.config.refresh_leeway
        due = token_set.refresh_due_at(leeway)
        if due is None or time.time() < due:
            return token_set
        if not entry.config.auto_refresh:
            if token_set.seconds_left() is not None and token_set.seconds_left() <= 0:  # type: ignore[operator]
                raise TokenExpiredError(f"Token {name!r} has expired and auto-refresh is off.",
                                        fix=f"Refresh it with tokens.refresh({name!r}), or turn auto_refresh on.")
            return token_set
        left = token_set.seconds_left()
        if not token_set.refresh_token and entry.config.grant_type not in RENEWABLE_GRANTS and left is not None \
                and left > 0:
            return token_set  # nothing to renew it with: it is still valid, so use it until it expires
        try:
            return self._refresh(entry, only_if=lambda ts: ts.needs_refresh(leeway))
        except OAuthError:
            current = entry.token.token_set
            left = current.seconds_left()
            if left is not None and left > 0:
                return current  # an early refresh failed; the token itself is still valid (retried after the hold)
            raise

    def refresh_after_401(self, name: str, rejected_access_token: str) -> TokenSet | None:
        """The API refused ``rejected_access_token``: refresh once (unless someone already did)."""
        entry = self._entry(name)
        if not entry.config.auto_refresh:
            return None
        try:
            return self._refresh(entry, only_if=lambda ts: ts.access_token == rejected_access_token)
        except OAuthError:
            return None

    def renew(self, name: str, stale_access_token: str) -> TokenSet:
        """Refresh unless the token is no longer ``stale_access_token``; a failure is raised, not swallowed
        (for callers in other processes, such as Dask workers after a 401, that must hear why)."""
        entry = self._entry(name)
        return self._refresh(entry, only_if=lambda ts: ts.access_token == stale_access_token)

    def refresh(self, name: str) -> Token:
        """Refresh now, whatever the expiry (Postman's Refresh); returns the (updated) Token."""
        entry = self._entry(name)
        self._refresh(entry, only_if=None, manual=True)
        return entry.token

    def _refresh(self, entry: _Entry, *, only_if, manual: bool = False) -> TokenSet:  # type: ignore[no-untyped-def]
        with entry.lock:
            current = entry.token.token_set
            if only_if is not None and not only_if(current):
                return current  # another thread refreshed while we waited for the lock
            if not manual and entry.last_failure is not None:
                when, failed_for, error = entry.last_failure
                if failed_for == current.access_token and time.monotonic() - when < FAILURE_HOLD_SECONDS:
                    raise error
            if entry.token.trace is not None:
                entry.token.trace.begin_refresh()
            try:
                new = self._obtain(entry, current, manual)
            except OAuthError as exc:
                entry.last_failure = (time.monotonic(), current.access_token, exc)
                if entry.token.trace is not None:
                    entry.token.trace.record("Refresh failed", "notebook", "user", kind="error", note=str(exc))
                raise
            entry.token._swap(new)
            entry.refresh_count += 1
            entry.last_failure = None
        self._changed(entry.config.token_name)
        return new

    def _obtain(self, entry: _Entry, current: TokenSet, manual: bool = False) -> TokenSet:
        """A new token set; for a shared token, under the cross-process lock so a rotating refresh
        token is never spent twice by two kernels."""
        if not entry.config.share:
            return self._refresh_grant(entry, current)
        from .sharing import shared

        cfg = entry.config
        with shared.refresh_lock(cfg):
            if not manual:
                newer = shared.load_newer(cfg, current)  # another kernel already refreshed
                if newer is not None:
                    return newer
            base = shared.load_newer(cfg, current, fresh_only=False) or current
            new = self._refresh_grant(entry, base)
            shared.save(cfg, new)  # saved before the lock is released
            return new

    def _refresh_grant(self, entry: _Entry, current: TokenSet) -> TokenSet:
        from .grants import client_credentials
        from .grants.refresh import refresh as refresh_grant
        from .grants.resolve import resolve_config
        from .oidc.idtoken import verify_id_token

        name = entry.config.token_name
        cfg = resolve_config(entry.config)
        trace = entry.token.trace
        if current.refresh_token:
            new = refresh_grant(cfg, current, trace)
        elif cfg.grant_type == "client_credentials":
            new = client_credentials.fetch(cfg, trace)
        elif cfg.grant_type == "token_exchange":  # exchanged again from the current subject token
            from .grants import token_exchange

            new = token_exchange.fetch(cfg, trace, subject_token=self.subject_token(cfg, renewing=True), renewing=True)
        else:
            raise RefreshError(f"Token {name!r} has no refresh token, so it cannot be renewed without a new login.",
                               fix=f"Log in again: %oauth_token {name} (or get_new_access_token); the old token "
                                   "stays visible until then.")
        return verify_id_token(cfg, new, trace=trace, previous=current)

    def subject_token(self, cfg: OAuth2Config, *, renewing: bool = False) -> str | None:
        """For token exchange: the current access token of ``subject_token_name`` (refreshed first if due)."""
        from .grants import token_exchange

        return token_exchange.stored_subject(cfg, self.current, self, renewing=renewing)

    # -- asking the server about a token -------------------------------------------------------------

    def introspect(self, name: str) -> dict[str, Any]:
        """RFC 7662: what the server says about the access token (``{"active": False, ...}`` once it is dead)."""
        from .grants.introspection import introspect
        from .grants.resolve import resolve_config

        entry = self._entry(name)
        return introspect(resolve_config(entry.config), entry.token.token_set, entry.token.trace)

    def userinfo(self, name: str) -> dict[str, Any]:
        """The OpenID userinfo claims for the token (refreshed first if due); their ``sub`` is the ID token's."""
        from .grants.introspection import userinfo
        from .grants.resolve import resolve_config

        entry = self._entry(name)
        token_set = self.current(name)
        return userinfo(resolve_config(entry.config), token_set, entry.token.trace)

    # -- revoking and forgetting ---------------------------------------------------------------------

    def revoke(self, name: str) -> None:
        """RFC 7009: revoke the refresh token, then the access token; then forget the entry."""
        from .grants.resolve import resolve_config
        from .grants.revocation import revoke_token_set

        entry = self._entry(name)
        cfg = resolve_config(entry.config)
        if not cfg.revocation_url:
            raise RevocationError(f"Token {name!r} cannot be revoked: no revocation endpoint is configured or "
                                  "discovered.")
        revoke_token_set(cfg, entry.token.token_set, entry.token.trace)
        self._forget(name, entry, "revoked")

    def delete(self, name: str) -> str:
        """Forget the token here (and in the shared store); the server still honours it until it expires."""
        entry = self._entry(name)
        self._forget(name, entry, "deleted")
        return (f"Token {name!r} deleted from nb_oauth. It was not revoked: the server still accepts it until it "
                "expires (to revoke a token at the server, use tokens.revoke(name) instead of delete; it forgets "
                "the token too).")

    def _forget(self, name: str, entry: _Entry, how: str) -> None:
        with self._lock:
            if self._entries.get(name) is entry:
                del self._entries[name]
        entry.token._forgotten(how)
        self._changed(name)
        if entry.config.share:
            from .sharing import shared

            shared.remove(entry.config)

    # -- using -------------------------------------------------------------------------------------

    def auth(self, name: str) -> OAuth2Auth:
        """An auth object for ``requests`` and ``httpx`` (sync and async) that sends token ``name``."""
        return auth_for(name, self)

    def session(self, name: str) -> requests.Session:
        """A ``requests.Session`` that sends token ``name`` and keeps it fresh."""
        return session_for(name, self)

    def secrets(self) -> tuple[str, ...]:
        """Every token value held, for masking (log lines, messages)."""
        return tuple(s for token in self.list() for s in token.token_set.secrets())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    # -- display -------------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return "TokenStore(" + ", ".join(repr(t) for t in self.list()) + ")"

    def _repr_html_(self) -> str:
        import html

        rows = ["<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(v))}</td>" for v in (
                    t.token_name, t.to_dict()["access_token"], t.expiry_text(),
                    "yes" if t.refresh_token else "no", t.scope or "—")) + "</tr>" for t in self.list()]
        head = "".join(f"<th style='text-align:left'>{h}</th>"
                       for h in ("Token Name", "Access Token", "Expires", "Refresh token", "Scope"))
        return f"<table class='nb-oauth-tokens'><tr>{head}</tr>{''.join(rows) or '<tr><td colspan=5>No tokens yet</td></tr>'}</table>"


def _name_of(name: object) -> str:
    """``tokens[token]`` means ``tokens[token.token_name]``; anything else but a name is a clear KeyError."""
    if type(name) is str:
        return name
    if isinstance(name, Token):
        return name.token_name or ""
    if not isinstance(name, str):
        raise KeyError(f"Token names are strings, not {type(name).__name__}: use tokens['name'] "
                       "(a Token object's name is token.token_name).")
    return name


tokens = TokenStore()
set_default_source(tokens)  # OAuth2Auth(name) without a store means this one
_log_guard.add_secret_source(tokens.secrets)
