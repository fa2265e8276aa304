"""Case 11: at least 10,000 GETs (enough to cross 5 expiries) fanned out on a Dask cluster (2 workers x 4 threads).

The kernel shares a short-lived token with ``nb_oauth.dask.share``; the workers call a loopback
API that checks every token against the demo server's records (an expired one gets a 401), so
a call sent with a stale token fails visibly unless the 401 retry rescues it. The demo server
rotates refresh tokens and counts the refresh requests it receives: the kernel must send one
per expiry, however many workers and threads find the token due. The baseline is the same
fan-out with a token that never expires, frozen into the task arguments in a static header:
what a fan-out costs when nothing ever needs refreshing.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import nb_oauth

from .apiserver import ApiServer
from .case_long_run import validator_for
from .context import HTTP_TIMEOUT, Bench
from .harness import CaseResult, Timing, interleave, median, paired_ratio, within

NAME = "bench-dask"
WORKERS, THREADS = 2, 4
TASKS = 80
#: The refresh margin is min(refresh_leeway, 20 % of the lifetime); a small leeway keeps the kernel's
#: refreshes close to the expiries themselves.
LEEWAY = 0.25
TARGET = 1.10
SHARED, STATIC = "nb_oauth.session, short-lived token shared", "static header, never-expiring token"


def gets(api: str, n: int, name: str | None, header: str | None) -> tuple[int, int]:
    """Run on a worker: ``n`` GETs with ``nb_oauth.session(name)`` or a static header; (calls, failed calls)."""
    import requests

    if name is not None:
        session = nb_oauth.session(name)
    else:
        session = requests.Session()
        session.headers["Authorization"] = header or ""
    failed = 0
    with session:
        for _ in range(n):
            try:
                failed += session.get(api, timeout=HTTP_TIMEOUT).status_code != 200
            except Exception:  # every kind of failure counts
                failed += 1
    return n, failed


class Chain(threading.Thread):
    """Watches the kernel's token for ``name``: when each token set appeared, and when it came due."""

    def __init__(self, name: str) -> None:
        super().__init__(daemon=True, name="bench-token-chain")
        self.name_ = name
        self.seen: list[tuple[float, float | None]] = []  # (appeared at, due at), epoch seconds
        self._halt = threading.Event()

    def run(self) -> None:
        last = None
        while not self._halt.wait(0.005):
            token_set = nb_oauth.tokens[self.name_].token_set
            if token_set is not last:
                last = token_set
                self.seen.append((time.time(), token_set.refresh_due_at(nb_oauth.tokens.config(self.name_).refresh_leeway)))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)

    def expiries(self, start: float, end: float) -> int:
        """Token sets that came due in [start, end] while still in force: each needs exactly one refresh.

        A refresh sent before its token came due (a second one for the same expiry) replaces a token
        that never came due, so it is not counted here and shows as a surplus of requests.
        """
        count = 0
        for i, (_, due) in enumerate(self.seen):
            replaced_at = self.seen[i + 1][0] if i + 1 < len(self.seen) else end
            if due is not None and start <= due <= min(replaced_at, end):
                count += 1
        return count


