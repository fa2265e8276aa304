"""``Token``: a live handle on one token set, safe to display.

A notebook variable bound to a ``Token`` stays current: a refresh swaps the token set
underneath in one assignment (:class:`TokenSet` is immutable), so readers always see a
consistent set and the variable never goes stale.  ``repr``, ``str`` and the rich
display show masked values only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from .display.claims import Claims
from .errors import StoreError, mask

if TYPE_CHECKING:
    import requests

    from ._auth import OAuth2Auth
    from ._trace import Trace
    from .dpop import DPoPKey

#: Longest lifetime we turn into a date; beyond it ``expires_in`` is treated as "does not expire soon".
MAX_LIFETIME = timedelta(days=365 * 100)

#: The refresh margin is never more than this fraction of a token's lifetime (a 5 s token: 1 s early).
REFRESH_FRACTION = 0.2


@dataclass(frozen=True)
class TokenSet:
    """One token response, as received; replaced whole on refresh."""

    access_token: str
    token_type: str | None = None
    refresh_token: str | None = None
    id_token: str | None = None
    scope: str | None = None
    expires_at: datetime | None = None
    obtained_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    raw: Mapping[str, Any] = field(default_factory=dict)
    requested_scope: str | None = None
    id_token_verified: bool = False
    #: The private key a DPoP-bound token is bound to (RFC 9449); None for a Bearer token.
    dpop_key: DPoPKey | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_response(
        cls,
        raw: Mapping[str, Any],
        *,
        requested_scope: str | None = None,
        previous: TokenSet | None = None,
        obtained_at: datetime | None = None,
    ) -> TokenSet:
        """Build from a checked token response; a refresh response inherits what it leaves out."""
        now = obtained_at or datetime.now(UTC)
        expires_in = raw.get("expires_in")
        expires_at = None
        if expires_in is not None and expires_in != "":
            seconds = float(expires_in)
            # compare as numbers first: timedelta() itself overflows on absurd values like 1e20
            expires_at = now + (MAX_LIFETIME if seconds >= MAX_LIFETIME.total_seconds() else timedelta(seconds=seconds))
        scope = raw.get("scope")
        if isinstance(scope, list | tuple):
            scope = " ".join(str(s) for s in scope)
        if scope is None:
            scope = previous.scope if previous else requested_scope
        refresh_token = raw.get("refresh_token") or (previous.refresh_token if previous else None)
        id_token = raw.get("id_token") or (previous.id_token if previous else None)
        return cls(
            access_token=raw["access_token"],
            token_type=raw.get("token_type"),
            refresh_token=refresh_token,
            id_token=id_token,
            scope=scope,
            expires_at=expires_at,
            obtained_at=now,
            raw=dict(raw),
            requested_scope=requested_scope if requested_scope is not None else (previous.requested_scope if previous else None),
            # an ID token kept from before keeps its verdict; a new one is verified by the flow
            id_token_verified=bool(previous and not raw.get("id_token") and previous.id_token_verified),
            dpop_key=previous.dpop_key if previous else None,
        )

    def __repr__(self) -> str:
        """Masked: a token set in a traceback, a log or a debugger's variable view shows no whole secret."""
        return (f"TokenSet(access_token={mask(self.access_token)!r}, token_type={self.token_type!r}, "
                f"refresh_token={mask(self.refresh_token) if self.refresh_token else None!r}, "
                f"id_token={mask(self.id_token) if self.id_token else None!r}, scope={self.scope!r}, "
                f"expires_at={self.expires_at!r}, dpop_bound={self.dpop_key is not None})")

    def seconds_left(self, now: float | None = None) -> float | None:
        if self.expires_at is None:
            return None
        return self.expires_at.timestamp() - (time.time() if now is None else now)

    @cached_property
    def lifetime(self) -> float | None:
        if self.expires_at is None:
            return None
        return (self.expires_at - self.obtained_at).total_seconds()

    @cached_property
    def _expiry_epoch(self) -> float | None:
        # Every API call asks when to refresh: the datetime arithmetic is done once per token set.
        return None if self.expires_at is None else self.expires_at.timestamp()

    def refresh_margin(self, leeway: float) -> float:
        """How early to refresh: ``leeway``, but never more than a fifth of the token's lifetime."""
        lifetime = self.lifetime
        if lifetime is None or lifetime <= 0:
            return 0.0
        return min(leeway, lifetime * REFRESH_FRACTION)

    def refresh_due_at(self, leeway: float) -> float | None:
        """Epoch seconds from which this set needs refreshing (None: expiry unknown)."""
        cached = self.__dict__.get("_due_at")  # asked on every API call, nearly always with the same leeway
        if cached is not None and cached[0] == leeway:
            return cached[1]  # type: ignore[no-any-return]
        expiry = self._expiry_epoch
        due = None if expiry is None else expiry - self.refresh_margin(leeway)
        self.__dict__["_due_at"] = (leeway, due)  # like cached_property: the frozen fields stay as they are
        return due

    def needs_refresh(self, leeway: float, now: float | None = None) -> bool:
        due = self.refresh_due_at(leeway)
        return due is not None and (time.time() if now is None else now) >= due

    def secrets(self) -> list[str]:
        return [s for s in (self.access_token, self.refresh_token, self.id_token) if s]


