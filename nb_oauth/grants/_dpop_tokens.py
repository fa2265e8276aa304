"""Which DPoP key a token request uses, and binding it to the token set the server answers."""

from __future__ import annotations

import dataclasses
import threading

from .._presenter import presenter
from .._token import TokenSet
from ..config import OAuth2Config
from ..dpop import DPoPKey

_warned: set[str] = set()
_lock = threading.Lock()


def dpop_key_for(cfg: OAuth2Config, previous: TokenSet | None, given: DPoPKey | None = None) -> DPoPKey | None:
    """The key given (a login that bound its code to it), the token's own key (a refresh), or a new one."""
    if given is not None:
        return given
    if previous is not None and previous.dpop_key is not None:
        return previous.dpop_key
    return DPoPKey.generate(cfg.dpop_alg) if cfg.dpop else None


def bind_token_set(cfg: OAuth2Config, token_set: TokenSet, key: DPoPKey | None) -> TokenSet:
    """A ``token_type=DPoP`` answer keeps the key; a Bearer answer is said once and used as Bearer."""
    if key is None:
        return token_set
    if (token_set.token_type or "").lower() == "dpop":
        return dataclasses.replace(token_set, dpop_key=key)
    with _lock:
        first = cfg.token_name not in _warned
        _warned.add(cfg.token_name)
    if first:
        presenter().notice(f"DPoP was asked for, but the server issued token {cfg.token_name!r} as "
                           f"token_type={token_set.token_type or 'Bearer'}: it is not bound to a key and is sent as "
                           "a Bearer token. (The server may not support DPoP for this client.)")
    return dataclasses.replace(token_set, dpop_key=None)
