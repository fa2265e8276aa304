"""The kernel's side: the one refresh authority for every worker of a Dask client.

One :class:`Hub` per Dask client. It listens on a Dask event topic for the workers' questions
(``client.subscribe_topic``), refreshes through the kernel's token store (single-flight: one
request per expiry however many workers and threads ask, so a rotating refresh token is never
spent twice), and sends the new access token to every worker with ``client.run``. A timer
refreshes each shared token when it falls due and pushes it before the workers' copies need it.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .._store import tokens
from .._token import TokenSet
from ..errors import OAuthError
from ._wire import (
    Parcel,
    Payload,
    SharingError,
    error_payload,
    plugin_name_for,
    token_payload,
    topic_for,
    withdrawn,
)

log = logging.getLogger("nb_oauth.dask")

#: The longest pause of the refresh timer (it also notices refreshes made in the kernel itself).
TICK_SECONDS = 0.5


def answer_timeout() -> float:
    """Seconds a worker waits for the kernel (``NB_OAUTH_DASK_TIMEOUT``, default 30)."""
    try:
        value = float(os.environ.get("NB_OAUTH_DASK_TIMEOUT", "30"))
    except ValueError:
        return 30.0
    return value if value > 0 else 30.0


@dataclass(frozen=True)
class _Sent:
    version: int
    token_set: TokenSet


class Hub:
    """Shares tokens of the kernel's store with the workers of one Dask client."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.id: str = client.id
        self.timeout = answer_timeout()
        self._lock = threading.RLock()
        self._sent: dict[str, _Sent] = {}
        self._versions = itertools.count(1)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="nb_oauth-dask")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._timer = threading.Thread(target=self._run_timer, name="nb_oauth-dask-refresh", daemon=True)
        self.closed = False

    def start(self) -> Hub:
        from ._plugin import TokenPlugin

        self.client.subscribe_topic(topic_for(self.id), self._on_event)
        try:
            self.client.register_plugin(TokenPlugin(self.id, self.timeout), name=plugin_name_for(self.id))
        except Exception as exc:
            with contextlib.suppress(Exception):
                self.client.unsubscribe_topic(topic_for(self.id))
            raise SharingError(f"The Dask workers could not load nb_oauth's worker plugin ({type(exc).__name__}: "
                               f"{exc}).", fix="Install nb_oauth (with the same version as the kernel) on every "
                                               "worker, e.g. pip install 'nb_oauth[dask]'.") from None
        self._timer.start()
        return self

    # -- sharing --------------------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._sent)

    def share(self, name: str) -> None:
        """Send ``name`` to every current worker now; later workers get it when they say hello."""
        current = self._current(name, share=True)
        assert current is not None
        if name in self._push({name: current[0]}, {}, workers=None, strict=True):
            self.unshare(name)  # withdrawn where it landed; the other kernel's copies refuse the withdrawal
            raise SharingError(
                f"Token {name!r} is already shared with this Dask cluster by another client (another kernel, or "
                f"another Client in this one). A task asks for a token by name only, so it could not tell which "
                "one it means.",
                fix=f"Give this token another token_name, or unshare it where it was shared first "
                    f"(nb_oauth.dask.unshare(client, {name!r})).")
        self._wake.set()

    def unshare(self, name: str, reason: str = "unshared") -> bool:
        with self._lock:
            if self._sent.pop(name, None) is None:
                return False
            version = next(self._versions)
        self._push({name: withdrawn(version, reason)}, {}, workers=None, strict=reason == "unshared")
        return True

    def close(self) -> None:
        """Stop answering: the workers see the client leave and fail their calls with a clear error."""
        self.closed = True
        self._stop.set()
        self._wake.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the current token, versioned -----------------------------------------------------------

    def _current(self, name: str, *, share: bool = False) -> tuple[Payload, bool] | None:
        """The payload of the kernel's current token for ``name``; True when it is newer than the last one sent.

        None when ``name`` is no longer shared: only :meth:`share` adds a name, so a refresh or a
        worker's question that races with :meth:`unshare` never sends the token out again.
        """
        cfg = tokens.config(name)
        token_set = tokens[name].token_set
        with self._lock:
            sent = self._sent.get(name)
            if sent is None and not share:
                return None
            changed = sent is None or sent.token_set is not token_set
            if changed:
                sent = self._sent[name] = _Sent(next(self._versions), token_set)
            assert sent is not None
        return token_payload(cfg, token_set, sent.version), changed

    def _sync(self, name: str, answers: dict[str, Payload | None], asker: str | None) -> None:
        """Everyone gets a new token; the asker alone gets an unchanged one, with its answer."""
        if name not in tokens:
            self._withdraw_deleted(name, answers, asker)
            return
        current = self._current(name)
        if current is None:
            if asker is not None:
                self._withdraw_deleted(name, answers, asker)
            return
        payload, changed = current
        if changed:
            self._push({name: payload}, answers, workers=None)
        elif asker is not None:
            self._push({name: payload}, answers, workers=[asker])

    def _withdraw_deleted(self, name: str, answers: dict[str, Payload | None], asker: str | None) -> None:
        with self._lock:
            known = self._sent.pop(name, None) is not None
            version = next(self._versions)
        if known or asker is not None:
            self._push({name: withdrawn(version, "deleted" if known else "unshared")}, answers,
                       workers=None if known else [asker] if asker else None)

    def _push(self, parcel_tokens: dict[str, Payload | None], answers: dict[str, Payload | None], *,
              workers: list[str] | None, strict: bool = False, snapshot: bool = False) -> set[str]:
        """Send to the workers; returns the names some worker refused because another kernel shares them."""
        from ._worker import receive

        try:
            refused = self.client.run(receive, self.id, Parcel(parcel_tokens, answers), snapshot, workers=workers,
                                      on_error="ignore")
            return {name for names in (refused or {}).values() if isinstance(names, list) for name in names}
        except Exception as exc:
            if strict:
                raise SharingError(f"Could not send the token to the Dask workers ({type(exc).__name__}).",
                                   fix="Check that the client is connected: client.status should be 'running'.") \
                    from None
            log.warning("nb_oauth could not reach the Dask workers: %s", type(exc).__name__)
            return set()

    # -- the workers' questions ------------------------------------------------------------------

    def _on_event(self, event: Any) -> None:
        """On the client's event loop: hand the question to a thread (refreshing blocks)."""
        try:
            _, msg = event
            if isinstance(msg, dict) and not self.closed:
                self._pool.submit(self._handle, msg)
        except Exception:
            log.debug("nb_oauth ignored a malformed Dask event", exc_info=True)

    def _handle(self, msg: dict[str, Any]) -> None:
        try:
            if msg.get("op") == "hello":
                self._hello(str(msg["worker"]))
            elif msg.get("op") == "ask":
                self._answer(msg)
        except Exception:
            log.warning("nb_oauth could not answer a Dask worker", exc_info=True)

    def _hello(self, worker: str) -> None:
        snapshot: dict[str, Payload | None] = {}
        for name in self.names():
            current = self._current(name) if name in tokens else None
            if current is not None:
                snapshot[name] = current[0]
        self._push(snapshot, {}, workers=[worker], snapshot=True)

    def _answer(self, msg: dict[str, Any]) -> None:
        name, ask_id, worker = str(msg["name"]), str(msg["id"]), str(msg["worker"])
        with self._lock:
            sent = self._sent.get(name)
        if sent is None or name not in tokens:
            self._withdraw_deleted(name, {ask_id: None}, worker)
            return
        error: Payload | None = None
        try:
            if msg.get("why") == "401":
                if msg.get("seen") == sent.version and tokens.config(name).auto_refresh:
                    tokens.renew(name, sent.token_set.access_token)
            else:
                tokens.current(name)  # refreshes when due, single-flight with every other caller
        except OAuthError as exc:
            error = error_payload(exc)
        self._sync(name, {ask_id: error}, worker)

    # -- refreshing before the workers need it ---------------------------------------------------

    def _run_timer(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            if getattr(self.client, "status", "closed") in ("closed", "closing", "failed"):
                _forget_hub(self)
                return
            delay = TICK_SECONDS
            for name in self.names():
                with contextlib.suppress(Exception):
                    delay = min(delay, self._refresh_if_due(name))

    def _refresh_if_due(self, name: str) -> float:
        """Refresh ``name`` when due and push whatever changed; returns the seconds until it is next due."""
        if name not in tokens:
            self._sync(name, {}, None)
            return TICK_SECONDS
        cfg = tokens.config(name)
        if cfg.auto_refresh and tokens[name].token_set.needs_refresh(cfg.refresh_leeway):
            with contextlib.suppress(OAuthError):
                tokens.current(name)  # a failure reaches the workers when they ask
        self._sync(name, {}, None)
        token_set = tokens[name].token_set
        due = token_set.refresh_due_at(cfg.refresh_leeway)
        if due is None or not cfg.auto_refresh or token_set.needs_refresh(cfg.refresh_leeway):
            return TICK_SECONDS  # nothing due, or a refresh just failed: look again shortly
        return max(0.0, due - time.time())


# -- one hub per client ----------------------------------------------------------------------------

_hubs: dict[str, Hub] = {}
_hubs_lock = threading.Lock()


def hub_for(client: Any, *, create: bool) -> Hub | None:
    with _hubs_lock:
        hub = _hubs.get(client.id)
        if hub is not None and hub.closed:
            del _hubs[client.id]
            hub = None
        if hub is None and create:
            hub = _hubs[client.id] = Hub(client)
            try:
                hub.start()
            except Exception:
                del _hubs[client.id]
                hub.close()
                raise
        return hub


def _forget_hub(hub: Hub) -> None:
    with _hubs_lock:
        if _hubs.get(hub.id) is hub:
            del _hubs[hub.id]
    hub.close()