class TokenOwner(Protocol):
    """What keeps a token alive (the token store): a :class:`Token` delegates its live methods to it."""

    def refresh(self, name: str) -> Token: ...

    def revoke(self, name: str) -> None: ...

    def session(self, name: str) -> requests.Session: ...

    def auth(self, name: str) -> OAuth2Auth: ...


class Token:
    """A token of the store (or a standalone one), always showing its current token set."""

    __slots__ = ("__weakref__", "_gone", "_owner", "_set", "token_name", "trace")

    def __init__(self, token_set: TokenSet, token_name: str | None = None, trace: Trace | None = None,
                 owner: TokenOwner | None = None) -> None:
        self._set = token_set
        self.token_name = token_name
        self.trace = trace
        self._owner = owner
        self._gone: str | None = None  # "deleted" or "revoked" once the store let go of it

    # -- the live part ----------------------------------------------------------------------------

    @property
    def token_set(self) -> TokenSet:
        """The current token set (one consistent snapshot)."""
        return self._set

    def _swap(self, token_set: TokenSet) -> None:
        self._set = token_set

    # -- contract attributes ----------------------------------------------------------------------

    @property
    def access_token(self) -> str:
        return self._set.access_token

    @property
    def refresh_token(self) -> str | None:
        return self._set.refresh_token

    @property
    def id_token(self) -> str | None:
        return self._set.id_token

    @property
    def token_type(self) -> str | None:
        return self._set.token_type

    @property
    def scope(self) -> str | None:
        return self._set.scope

    @property
    def expires_at(self) -> datetime | None:
        return self._set.expires_at

    @property
    def obtained_at(self) -> datetime:
        return self._set.obtained_at

    @property
    def expires_in(self) -> int | None:
        """Whole seconds left (0 once expired), or None when the server did not say."""
        left = self._set.seconds_left()
        return None if left is None else max(0, math.floor(left))

    @property
    def expired(self) -> bool:
        left = self._set.seconds_left()
        return left is not None and left <= 0

    @property
    def raw(self) -> dict[str, Any]:
        return dict(self._set.raw)

    @property
    def requested_scope(self) -> str | None:
        return self._set.requested_scope

    @property
    def scope_narrowed(self) -> list[str]:
        """Scopes that were asked for but not granted (empty when all were granted)."""
        asked = (self._set.requested_scope or "").split()
        granted = set((self._set.scope or "").split())
        return [s for s in asked if s not in granted] if self._set.scope is not None else []

    @property
    def claims(self) -> dict[str, Any]:
        """Decoded ID token claims, else those of a JWT access token, else ``{}``: a dict that shows
        ``iat``/``exp`` and the other time claims as dates beside the numbers."""
        from .oidc.jwt import decode_unverified

        for value in (self._set.id_token, self._set.access_token):
            decoded = decode_unverified(value)
            if decoded is not None:
                return Claims(decoded.claims)
        return Claims()

    @property
    def id_token_verified(self) -> bool:
        return self._set.id_token_verified

    def value(self, use_token_type: str = "access_token") -> str:
        """The string to send: the access token, or the ID token when asked for."""
        if use_token_type == "id_token":
            if not self._set.id_token:
                from .errors import ConfigError

                raise ConfigError(
                    f"Use Token Type is id_token, but token {self.token_name!r} has no ID token.",
                    fix="Ask for the openid scope, or set use_token_type='access_token'.",
                )
            return self._set.id_token
        return self._set.access_token

    # -- conveniences that make the token a live object -------------------------------------------

    def refresh(self) -> Token:
        owner, name = self._stored()
        return owner.refresh(name)

    def revoke(self) -> None:
        owner, name = self._stored()
        owner.revoke(name)

    def session(self) -> requests.Session:
        owner, name = self._stored()
        return owner.session(name)

    def auth(self) -> OAuth2Auth:
        owner, name = self._stored()
        return owner.auth(name)

    def _forgotten(self, how: str) -> None:
        """The store no longer holds this token (``how``: "deleted" or "revoked")."""
        self._gone = how

    @property
    def deleted(self) -> bool:
        """True once the token was deleted or revoked: it is no longer in the token store."""
        return self._gone is not None

    def _stored(self) -> tuple[TokenOwner, str]:
        if self._gone is not None:
            raise StoreError(f"Token {self.token_name!r} was {self._gone}: it is no longer in the token store.",
                             fix=f"Get a new one (%oauth_token {self.token_name} or get_new_access_token(config)).")
        if not self.token_name or self._owner is None:
            raise StoreError("This token is not in the token store.", fix="Get it with get_new_access_token(cfg).")
        return self._owner, self.token_name

    # -- display (masked, always) -----------------------------------------------------------------

    def expiry_text(self) -> str:
        """'expires in 4 min', 'expired 3 s ago', 'expiry unknown' or 'deleted'."""
        if self._gone is not None:
            return f"{self._gone} (no longer in the token store)"
        left = self._set.seconds_left()
        if left is None:
            return "expiry unknown"
        if left <= 0:
            return f"expired {_human(-left)} ago"
        return f"expires in {_human(left)}"

    def __reduce__(self) -> Any:
        """Not pickled: a pickled token would carry its live secrets into a task graph or a file."""
        name = self.token_name or "name"
        raise TypeError(f"Token {name!r} is not pickled: it holds the live access (and refresh) token. For another "
                        f"process (a Dask task or worker), pass nb_oauth.session({name!r}) or nb_oauth.auth({name!r}), "
                        "which carry only the name, and share the token with nb_oauth.dask.share(client, name).")

    def __repr__(self) -> str:
        parts = [f"name={self.token_name!r}", f"access_token={mask(self.access_token)!r}"]
        if self.token_type:
            parts.append(f"token_type={self.token_type!r}")
        parts.append(self.expiry_text())
        if self.refresh_token:
            parts.append("refresh_token=" + repr(mask(self.refresh_token)))
        if self.id_token:
            parts.append("id_token=" + repr(mask(self.id_token)))
        if self.scope:
            parts.append(f"scope={self.scope!r}")
        return f"Token({', '.join(parts)})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        import html

        rows = [
            ("Token Name", self.token_name or "—"),
            ("Access Token", mask(self.access_token)),
            ("Token Type", self.token_type or "—"),
            ("Expires", self.expiry_text() + (f" ({self.expires_at:%Y-%m-%d %H:%M:%S} UTC)" if self.expires_at else "")),
            ("Refresh Token", mask(self.refresh_token) if self.refresh_token else "none"),
            ("ID Token", (mask(self.id_token) + (" (signature verified)" if self.id_token_verified else ""))
             if self.id_token else "none"),
            ("Scope", self.scope or "—"),
        ]
        if self.scope_narrowed:
            rows.append(("Not granted", " ".join(self.scope_narrowed)))
        body = "".join(
            f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
            f"<td style='text-align:left'><code>{html.escape(str(v))}</code></td></tr>"
            for k, v in rows
        )
        return f"<table class='nb-oauth-token'>{body}</table>"

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """Plain data for display or export; secrets only when explicitly asked for."""
        s = self._set
        show = (lambda v: v) if include_secrets else (lambda v: mask(v) if v else None)
        return {
            "token_name": self.token_name,
            "access_token": show(s.access_token),
            "refresh_token": show(s.refresh_token),
            "id_token": show(s.id_token),
            "token_type": s.token_type,
            "scope": s.scope,
            "expires_at": s.expires_at.isoformat() if s.expires_at else None,
            "expires_in": self.expires_in,
        }


def _human(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 90 * 60:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"

