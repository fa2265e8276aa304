"""The worker's side: the tokens a kernel shared, as the ``TokenSource`` that ``session()``/``auth()`` use.

A worker holds, per shared name, one immutable copy (access token, expiry on the worker's clock,
how to send it) that the kernel replaces whole. It never refreshes anything itself: when its
copy is due it asks the kernel (a Dask event) and goes on sending the still-valid token; when
the copy has expired, or the API answered 401, the calling threads wait, bounded, for the
kernel's answer. One question per worker goes out however many threads ask.

This module imports no Dask: the plugin in :mod:`nb_oauth.dask._plugin` hands it the worker.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .. import _auth
from .._store import FAILURE_HOLD_SECONDS, TokenExpiredError, TokenStore
from .._token import Token, TokenSet
from ..config import OAuth2Config
from ._wire import Parcel, Payload, SharingError, rebuild_error, token_set_from, topic_for, worker_config

#: A copy is asked about once the kernel's own refresh should have reached it: this far between the
#: kernel's refresh time and the expiry (the kernel refreshes at the start of the margin).
ASK_POINT = 0.5
#: Seconds a worker waits for the kernel when nothing else was said (the kernel sends its own setting).
DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class _Copy:
    """One shared token as this worker has it."""

    hub: str
    version: int
    token_set: TokenSet
    config: OAuth2Config
    ask_at: float | None  # epoch seconds (worker clock) from which the kernel is asked; None: never


@dataclass(frozen=True)
class _Gone:
    hub: str
    version: int
    reason: str


@dataclass
class _Ask:
    name: str
    hub: str
    done: threading.Event = field(default_factory=threading.Event)
    error: Payload | None = None
    failure: str | None = None  # why no answer can come (the kernel left)
    sent_at: float = field(default_factory=time.monotonic)


@dataclass
class _Hub:
    """One kernel (Dask client) that shares tokens with this worker."""

    hub_id: str
    worker: Any = None
    timeout: float = DEFAULT_TIMEOUT
    snapshot: threading.Event = field(default_factory=threading.Event)
    gone: bool = False


class WorkerSource:
    """Tokens shared by kernels, falling back to this process's own token store for names it holds."""

    def __init__(self, fallback: TokenStore | None) -> None:
        self._fallback = fallback
        self._cond = threading.Condition()
        self._hubs: dict[str, _Hub] = {}
        self._names: dict[str, _Copy | _Gone] = {}
        self._asks: dict[str, _Ask] = {}
        self._joined: dict[tuple[str, int, str], str] = {}
        self._failed: dict[tuple[str, int], tuple[float, Payload]] = {}
        self._ids = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:12]

    # -- the kernel's side of the conversation ------------------------------------------------------

    def attach(self, hub_id: str, worker: Any, timeout: float) -> None:
        """The plugin was set up on this worker: say hello so the kernel sends its tokens."""
        with self._cond:
            hub = self._hubs.get(hub_id)
            if hub is None or hub.gone:
                hub = self._hubs[hub_id] = _Hub(hub_id)
            hub.worker, hub.timeout = worker, timeout
        self._send(hub, {"op": "hello"})

    def detach(self, hub_id: str, reason: str = "detached") -> None:
        """The kernel left (or its plugin was removed): its names are gone, waiting callers are told why."""
        with self._cond:
            hub = self._hubs.get(hub_id)
            if hub is None:
                return
            hub.gone = True
            hub.snapshot.set()
            for name, held in list(self._names.items()):
                if held.hub == hub_id and isinstance(held, _Copy):
                    self._names[name] = _Gone(hub_id, held.version, reason)
            for ask in self._asks.values():
                if ask.hub == hub_id and not ask.done.is_set():
                    ask.failure = reason
                    ask.done.set()
            self._cond.notify_all()

    def receive(self, hub_id: str, parcel: Parcel, snapshot: bool = False) -> list[str]:
        """New token copies (whole, newest version wins), then the answers to this worker's questions.

        Returns the names refused because another kernel that is still connected shares them: a task
        asks for a token by name only, so one name can come from one kernel at a time."""
        now = time.time()
        taken: list[str] = []
        with self._cond:
            hub = self._hubs.setdefault(hub_id, _Hub(hub_id))
            for name, payload in parcel.tokens.items():
                held = self._names.get(name)
                if payload is None or (held is not None and held.hub == hub_id and held.version >= payload["version"]):
                    continue
                if held is not None and held.hub != hub_id and self._live(held):
                    taken.append(name)
                    continue
                if "withdrawn" in payload:
                    self._names[name] = _Gone(hub_id, payload["version"], payload["withdrawn"])
                else:
                    self._names[name] = _copy(hub_id, payload, now)
            for ask_id, error in parcel.answers.items():
                ask = self._asks.pop(ask_id, None)
                if ask is not None:
                    ask.error = error
                    ask.done.set()
            if snapshot:
                hub.snapshot.set()
            self._cond.notify_all()
        return taken

    def _live(self, held: _Copy | _Gone) -> bool:
        """A copy whose kernel is still connected (called with the lock held)."""
        owner = self._hubs.get(held.hub)
        return isinstance(held, _Copy) and owner is not None and not owner.gone

    def hubs(self) -> list[str]:
        with self._cond:
            return [h.hub_id for h in self._hubs.values() if not h.gone]

    # -- TokenSource --------------------------------------------------------------------------------

    def _local(self, name: str) -> TokenStore | None:
        """This process's own store when it holds ``name`` (a token got on the worker, or a threads-only cluster)."""
        fallback = self._fallback
        return fallback if fallback is not None and len(fallback) and name in fallback else None

    def _copy(self, name: str) -> _Copy:
        """This worker's copy of ``name``; waits (bounded) for a kernel's first tokens if they are still on the way."""
        held = self._names.get(name)  # the common case, without a lock: copies are replaced whole
        if isinstance(held, _Copy):
            return held
        deadline: float | None = None
        with self._cond:
            while True:
                held = self._names.get(name)
                if isinstance(held, _Copy):
                    return held
                if isinstance(held, _Gone):
                    raise _gone_error(name, held.reason)
                pending = [h for h in self._hubs.values() if not h.gone and not h.snapshot.is_set()]
                if not pending:
                    raise _not_shared(name, self._names)
                now = time.monotonic()
                deadline = deadline or now + max(h.timeout for h in pending)
                if now >= deadline:
                    raise SharingError(f"Token {name!r}: the kernel that shares tokens with this Dask worker did "
                                       f"not send them within {max(h.timeout for h in pending):g} s.",
                                       fix="Check that the kernel is still running and connected to the cluster.")
                self._cond.wait(timeout=min(0.5, deadline - now))

    def __getitem__(self, name: str) -> Token:
        if (local := self._local(name)) is not None:
            return local[name]
        copy = self._copy(name)
        return Token(copy.token_set, name)

    def config(self, name: str) -> OAuth2Config:
        if (local := self._local(name)) is not None:
            return local.config(name)
        return self._copy(name).config

    def current(self, name: str) -> TokenSet:
        if (local := self._local(name)) is not None:
            return local.current(name)
        copy = self._copy(name)
        if copy.ask_at is None or time.time() < copy.ask_at:
            return copy.token_set
        left = copy.token_set.seconds_left()
        if not copy.config.auto_refresh:
            if left is not None and left <= 0:
                raise TokenExpiredError(f"Token {name!r} has expired and auto-refresh is off.",
                                        fix=f"Refresh it in the kernel with tokens.refresh({name!r}), or turn "
                                            "auto_refresh on.")
            return copy.token_set
        if left is not None and left > 0:
            self._ask(name, copy, "due")  # the kernel is asked once; the still-valid token goes out meanwhile
            return copy.token_set
        return self._wait(name, copy, "expired") or copy.token_set

    def refresh_after_401(self, name: str, rejected_access_token: str) -> TokenSet | None:
        if (local := self._local(name)) is not None:
            return local.refresh_after_401(name, rejected_access_token)
        copy = self._copy(name)
        if copy.token_set.access_token != rejected_access_token:
            return copy.token_set  # a newer token arrived meanwhile
        if not copy.config.auto_refresh:
            return None
        return self._wait(name, copy, "401")

    # -- asking the kernel ----------------------------------------------------------------------------

    def _ask(self, name: str, copy: _Copy, why: str) -> _Ask | None:
        """One question per copy and kind, however many threads ask; None: this copy's "due" was asked already."""
        kind = "401" if why == "401" else "refresh"
        with self._cond:
            hub = self._hubs.get(copy.hub)
            timeout = hub.timeout if hub is not None else DEFAULT_TIMEOUT
            key = (name, copy.version, kind)
            ask_id = self._joined.get(key)
            pending = self._asks.get(ask_id) if ask_id else None
            if pending is not None and time.monotonic() - pending.sent_at < timeout:
                return pending
            if pending is None and ask_id is not None and why == "due":
                return None
            if ask_id is not None:
                self._asks.pop(ask_id, None)  # unanswered for too long: ask again
            ask_id = f"{self._prefix}-{next(self._ids)}"
            ask = self._asks[ask_id] = _Ask(name, copy.hub)
            self._joined = {k: v for k, v in self._joined.items() if k[0] != name or k[1] >= copy.version}
            self._joined[key] = ask_id
        if hub is None or hub.gone:
            ask.failure = "kernel"
            ask.done.set()
        else:
            self._send(hub, {"op": "ask", "id": ask_id, "name": name, "why": why, "seen": copy.version})
        return ask

    def _wait(self, name: str, copy: _Copy, why: str) -> TokenSet | None:
        """Ask and wait (bounded) for the kernel's answer: a newer token, or the kernel's own error."""
        failed = self._failed.get((name, copy.version))
        if failed is not None and time.monotonic() - failed[0] < FAILURE_HOLD_SECONDS:
            raise rebuild_error(failed[1])  # the kernel just said why: no new question for a moment
        ask = self._ask(name, copy, why)
        assert ask is not None  # only "due" questions are asked once per copy
        hub = self._hubs.get(copy.hub)
        timeout = hub.timeout if hub is not None else DEFAULT_TIMEOUT
        if not ask.done.wait(timeout):
            raise SharingError(f"Token {name!r}: the kernel did not answer this Dask worker's refresh request "
                               f"within {timeout:g} s.",
                               fix="Check that the kernel is running and its Dask client is connected; "
                                   "the token is refreshed there only.")
        if ask.failure is not None:
            raise _gone_error(name, ask.failure)
        if ask.error is not None:
            self._failed = {(name, copy.version): (time.monotonic(), ask.error),
                            **{k: v for k, v in self._failed.items() if k[0] != name}}
            raise rebuild_error(ask.error)
        newer = self._copy(name)
        if newer.version == copy.version:
            return None if why == "401" else copy.token_set
        return newer.token_set

    def _send(self, hub: _Hub, msg: dict[str, Any]) -> None:
        worker = hub.worker
        if worker is None:
            return
        worker.log_event(topic_for(hub.hub_id), {**msg, "worker": worker.address})


