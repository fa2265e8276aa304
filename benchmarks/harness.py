"""Measuring on a shared, noisy machine: interleaved requests, per-request medians, repeats.

The request cases (:func:`interleave_requests`) send one request of every variant in turn,
the order flipping every time (A B C, C B A, ...), and time each request on its own, so a slow
phase of the machine falls on all variants alike. A repeat is a few thousand such turns; its
ratio is the median request time of ours over the baseline's. A case reports the median of the
per-repeat ratios (that is what passes or fails) and their min and max, so the spread is seen.
The older batch helpers (:func:`interleave`, :func:`per_call`) serve the cases that time
whole operations (fresh processes, storms).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple


class Timing(NamedTuple):
    """Seconds per operation of one batch: elapsed, and CPU time of the calling thread."""

    wall: float
    cpu: float


#: A variant runs one batch and returns its timing per operation.
Batch = Callable[[], Timing]
Samples = dict[str, list[Timing]]


@dataclass
class CaseResult:
    """One case as written to results.json (times in the case's ``unit``)."""

    name: str
    title: str
    unit: str
    ours: float | None
    baseline: float | None
    ratio: float | None
    repetitions: int
    target: str
    passed: bool | None
    baseline_name: str | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The shape results.json promises: our median, the baseline's, their ratio, the verdict."""
        data = asdict(self)
        return {
            "name": data.pop("name"),
            "title": data.pop("title"),
            "unit": data.pop("unit"),
            "ours_median": data.pop("ours"),
            "baseline_median": data.pop("baseline"),
            "baseline": data.pop("baseline_name"),
            "ratio": data.pop("ratio"),
            "repetitions": data.pop("repetitions"),
            "target": data.pop("target"),
            "pass": data.pop("passed"),
            **data,
        }


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(ours: list[float], base: list[float]) -> float:
    """Median of the per-round ratios ours[i] / base[i]."""
    return statistics.median(a / b for a, b in zip(ours, base, strict=True))


def interleave(variants: Mapping[str, Batch], rounds: int, warmup: int = 1) -> Samples:
    """Run every variant ``warmup`` times unrecorded, then ``rounds`` times in alternating order."""
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    samples: Samples = {name: [] for name in names}
    for i in range(rounds):
        for name in names if i % 2 == 0 else reversed(names):
            samples[name].append(variants[name]())
    return samples


def per_call(fn: Callable[[], object], n: int) -> Batch:
    """A batch of ``n`` calls of ``fn``, timed as one, in seconds per call."""

    def batch() -> Timing:
        cpu, start = time.thread_time(), time.perf_counter()
        for _ in range(n):
            fn()
        return Timing((time.perf_counter() - start) / n, (time.thread_time() - cpu) / n)

    return batch


def walls(samples: Samples) -> dict[str, list[float]]:
    return {name: [t.wall for t in v] for name, v in samples.items()}


def cpus(samples: Samples) -> dict[str, list[float]]:
    return {name: [t.cpu for t in v] for name, v in samples.items()}


def summary(samples: Mapping[str, list[float]], scale: float = 1e6) -> dict[str, dict[str, float]]:
    """Median, min and max of each variant, scaled (default: seconds to microseconds)."""
    return {
        name: {"median": round(median(v) * scale, 2), "min": round(min(v) * scale, 2),
               "max": round(max(v) * scale, 2)}
        for name, v in samples.items()
    }


def ratios_to(samples: Mapping[str, list[float]], base: str) -> dict[str, float]:
    """Each variant's paired ratio to ``base``."""
    return {name: round(paired_ratio(v, samples[base]), 4) for name, v in samples.items() if name != base}


def within(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


# -- request by request ---------------------------------------------------------------------------------

#: One request of a variant (raises when the answer is not what the case expects).
Call = Callable[[], object]


@dataclass
class Repeats:
    """Per-request wall seconds of every variant, one dict per repeat."""

    runs: list[dict[str, list[float]]]

    @property
    def names(self) -> list[str]:
        return list(self.runs[0]) if self.runs else []

    @property
    def requests(self) -> int:
        return len(next(iter(self.runs[0].values()))) if self.runs else 0

    def medians(self, name: str) -> list[float]:
        """The per-request median of each repeat."""
        return [median(run[name]) for run in self.runs]

    def means(self, name: str) -> list[float]:
        """The per-request mean of each repeat: the whole loop's time over its requests."""
        return [statistics.fmean(run[name]) for run in self.runs]

    def per_request(self, name: str, statistic: str = "median") -> list[float]:
        return self.means(name) if statistic == "mean" else self.medians(name)

    def ratios(self, name: str, base: str, statistic: str = "median") -> list[float]:
        """Per repeat: the median (or mean) request of ``name`` over that of ``base``."""
        return [a / b for a, b in zip(self.per_request(name, statistic), self.per_request(base, statistic),
                                      strict=True)]


def interleave_requests(calls: Mapping[str, Call], *, requests: int, repeats: int, warmup: int = 20,
                        settle: Callable[[], object] | None = None) -> Repeats:
    """``repeats`` times: ``requests`` turns of one request per variant.

    The order changes every turn, through every rotation and its reverse (A B C, C B A, B C A, A C B, ...),
    so no variant keeps a place (always first, always right after another). ``settle`` runs untimed before
    each timed call (e.g. ``gc.collect`` where a call leaves much garbage behind).
    """
    names = list(calls)
    rotations = [names[k:] + names[:k] for k in range(len(names))]
    orders = [order for rotation in rotations for order in (rotation, rotation[::-1])]
    clock = time.perf_counter
    for _ in range(warmup):
        for name in names:
            calls[name]()
    runs = []
    for _ in range(repeats):
        times: dict[str, list[float]] = {name: [] for name in names}
        for i in range(requests):
            for name in orders[i % len(orders)]:
                fn = calls[name]
                if settle is not None:
                    settle()
                start = clock()
                fn()
                times[name].append(clock() - start)
        runs.append(times)
    return Repeats(runs)


def spread(values: list[float], digits: int = 4) -> dict[str, Any]:
    """Median, min and max of per-repeat figures, and the figures themselves."""
    return {"median": round(median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits), "per_repeat": [round(v, digits) for v in values]}


def repeated_result(*, name: str, title: str, unit: str, rep: Repeats, ours: str, base: str, baseline_name: str,
                    target: float, extra: dict[str, Any] | None = None, notes: list[str] | None = None,
                    scale: float = 1e6, counted: str = "requests", statistic: str = "median") -> CaseResult:
    """A ratio case judged on the median of its per-repeat ratios, with every variant's figures.

    ``statistic`` is what one repeat's requests are summed up by: their median, or their mean where
    the requests of a variant differ by design (some do work the next ones then skip)."""
    ratios = rep.ratios(ours, base, statistic)
    ratio = median(ratios)
    variants = {n: spread([m * scale for m in rep.per_request(n, statistic)], 2) for n in rep.names}
    return CaseResult(
        name=name,
        title=title,
        unit=unit,
        ours=variants[ours]["median"],
        baseline=variants[base]["median"],
        baseline_name=baseline_name,
        ratio=round(ratio, 4),
        repetitions=len(rep.runs),
        target=f"ratio ≤ {target}",
        passed=within(ratio, target),
        extra={
            "judged": {"main": {"label": title.split(": ", 1)[-1], "ours": ours, "baseline": baseline_name,
                                "target": target, "ratio": spread(ratios), "passed": ratio <= target}},
            "ours_name": ours,
            "base_name": base,
            "counted": counted,
            "per_repeat": rep.requests,
            "ratio_spread": spread(ratios),
            "statistic": statistic,
            "variants": variants,
            "variant_ratios": {n: spread(rep.ratios(n, base, statistic)) for n in rep.names if n != base},
            **(extra or {}),
        },
        notes=notes or [],
    )


API_DESCRIPTION = "stdlib HTTP/1.1 keep-alive server in its own process, 11-byte JSON body"


def request_overhead_result(*, name: str, title: str, baseline_name: str, samples: Samples, ours_name: str,
                            base_name: str, rounds: int, calls: int, target: float, extra: dict[str, Any],
                            notes: list[str]) -> CaseResult:
    """The result of a per-GET overhead case (requests or httpx): same figures, same layout."""
    wall, cpu = walls(samples), cpus(samples)
    ours, base = wall[ours_name], wall[base_name]
    ratio = paired_ratio(ours, base)
    return CaseResult(
        name=name,
        title=title,
        unit="µs per GET",
        ours=round(median(ours) * 1e6, 2),
        baseline=round(median(base) * 1e6, 2),
        baseline_name=baseline_name,
        ratio=round(ratio, 4),
        repetitions=rounds,
        target=f"ratio ≤ {target}",
        passed=within(ratio, target),
        extra={
            "calls_per_round": calls,
            "variants_us": summary(wall),
            "ratios_to_bare": ratios_to(wall, base_name),
            "ratio_of_medians": round(median(ours) / median(base), 4),
            "client_cpu_us": summary(cpu),
            "client_cpu_ratios_to_bare": ratios_to(cpu, base_name),
            **extra,
            "api": API_DESCRIPTION,
        },
        notes=notes,
    )
