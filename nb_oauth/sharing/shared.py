"""Postman's "Share access token": a token set persisted for the user's other kernels and notebooks.

Opt-in per config (``OAuth2Config(share=True)``). Entries are keyed by the token name *and* an
identity of the provider (client ID and issuer / token URL), so two providers that use the same
token name never see each other's tokens. What is stored is the token set and that identity:
never the client secret or the password.

Rotating refresh tokens are single-use, so two kernels refreshing at once must not both spend
the same one. The rule is: hold :func:`refresh_lock` around ``load_newer → refresh → save``.
Under the lock a kernel first adopts a token another kernel already refreshed
(:func:`load_newer`), and only refreshes itself when there is none; :func:`save` also never
replaces a stored token set with an older one.

Storage and its guarantees (encryption, permissions, atomic writes) are in :mod:`.vault`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._token import TokenSet
from ..config import OAuth2Config, placeholders
from ..dpop import DPoPKey
from ..errors import StoreError
from ._vault_files import hold
from ._vault_format import EntryMap
from .vault import Vault

__all__ = [
    "describe",
    "entry_key",
    "identity",
    "list_names",
    "load",
    "load_newer",
    "refresh_lock",
    "refresh_lock_path",
    "remove",
    "save",
    "store_path",
]

#: Seconds to wait for another kernel's refresh; covers discovery, refresh and key fetches at their timeout.
DEFAULT_REFRESH_LOCK_TIMEOUT = 120.0

_TOKEN_FIELDS = ("access_token", "token_type", "refresh_token", "id_token", "scope", "requested_scope")


# -- identity ---------------------------------------------------------------------------------------


def identity(cfg: OAuth2Config) -> dict[str, str]:
    """Token name, client ID and provider: what makes two configs "the same token" across kernels.

    Placeholders are filled when they can be, so ``{{CLIENT_ID}}`` means the client it names here.
    """
    client_id = _filled(cfg.client_id)
    provider = _filled(cfg.issuer or cfg.access_token_url or cfg.auth_url)
    return {"token_name": cfg.token_name, "client_id": client_id, "provider": provider.rstrip("/")}


def entry_key(cfg: OAuth2Config) -> str:
    """The entry's key in the store: readable name plus a digest of the identity."""
    ident = identity(cfg)
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]
    return f"{cfg.token_name}#{digest}"


def _filled(value: str | None) -> str:
    if not value:
        return ""
    return placeholders.fill(value, strict=False).strip()


# -- paths and locks --------------------------------------------------------------------------------


def store_path() -> Path:
    """The encrypted store file (it may not exist yet)."""
    return Vault().path


def describe() -> str:
    """Where shared tokens are kept and where their key lives, for display."""
    return Vault().describe()


def refresh_lock_path(cfg: OAuth2Config) -> Path:
    digest = entry_key(cfg).rsplit("#", 1)[1]
    return Vault().dir / f"shared-tokens.refresh-{digest}.lock"


def _lock_timeout() -> float:
    try:
        http = float(os.environ.get("NB_OAUTH_HTTP_TIMEOUT", "30"))
    except ValueError:
        http = 30.0
    return max(DEFAULT_REFRESH_LOCK_TIMEOUT, 4 * http)


@contextmanager
def refresh_lock(cfg: OAuth2Config, timeout: float | None = None) -> Iterator[None]:
    """Cross-process lock of one shared entry, held around ``load_newer → refresh → save``.

    Re-entrant in one thread; exclusive across threads and processes; released on exit, on error
    and when the process dies. Waiting longer than ``timeout`` raises :class:`StoreError`.
    """
    wait = _lock_timeout() if timeout is None else timeout
    with hold(refresh_lock_path(cfg), wait, f"the refresh lock of token {cfg.token_name!r}"):
        yield


# -- the API the token store calls ------------------------------------------------------------------


def save(cfg: OAuth2Config, token_set: TokenSet) -> bool:
    """Persist ``token_set`` for ``cfg``; returns whether the file changed.

    A stored token set obtained later than ``token_set`` is kept: a kernel with a stale token
    must not undo another kernel's refresh (its refresh token would be lost).
    """
    key = entry_key(cfg)
    record = _record(cfg, token_set)

    def change(entries: EntryMap) -> bool:
        old = entries.get(key)
        if old is not None:
            if _same_record(old, record):
                return False
            stored_at = _obtained_at(old)
            if stored_at is not None and stored_at > token_set.obtained_at:
                return False
        entries[key] = record
        return True

    return Vault().update(change)