def _copy(hub_id: str, payload: Payload, received_at: float) -> _Copy:
    token_set = token_set_from(payload, received_at)
    cfg = worker_config(payload)
    due = token_set.refresh_due_at(cfg.refresh_leeway)
    ask_at = None
    if due is not None:
        margin = token_set.refresh_margin(cfg.refresh_leeway)
        ask_at = due + margin * ASK_POINT
    return _Copy(hub_id, payload["version"], token_set, cfg, ask_at)


def _gone_error(name: str, reason: str) -> SharingError:
    share = f"nb_oauth.dask.share(client, {name!r})"
    if reason == "unshared":
        return SharingError(f"Token {name!r} was unshared by the kernel (nb_oauth.dask.unshare): this Dask worker "
                            "no longer holds it.", fix=f"Share it again in the kernel: {share}.")
    if reason == "deleted":
        return SharingError(f"Token {name!r} was deleted or revoked in the kernel, so this Dask worker no longer "
                            "holds it.", fix=f"Get a new token in the kernel, then {share}.")
    return SharingError(f"Token {name!r}: the kernel that shared it has left the cluster (its Dask client "
                        "disconnected), so this worker cannot get a current token.",
                        fix=f"Connect a client from the kernel again and call {share}.")


def _not_shared(name: str, names: dict[str, _Copy | _Gone]) -> SharingError:
    held = ", ".join(sorted(n for n, h in names.items() if isinstance(h, _Copy))) or "none"
    return SharingError(f"Token {name!r} is not shared with this Dask worker (shared here: {held}).",
                        fix=f"In the kernel: nb_oauth.dask.share(client, {name!r}).")


# -- the process-wide source ---------------------------------------------------------------------

_source: WorkerSource | None = None
_install_lock = threading.Lock()


def install() -> WorkerSource:
    """This process's WorkerSource, made the default source of ``session()`` and ``auth()`` on first use."""
    global _source
    with _install_lock:
        if _source is None:
            from .._store import tokens

            _source = WorkerSource(tokens)
            _auth.set_default_source(_source)
        return _source


def receive(hub_id: str, parcel: Parcel, snapshot: bool = False) -> list[str]:
    """Run on each worker by the kernel (``client.run``); returns the names another kernel holds here.
    Never raises: Dask would log its arguments."""
    try:
        return install().receive(hub_id, parcel, snapshot)
    except Exception:
        return []


def forget_kernel(hub_id: str) -> None:
    """Run on each worker when the kernel closes its sharing (``client.run``)."""
    try:
        install().detach(hub_id, "kernel")
    except Exception:
        return
