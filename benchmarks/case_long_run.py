"""Case 7: 10,000 calls across the expiries of a 2-second token, from several threads.

The API here checks every token against the demo server's own records (expired or revoked
means 401), so a call that goes out with a stale token fails visibly unless nb_oauth's 401
retry rescues it. Memory is sampled every thousand calls (process RSS and the interpreter's
allocated blocks): a leak shows as growth from the first thousand to the last.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

import nb_oauth

from .apiserver import ApiServer
from .context import HTTP_TIMEOUT, Bench
from .harness import CaseResult

NAME = "bench-long"
THREADS = 4
#: Growth from the first to the last thousand calls that still counts as flat.
FLAT_RSS_BYTES = 4 * 1024 * 1024
FLAT_BLOCKS = 20_000


def rss_bytes() -> int | None:
    """Resident set size now (Linux /proc; None where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    import resource

    return pages * resource.getpagesize()


@dataclass
class Sample:
    calls: int
    seconds: float
    rss: int | None
    blocks: int


@dataclass
class Tally:
    """Shared between the worker threads."""

    total: int
    done: int = 0
    failures: int = 0
    retried: int = 0
    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    started: float = field(default_factory=time.perf_counter)

    def record(self, ok: bool, retried: bool) -> bool:
        """Count one call; every thousandth takes a memory sample. False when the work is done."""
        with self.lock:
            if self.done >= self.total:
                return False
            self.done += 1
            self.failures += not ok
            self.retried += retried
            if self.done % 1000 == 0 or self.done == 1:
                self.samples.append(Sample(self.done, time.perf_counter() - self.started, rss_bytes(),
                                           sys.getallocatedblocks()))
            return self.done < self.total


def validator_for(bench: Bench):  # type: ignore[no-untyped-def]
    """Accept exactly the access tokens the demo server considers live right now."""
    store = getattr(getattr(bench.demo, "_ctx", None), "store", None)
    if store is None:
        return None

    def valid(access_token: str) -> bool:
        token = store.find_access(access_token)
        return token is not None and not token.is_expired() and not token.is_revoked()

    return valid


def worker(session: requests.Session, url: str, tally: Tally) -> None:
    go = True
    while go:
        try:
            r = session.get(url, timeout=HTTP_TIMEOUT)
            ok, retried = r.status_code == 200, bool(r.history)
        except Exception:  # every kind of failure counts
            ok, retried = False, False
        go = tally.record(ok, retried)


def run(bench: Bench) -> CaseResult:
    total, lifetime = (3000, 1) if bench.quick else (10_000, 2)
    validator = validator_for(bench)
    api = ApiServer(validator).start()
    before = bench.demo.stats["token:refresh_token"]
    gc.collect()
    try:
        with bench.lifetime(lifetime):
            nb_oauth.get_new_access_token(bench.config(NAME, "password_credentials"))
            tally = Tally(total)
            sessions = [nb_oauth.session(NAME) for _ in range(THREADS)]
            threads = [threading.Thread(target=worker, args=(s, api.url, tally), daemon=True) for s in sessions]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - tally.started
    finally:
        api.stop()
    refreshes = bench.demo.stats["token:refresh_token"] - before
    memory = _memory(tally.samples)
    passed = tally.failures == 0 and memory["flat"]
    return CaseResult(
        name="long_run",
        title=f"7. Long run: {total:,} calls across expiries of a {lifetime}-second token",
        unit="calls per second",
        ours=round(tally.done / seconds, 1),
        baseline=None,
        ratio=None,
        repetitions=1,
        target="0 failed calls; memory flat (first vs last thousand calls)",
        passed=passed,
        extra={
            "calls": tally.done,
            "threads": THREADS,
            "seconds": round(seconds, 2),
            "token_lifetime_s": lifetime,
            "refreshes": refreshes,
            "refreshes_seen_by_store": nb_oauth.tokens.refresh_count(NAME),
            "failures": tally.failures,
            "calls_rescued_by_401_retry": tally.retried,
            "api_checks_expiry": validator is not None,
            "memory": memory,
        },
    )


def _memory(samples: list[Sample]) -> dict[str, Any]:
    first = next((s for s in samples if s.calls >= 1000), samples[0])
    last = samples[-1]
    rss = [s.rss for s in samples if s.rss is not None]
    rss_growth = (last.rss - first.rss) if last.rss is not None and first.rss is not None else 0
    block_growth = last.blocks - first.blocks
    return {
        "rss_first_thousand_mib": round(first.rss / 2**20, 2) if first.rss else None,
        "rss_last_thousand_mib": round(last.rss / 2**20, 2) if last.rss else None,
        "rss_peak_mib": round(max(rss) / 2**20, 2) if rss else None,
        "rss_growth_kib": round(rss_growth / 1024, 1),
        "allocated_blocks_first_thousand": first.blocks,
        "allocated_blocks_last_thousand": last.blocks,
        "allocated_blocks_growth": block_growth,
        "flat": rss_growth <= FLAT_RSS_BYTES and block_growth <= FLAT_BLOCKS,
        "per_thousand": [{"calls": s.calls, "rss_mib": round(s.rss / 2**20, 2) if s.rss else None,
                          "blocks": s.blocks} for s in samples],
    }