class Round:
    """One fan-out of ``calls`` GETs; keeps what the last run of each variant saw."""

    def __init__(self, client: Any, api: str, calls: int, chain: Chain | None = None) -> None:
        self.client, self.api, self.calls, self.chain = client, api, calls, chain
        self.failed: dict[str, list[int]] = {}
        self.per_round: list[dict[str, Any]] = []

    def variant(self, label: str, name: str | None, header: str | None, bench: Bench | None = None):  # type: ignore[no-untyped-def]
        def run() -> Timing:
            per_task = [self.calls // TASKS + (i < self.calls % TASKS) for i in range(TASKS)]
            before = bench.demo.stats["token:refresh_token"] if bench else 0
            store_before = nb_oauth.tokens.refresh_count(name) if bench and name else 0
            started, started_at = time.perf_counter(), time.time()
            futures = self.client.map(gets, [self.api] * TASKS, per_task, [name] * TASKS, [header] * TASKS,
                                      pure=False)
            results = self.client.gather(futures)
            wall, ended_at = time.perf_counter() - started, time.time()
            self.failed.setdefault(label, []).append(sum(r[1] for r in results))
            if bench and name:
                self.per_round.append({"seconds": round(wall, 2),
                                       "expiries": self.chain.expiries(started_at, ended_at) if self.chain else None,
                                       "lifetimes_elapsed": None,
                                       "refresh_requests": bench.demo.stats["token:refresh_token"] - before,
                                       "store_refreshes": nb_oauth.tokens.refresh_count(name) - store_before,
                                       "failed_calls": self.failed[label][-1]})
            return Timing(wall, 0.0)

        return run


#: Expiries each measured round must cross: the round is made long enough for them on this machine.
MIN_EXPIRIES = 5
#: The demo server issues whole seconds; one second is the shortest lifetime it gives.
LIFETIME = 1


def calls_for(warm: Round, static_header: str, minimum: int, *, quick: bool) -> int:
    """At least ``minimum`` GETs, and enough that a round outlasts :data:`MIN_EXPIRIES` expiries (with room to
    spare) at this machine's speed, timed on a warm-up round with the static header."""
    if quick:
        return minimum
    started = time.perf_counter()
    warm.variant(STATIC, None, static_header)()
    per_call = (time.perf_counter() - started) / warm.calls
    wanted = (MIN_EXPIRIES + 4) * LIFETIME / per_call  # room for a slower round than the warm-up one
    return max(minimum, math.ceil(wanted / 1000) * 1000)


def run(bench: Bench) -> CaseResult:
    from distributed import Client, LocalCluster

    import nb_oauth.dask

    minimum, rounds = (2_000, 1) if bench.quick else (10_000, 5)
    lifetime = LIFETIME
    validator = validator_for(bench)
    api = ApiServer(validator).start()
    try:
        with LocalCluster(n_workers=WORKERS, threads_per_worker=THREADS, processes=True, dashboard_address=None,
                          worker_dashboard_address=None) as cluster, Client(cluster) as client:
            with bench.lifetime(10 * 365 * 86400):
                static = nb_oauth.get_new_access_token(bench.config(NAME + "-static", "password_credentials"))
            nb_oauth.get_new_access_token(bench.config(NAME, "password_credentials", refresh_leeway=LEEWAY))
            nb_oauth.dask.share(client, NAME)
            warm = Round(client, api.url, TASKS * 10)  # imports and connections on the workers
            for label, name in ((STATIC, None), (SHARED, NAME)):
                warm.variant(label, name, f"Bearer {static.access_token}" if name is None else None)()
            calls = calls_for(warm, f"Bearer {static.access_token}", minimum, quick=bench.quick)
            with bench.lifetime(lifetime):
                nb_oauth.tokens.refresh(NAME)  # from here on every token set lives ``lifetime`` seconds
                chain = Chain(NAME)
                chain.start()
                fan = Round(client, api.url, calls, chain)
                variants = {STATIC: fan.variant(STATIC, None, f"Bearer {static.access_token}"),
                            SHARED: fan.variant(SHARED, NAME, None, bench)}
                samples = interleave(variants, rounds=rounds, warmup=0)
                chain.stop()
            nb_oauth.dask.unshare(client, NAME)
    finally:
        api.stop()
    wall = {k: [t.wall for t in v] for k, v in samples.items()}
    ratio = paired_ratio(wall[SHARED], wall[STATIC])
    measured = fan.per_round
    margin = min(LEEWAY, 0.2 * lifetime)
    for r in measured:
        r["lifetimes_elapsed"] = round(r["seconds"] / lifetime, 2)
    failed = sum(sum(v) for v in fan.failed.values())
    # one request per expiry; a refresh sent at a round's edge lands in the next round (or after the last one)
    counts_ok = all(abs(r["refresh_requests"] - r["expiries"]) <= 1 for r in measured) and \
        sum(r["expiries"] for r in measured) - 1 <= sum(r["refresh_requests"] for r in measured) \
        <= sum(r["expiries"] for r in measured) + 1
    enough = all(r["expiries"] >= MIN_EXPIRIES for r in measured)
    passed = within(ratio, TARGET) is True and failed == 0 and counts_ok and enough
    return CaseResult(
        name="dask_fan_out",
        title=f"11. Dask fan-out: {calls:,} GETs on {WORKERS} workers x {THREADS} threads across expiries",
        unit="s per fan-out",
        ours=round(median(wall[SHARED]), 3),
        baseline=round(median(wall[STATIC]), 3),
        baseline_name="the same fan-out, a never-expiring token in a static header (frozen into the task arguments)",
        ratio=round(ratio, 4),
        repetitions=rounds,
        target=f"ratio ≤ {TARGET}; 0 failed calls; token-endpoint requests = expiries (±1 per round and in all); "
               f"≥ {MIN_EXPIRIES} expiries",
        passed=passed,
        extra={
            "calls_per_round": calls,
            "tasks": TASKS,
            "token_lifetime_s": lifetime,
            "refresh_margin_s": margin,
            "failed_calls": failed,
            "rounds": measured,
            "variants_s": {k: [round(x, 3) for x in v] for k, v in wall.items()},
            "ratio_of_medians": round(median(wall[SHARED]) / median(wall[STATIC]), 4),
            "api_checks_expiry": validator is not None,
        },
        notes=["Expiries: the kernel's token sets that came due (lifetime − refresh margin after they were issued) "
               "during the fan-out while still in force, from watching the kernel's store every 5 ms; the refresh "
               "margin is min(refresh_leeway, 20 % of the lifetime). A surplus refresh replaces a token before it "
               "is due, so it shows as more requests than expiries; a refresh sent as a round ends is counted in "
               "the next round (or after the last), hence one more or one fewer in a round."],
    )