def load(cfg: OAuth2Config) -> TokenSet | None:
    """The token set shared under ``cfg``'s identity, or None when there is none."""
    record = Vault().read().get(entry_key(cfg))
    if record is None or record.get("identity") != identity(cfg):
        return None
    return _token_set(record)


def load_newer(cfg: OAuth2Config, current: TokenSet, *, fresh_only: bool = True) -> TokenSet | None:
    """The stored token set when another process replaced ``current`` with a newer one, else None.

    Call it under :func:`refresh_lock`, before refreshing. With ``fresh_only`` (the default) a
    newer set that is itself (nearly) expired is not returned; with ``fresh_only=False`` it is, so
    the caller can refresh with *its* refresh token rather than an already spent one.
    """
    stored = load(cfg)
    if stored is None or _same_tokens(stored, current) or stored.obtained_at <= current.obtained_at:
        return None
    if fresh_only and stored.needs_refresh(cfg.refresh_leeway):
        return None
    return stored


def remove(cfg: OAuth2Config) -> bool:
    """"Remove synced token": delete ``cfg``'s entry from the persistent store; returns whether it was there."""
    vault = Vault()
    if not vault.path.exists():
        return False
    key = entry_key(cfg)
    return vault.update(lambda entries: entries.pop(key, None) is not None)


def list_names() -> list[str]:
    """Token names in the shared store (a name shared by two providers is listed once)."""
    return sorted({str(r.get("token_name")) for r in Vault().read().values() if isinstance(r, Mapping)})


# -- records ----------------------------------------------------------------------------------------


def _record(cfg: OAuth2Config, token_set: TokenSet) -> dict[str, Any]:
    """The stored form: token set and identity; nothing from the config's secret fields."""
    data: dict[str, Any] = {name: getattr(token_set, name) for name in _TOKEN_FIELDS}
    data["expires_at"] = token_set.expires_at.isoformat() if token_set.expires_at else None
    data["obtained_at"] = token_set.obtained_at.isoformat()
    data["id_token_verified"] = token_set.id_token_verified
    data["raw"] = json.loads(json.dumps(dict(token_set.raw), default=str))
    if token_set.dpop_key is not None:  # a DPoP-bound token is useless without its key: it travels with it
        data["dpop_key"] = token_set.dpop_key.to_private_jwk()
    return {"token_name": cfg.token_name, "identity": identity(cfg), "token_set": data}


def _token_set(record: Mapping[str, Any]) -> TokenSet:
    data = record.get("token_set")
    try:
        if not isinstance(data, Mapping) or not isinstance(data.get("access_token"), str):
            raise ValueError("no access token")
        fields: dict[str, Any] = {name: data.get(name) for name in _TOKEN_FIELDS}
        return TokenSet(
            **fields,
            expires_at=_parse_time(data.get("expires_at")),
            obtained_at=_parse_time(data.get("obtained_at")) or datetime.now(UTC),
            raw=dict(data.get("raw") or {}),
            id_token_verified=bool(data.get("id_token_verified")),
            dpop_key=DPoPKey.from_private_jwk(data["dpop_key"]) if data.get("dpop_key") else None,
        )
    except (TypeError, ValueError):
        raise StoreError(f"The shared entry {record.get('token_name')!r} in {store_path()} has an unexpected shape.",
                         fix="Get the token again; the new one replaces the entry.") from None


def _parse_time(value: object) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _obtained_at(record: Mapping[str, Any]) -> datetime | None:
    try:
        return _parse_time(record["token_set"]["obtained_at"])
    except (KeyError, TypeError, ValueError):
        return None


def _same_record(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return json.dumps(old, sort_keys=True, default=str) == json.dumps(new, sort_keys=True, default=str)


def _same_tokens(a: TokenSet, b: TokenSet) -> bool:
    return a.access_token == b.access_token and a.refresh_token == b.refresh_token
