"""The worker plugin: what each Dask worker runs so ``nb_oauth.session(name)`` finds the kernel's tokens.

It carries no token, only the kernel's id and how long a worker waits for the kernel, so the
scheduler (which keeps plugins for workers that join later) never holds a token either. On
setup it installs the worker's token source and says hello, and the kernel answers with every
shared token; while set up it watches, once a second, whether the kernel's client is still
connected (Dask's own event log records a client leaving), so calls fail with a clear error
soon after the kernel is gone rather than waiting out a token's lifetime.
"""

from __future__ import annotations

import contextlib
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin
from tornado.ioloop import PeriodicCallback

from ._wire import plugin_name_for
from ._worker import install

#: How often a worker checks that the kernel's client is still connected (milliseconds).
LIVENESS_INTERVAL_MS = 1000


class TokenPlugin(WorkerPlugin):
    """Registered by :func:`nb_oauth.dask.share` once per kernel client."""

    idempotent = False

    def __init__(self, hub_id: str, timeout: float) -> None:
        self.hub_id = hub_id
        self.timeout = timeout
        self._watch: PeriodicCallback | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"hub_id": self.hub_id, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.hub_id, self.timeout, self._watch = state["hub_id"], state["timeout"], None

    def setup(self, worker: Any) -> None:
        install().attach(self.hub_id, worker, self.timeout)
        self._watch = PeriodicCallback(lambda: self._check(worker), LIVENESS_INTERVAL_MS)
        self._watch.start()

    def teardown(self, worker: Any) -> None:
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        install().detach(self.hub_id, "detached")

    async def _check(self, worker: Any) -> None:
        """The kernel is gone when the scheduler's events for its client end with its removal."""
        with contextlib.suppress(Exception):
            events = await worker.scheduler.events(topic=self.hub_id)
            actions = [msg.get("action") for _, msg in events if isinstance(msg, dict)]
            if not actions or actions[-1] == "remove-client":
                install().detach(self.hub_id, "kernel")
                if self._watch is not None:
                    self._watch.stop()


__all__ = ["TokenPlugin", "plugin_name_for"]
