"""What crosses the wire between the kernel and its Dask workers, and nothing more.

A worker gets, per shared token, the access token (the ID token only when the config sends
the ID token as the credential), its type and scope, how many seconds it has left by the
kernel's clock, and the few config fields that say how to put it on a request. Never the
refresh token, the client secret, a client assertion key, the password or the raw token
response. Errors travel as their class and their (already redacted) message.

This module imports no Dask, so both sides and the tests can use it.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .._token import TokenSet
from ..config import OAuth2Config
from ..errors import OAuthError

#: The config fields a worker needs to send the token; everything else stays in the kernel.
WORKER_CONFIG_FIELDS = ("token_name", "add_token_to", "header_prefix", "use_token_type", "auto_refresh",
                        "refresh_leeway")

#: Kernel -> worker: one name's state (a token, or None once it is withdrawn).
Payload = dict[str, Any]


def topic_for(hub_id: str) -> str:
    """The Dask event topic on which workers ask the kernel with this id (its Dask client's id)."""
    return f"nb_oauth:{hub_id}"


def plugin_name_for(hub_id: str) -> str:
    return f"nb_oauth-tokens:{hub_id}"


class SharingError(OAuthError):
    """A token cannot be shared with, or used on, a Dask cluster (the message says which and why)."""


@dataclass(frozen=True)
class Parcel:
    """What the kernel sends to workers, behind a masked ``repr`` (Dask logs the arguments of a failed ``run``)."""

    tokens: dict[str, Payload | None]
    answers: dict[str, Payload | None]

    def __repr__(self) -> str:
        return f"<nb_oauth token parcel: {sorted(self.tokens)} ({len(self.answers)} answers)>"

    __str__ = __repr__


def token_payload(cfg: OAuth2Config, token_set: TokenSet, version: int) -> Payload:
    """The worker's copy of ``token_set``: the access token and how to send it, no secret beyond that."""
    left = token_set.seconds_left()
    return {
        "version": version,
        "access_token": token_set.access_token,
        "id_token": token_set.id_token if cfg.use_token_type == "id_token" else None,
        "token_type": token_set.token_type,
        "scope": token_set.scope,
        "seconds_left": left,
        "lifetime": token_set.lifetime,
        "config": {name: getattr(cfg, name) for name in WORKER_CONFIG_FIELDS},
    }


def withdrawn(version: int, reason: str) -> Payload:
    """The kernel no longer shares the name (``reason``: "unshared" or "deleted")."""
    return {"version": version, "withdrawn": reason}


def token_set_from(payload: Payload, received_at: float | None = None) -> TokenSet:
    """A TokenSet on the worker's clock: it expires ``seconds_left`` after it was received."""
    now = time.time() if received_at is None else received_at
    expires_at = obtained_at = None
    left, lifetime = payload["seconds_left"], payload["lifetime"]
    if left is not None:
        expires_at = datetime.fromtimestamp(now + left, UTC)
        obtained_at = expires_at - timedelta(seconds=lifetime if lifetime is not None else max(left, 0.0))
    return TokenSet(
        access_token=payload["access_token"],
        token_type=payload["token_type"],
        id_token=payload["id_token"],
        scope=payload["scope"],
        expires_at=expires_at,
        obtained_at=obtained_at or datetime.fromtimestamp(now, UTC),
    )


def worker_config(payload: Payload) -> OAuth2Config:
    return OAuth2Config(**payload["config"])


# -- errors --------------------------------------------------------------------------------------


def error_payload(exc: OAuthError) -> Payload:
    """An nb_oauth error as plain data; its message was redacted when it was raised."""
    cls = type(exc)
    return {"error_class": f"{cls.__module__}:{cls.__qualname__}", "message": str(exc), "error": exc.error,
            "error_description": exc.error_description, "status": exc.status, "fix": exc.fix}


def rebuild_error(payload: Payload) -> OAuthError:
    """The same nb_oauth error class and message as in the kernel (an unknown class becomes OAuthError)."""
    module_name, _, qualname = str(payload["error_class"]).partition(":")
    cls: type[OAuthError] = OAuthError
    if module_name == "nb_oauth" or module_name.startswith("nb_oauth."):
        try:
            found = importlib.import_module(module_name)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            found = None
        if isinstance(found, type) and issubclass(found, OAuthError):
            cls = found
    exc = cls.__new__(cls)
    Exception.__init__(exc, payload["message"])
    exc.error = payload.get("error")
    exc.error_description = payload.get("error_description")
    exc.status = payload.get("status")
    exc.fix = payload.get("fix") or ""
    exc.trace = None
    return exc


def dpop_refusal(cfg: OAuth2Config, token_set: TokenSet) -> SharingError | None:
    """DPoP-bound tokens are not shared: using one needs its private proof key on every worker."""
    bound = bool(getattr(cfg, "dpop", False)) or (token_set.token_type or "").lower() == "dpop"
    if not bound:
        return None
    name = cfg.token_name
    return SharingError(
        f"Token {name!r} is DPoP-bound: every request with it needs a proof signed with its private key, "
        "and nb_oauth does not send that key to Dask workers (a copied key would let any process that can "
        "read a worker's memory use the token).",
        fix="Use a bearer token (dpop=False) for work on the cluster, or make the DPoP calls from the kernel.")
