"""The steps of a flow, recorded as data with secrets masked, for teaching and for debugging.

Every grant appends :class:`Step` objects to a :class:`Trace` as it goes: the authorization
request (each parameter explained), the browser redirect, the token exchange, refreshes and
revocations.  Values are masked when recorded, so a trace can be shown or saved as is.
Drawing it (the sequence diagram) lives in :mod:`nb_oauth.display.trace_view`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .config import placeholders
from .display._meanings import ACTORS, PARAMETER_MEANINGS
from .errors import SECRET_KEYS, mask, redact

__all__ = ["ACTORS", "PARAMETER_MEANINGS", "Step", "Trace"]

#: Steps kept once refreshes begin (the first flow's steps are all kept): the recent refreshes, however many.
REFRESH_STEPS_KEPT = 40
#: Token sets whose secrets masking knows: the one a refresh spends and the one it brings (older ones are gone).
TOKEN_SETS_HELD = 2
#: Headers whose values are shown as sent; every other header value (custom header parameters, API keys,
#: ``Authorization``, cookies) is a secret for the trace.
PLAIN_HEADERS = frozenset({"accept", "content-type", "content-length", "user-agent", "accept-encoding"})


def mask_value(key: str, value: Any) -> Any:
    """Mask the value of a secret key; leave the rest (state and challenge are not secrets)."""
    if key.lower() in SECRET_KEYS and key.lower() != "token_type" and value:
        return mask(str(value))
    return value


def mask_pairs(pairs: Iterable[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [(k, mask_value(k, v)) for k, v in pairs]


def mask_url(url: str) -> str:
    """The URL with secret query and fragment parameters masked."""
    if "?" not in url and "#" not in url:
        return url  # no query, no fragment: no parameter to mask (known secrets are still redacted by value)
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    query = urlencode(mask_pairs(parse_qsl(parts.query, keep_blank_values=True)))
    fragment = urlencode(mask_pairs(parse_qsl(parts.fragment, keep_blank_values=True))) if parts.fragment else ""
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))


def _cleaned(value: Any, secrets: list[str]) -> Any:
    """``value`` with every known secret and secret-looking pair masked, nested containers included (copied)."""
    if isinstance(value, str):
        return redact(value, secrets, ordered=True)
    if value is None or isinstance(value, int | float):  # numbers and booleans hide nothing
        return value
    if isinstance(value, Mapping):
        return {k: _cleaned_value(k, v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_cleaned(v, secrets) for v in value)
    return value


def _cleaned_value(key: str, value: Any, secrets: list[str]) -> Any:
    """A value of a secret key is masked, nothing more to find in it; any other value is cleaned."""
    masked = mask_value(key, value)
    return masked if masked is not value else _cleaned(value, secrets)


@dataclass
class Step:
    """One arrow of the sequence diagram: who talks to whom, what was sent, what came back."""

    title: str
    source: str
    target: str
    kind: str = "request"  # request | redirect | response | note | error
    method: str | None = None
    url: str | None = None
    params: list[tuple[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response: dict[str, Any] | None = None
    note: str | None = None
    started: float = field(default_factory=time.time)
    duration: float | None = None

    def explained_params(self) -> list[tuple[str, Any, str]]:
        return [(k, v, PARAMETER_MEANINGS.get(k, "")) for k, v in self.params]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "source": self.source, "target": self.target, "kind": self.kind,
            "method": self.method, "url": self.url, "params": list(self.params), "headers": dict(self.headers),
            "status": self.status, "response": self.response, "note": self.note,
            "started": self.started, "duration": self.duration,
        }


class _Pending:
    """A step as recorded, with the secrets known then; :meth:`masked` makes the :class:`Step` that is shown."""

    __slots__ = ("fields", "secrets")

    def __init__(self, fields: dict[str, Any], secrets: list[str]) -> None:
        self.fields = fields
        self.secrets = secrets

    def masked(self) -> Step:
        f, secrets = self.fields, self.secrets
        shown_headers = {k: (v if k.lower() in PLAIN_HEADERS else mask(str(v))) for k, v in f["headers"].items()}
        return Step(
            title=f["title"],
            source=f["source"],
            target=f["target"],
            kind=f["kind"],
            method=f["method"],
            url=_cleaned(mask_url(f["url"]), secrets) if f["url"] else None,
            params=[(k, _cleaned_value(k, v, secrets)) for k, v in f["params"]],
            headers=_cleaned(shown_headers, secrets),
            status=f["status"],
            response=_cleaned(f["response"], secrets) if f["response"] is not None else None,
            note=_cleaned(f["note"], secrets) if f["note"] else None,
            started=f["started"],
            duration=f["duration"],
        )


class Trace:
    """The ordered steps of one token's life; thread-safe, secrets masked on entry."""

    def __init__(self, grant_type: str | None = None, token_name: str | None = None) -> None:
        self.grant_type = grant_type
        self.token_name = token_name
        self.error: str | None = None
        #: Refresh steps recorded but no longer kept (only the last :data:`REFRESH_STEPS_KEPT` are).
        self.dropped = 0
        self._lock = threading.Lock()
        self._head: list[Step | _Pending] = []
        self._tail: deque[Step | _Pending] = deque(maxlen=REFRESH_STEPS_KEPT)
        self._refreshing = False
        self._secrets: set[str] = set()
        self._token_secrets: deque[tuple[str, ...]] = deque(maxlen=TOKEN_SETS_HELD)
        self._ordered: list[str] | None = None
        self._ordered_version = -1

    @property
    def steps(self) -> list[Step]:
        """The first flow's steps, then the most recent refresh steps (each masked once, on first read)."""
        with self._lock:
            for kept in (self._head, self._tail):
                for i, step in enumerate(kept):
                    if isinstance(step, _Pending):
                        kept[i] = step.masked()
            return [*self._head, *self._tail]  # type: ignore[list-item]  # every one is a Step now

    def begin_refresh(self) -> None:
        """Steps recorded from now on belong to refreshes: only the last :data:`REFRESH_STEPS_KEPT` are kept."""
        self._refreshing = True

    def add_secret(self, *values: str | None) -> None:
        """Values that must never appear in the trace, whatever key they come under (the flow's own:
        client secret, password, code, verifier)."""
        new = {v for v in values if v and len(v) >= 4} - self._secrets
        if new:
            self._secrets |= new
            self._ordered = None

    def hold_token_secrets(self, *values: str | None) -> None:
        """The secrets of a token set now held; those of the token sets before the last two are let go."""
        group = tuple(v for v in values if v and len(v) >= 4)
        if group and group not in self._token_secrets:
            self._token_secrets.append(group)
            self._ordered = None

    @property
    def secret_count(self) -> int:
        """How many values masking checks every recorded value against."""
        return len(self._ordered_secrets())

    def _ordered_secrets(self) -> list[str]:
        """The secrets longest first, as redact wants them; sorted once per change, not once per value."""
        version = placeholders.filled_version()  # values filled from {{placeholders}} are secrets too
        if self._ordered is None or self._ordered_version != version:
            self._ordered_version = version
            held = {s for group in self._token_secrets for s in group}
            filled = {str(v) for v in placeholders.filled_values() if v and len(str(v)) >= 4}
            self._ordered = sorted(self._secrets | held | filled, key=len, reverse=True)
        return self._ordered

    def _clean(self, value: Any) -> Any:
        return _cleaned(value, self._ordered_secrets())

    def record(
        self,
        title: str,
        source: str,
        target: str,
        *,
        kind: str = "request",
        method: str | None = None,
        url: str | None = None,
        params: Sequence[tuple[str, Any]] | Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
        response: Mapping[str, Any] | None = None,
        note: str | None = None,
        started: float | None = None,
        duration: float | None = None,
    ) -> None:
        """Add a step. It is masked against the secrets known now, when it is first read: a token request or
        refresh pays for masking only the steps someone looks at (and the trace keeps few refresh steps)."""
        pending = _Pending(
            secrets=self._ordered_secrets(),
            fields=dict(title=title, source=source, target=target, kind=kind, method=method, url=url,
                        params=list(params.items()) if isinstance(params, Mapping) else list(params or []),
                        headers=dict(headers or {}), status=status,
                        response=dict(response) if response is not None else None, note=note,
                        started=started if started is not None else time.time(), duration=duration),
        )
        with self._lock:
            if not self._refreshing:
                self._head.append(pending)
            else:
                if len(self._tail) == self._tail.maxlen:
                    self.dropped += 1
                self._tail.append(pending)

    def fail(self, message: str) -> None:
        self.error = self._clean(message)
        self.record("Flow failed", "notebook", "user", kind="error", note=message)

    def __len__(self) -> int:
        return len(self._head) + len(self._tail)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {"grant_type": self.grant_type, "token_name": self.token_name, "error": self.error,
                "steps": [s.to_dict() for s in self.steps], "dropped_refresh_steps": self.dropped}

    def __repr__(self) -> str:
        dropped = f", {self.dropped} older refresh steps not kept" if self.dropped else ""
        lines = [f"Trace({self.grant_type}, {len(self)} steps{dropped})"]
        for i, s in enumerate(self.steps, 1):
            extra = f" → {s.status}" if s.status else ""
            lines.append(f"  {i}. {s.source} → {s.target}: {s.title}{extra}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .display.trace_view import render_html

        return render_html(self)
