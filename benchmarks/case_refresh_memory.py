"""Case 10: 2,000 forced refreshes of one token: memory stays flat and the last refreshes are as fast as the first.

The token endpoint is the minimal API's ``POST /token`` in its own process (new random access
and refresh tokens every call), so nothing the server keeps shows in this process's memory.
``tracemalloc`` counts what this process allocates: the growth from refresh 20 to the last one
must stay within 64 KiB. For time, a second token's first 100 refreshes are interleaved with
the first token's last 100 (one of each in turn, the order flipping), so the same machine load
falls on both; the ratio of their median times must stay within 1.2.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable

import nb_oauth

from .context import Bench
from .harness import CaseResult, median

REFRESHES, WARM, WINDOW = 2000, 20, 100
MAX_GROWTH_KIB, TARGET = 64, 1.2
NAME = "bench-refresh-memory"


def _token(bench: Bench, name: str) -> nb_oauth.Token:
    return nb_oauth.get_new_access_token(bench.config(name, access_token_url=bench.fast_token_url))


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def memory_growth(bench: Bench, total: int) -> dict[str, float]:
    token = _token(bench, NAME + "-mem")
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(WARM):
            token.refresh()
        gc.collect()
        at_warm = tracemalloc.get_traced_memory()[0]
        for _ in range(total - WARM):
            token.refresh()
        gc.collect()
        at_end = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return {"growth_kib": round((at_end - at_warm) / 1024, 1), "steps_kept": len(token.trace or ()),
            "dropped_steps": token.trace.dropped if token.trace else 0,
            "secrets_masked_against": token.trace.secret_count if token.trace else 0}


def run(bench: Bench) -> CaseResult:
    total, window = (200, 30) if bench.quick else (REFRESHES, WINDOW)
    memory = memory_growth(bench, total)
    old, new = _token(bench, NAME + "-old"), _token(bench, NAME + "-new")
    first_window = [_timed(old.refresh) for _ in range(window)]
    for _ in range(total - 2 * window):
        old.refresh()
    late, early = [], []
    for i in range(window):  # old's last refreshes against new's first, in turn
        pair = ((late, old), (early, new)) if i % 2 == 0 else ((early, new), (late, old))
        for times, token in pair:
            times.append(_timed(token.refresh))
    ratio = median(late) / median(early)
    passed = memory["growth_kib"] <= MAX_GROWTH_KIB and ratio <= TARGET
    judged = {"time": {"label": f"refresh time, last {window} of {total:,} vs first {window}",
                       "ours": f"the last {window} refreshes", "target": TARGET, "passed": ratio <= TARGET,
                       "baseline": f"the first {window} refreshes of a fresh token, interleaved with them",
                       "ratio": {"median": round(ratio, 4), "min": round(ratio, 4), "max": round(ratio, 4),
                                 "per_repeat": [round(ratio, 4)]}}}
    return CaseResult(
        name="refresh_memory",
        title=f"10. {total:,} forced refreshes: memory and time per refresh",
        unit="µs per refresh",
        ours=round(median(late) * 1e6, 1),
        baseline=round(median(early) * 1e6, 1),
        baseline_name=f"the first {window} refreshes of a fresh token, interleaved with the last {window} of one "
                      f"refreshed {total:,} times",
        ratio=round(ratio, 4),
        repetitions=1,
        target=f"tracemalloc growth ≤ {MAX_GROWTH_KIB} KiB after {WARM} refreshes; last {window} / first {window} "
               f"median ≤ {TARGET}",
        passed=passed,
        extra={"judged": judged, "refresh_memory": memory, "max_growth_kib": MAX_GROWTH_KIB, "refreshes": total, "window": window,
               "first_window_same_token_us": round(median(first_window) * 1e6, 1),
               "refresh_count": nb_oauth.tokens.refresh_count(NAME + "-old")},
    )
