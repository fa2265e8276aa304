"""One blocking refresh at a time per event loop, for the async httpx flow: the requests that find a refresh
due while one runs wait for it on the loop, not in more worker threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._token import TokenSet


class Flight:
    """One refresh in a worker thread, as the requests waiting for it on the event loop see it."""

    __slots__ = ("answer", "answered", "done")

    def __init__(self, done: Any) -> None:
        self.done = done
        self.answer: TokenSet | None = None
        self.answered = False


async def in_thread_once(flights: dict[int, Flight], blocking: Callable[[], TokenSet | None],
                         reuse: Callable[[], TokenSet | None], *, none_is_an_answer: bool = False) -> Any:
    """``blocking()`` in a worker thread, single-flight per event loop (one loop runs per thread).

    Callers arriving meanwhile wait for it without a thread, then take ``reuse()`` when that gives a
    token set, else the answer the refresh in flight gave (an early refresh that failed still hands
    back the valid token); only when it raised does the next caller ask the store itself (whose
    failure hold answers at once)."""
    import anyio
    import anyio.to_thread

    loop_thread = threading.get_ident()
    while (flight := flights.get(loop_thread)) is not None:
        await flight.done.wait()
        reused = reuse()
        if reused is not None:
            return reused
        if flight.answered and (flight.answer is not None or none_is_an_answer):
            return flight.answer
    flight = Flight(anyio.Event())
    flights[loop_thread] = flight
    try:
        flight.answer = await anyio.to_thread.run_sync(blocking)
        flight.answered = True
        return flight.answer
    finally:
        del flights[loop_thread]
        flight.done.set()
