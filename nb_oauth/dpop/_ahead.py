"""Resource-request proofs signed a few at a time while a loop keeps calling one URL with one token.

An ES256 signature costs about three times as much right after a request (cold CPU caches) as
the next one signed straight after it, and the proof is most of what DPoP adds to a request. So
when the same request comes back within ``MAX_AGE``, the next proofs for it are signed in one run
(doubling up to ``MAX_RUN``, and no more than the loop's pace uses within half of ``MAX_AGE``).

Each proof still has its own ``jti`` and is used once, only for exactly the ``htm``, ``htu`` (the
URL without its query), token and nonce it was signed for, and at most ``MAX_AGE`` seconds after it
was signed, in the process that signed it (a forked child signs its own); a change of any of them,
or a pause, throws the rest away. Nothing is signed ahead for a one-off request.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable

MAX_AGE = 0.5  # seconds from signing to use: far inside any server's iat window
MAX_RUN = 32
clock = time.monotonic  # the age of a run (a module name, so a test can set it)
Want = tuple[str, str, str | None, str | None]  # (htm, htu, access token, nonce): what a proof is signed for


class ProofStock:
    """The proofs one key holds ready for its next resource requests."""

    __slots__ = ("_left", "_lock", "_made_at", "_pid", "_run", "_want")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._want: Want | None = None
        self._made_at = 0.0
        self._left: deque[str] = deque()
        self._run = 1
        self._pid = os.getpid()  # a forked child must not send the proofs its parent may send too

    def take(self, want: Want, sign: Callable[[], str]) -> str:
        """A proof for ``want``: a ready one if it is still fresh, else a new run of them."""
        now = clock()
        with self._lock:
            run = 1
            if want == self._want and now - self._made_at <= MAX_AGE and self._pid == os.getpid():
                if self._left:
                    return self._left.popleft()
                used, age = self._run, now - self._made_at  # the whole run went, this fast: sign more next
                pace = MAX_AGE / 2 * used / age if age > 0 else MAX_RUN
                run = max(1, min(MAX_RUN, 2 * used, int(pace)))
            self._want, self._left = None, deque()  # stale or for another request: never sent
        made = [sign() for _ in range(run)]
        with self._lock:
            self._want, self._made_at, self._left, self._run = want, now, deque(made[1:]), run
            self._pid = os.getpid()
        return made[0]
