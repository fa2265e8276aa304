"""``python -m benchmarks.run [--quick]``: start the servers, run every case, write the results.

The full run enforces the targets (exit status 1 when one is missed, after the results are
written); ``--quick`` runs everything with few repetitions in well under a minute, enforces
nothing, and writes to a temporary directory unless ``--out`` says where.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nb_oauth

from . import (
    case_async,
    case_dask,
    case_dpop,
    case_httpx,
    case_load,
    case_long_run,
    case_redirect,
    case_refresh_memory,
    case_refresh_storm,
    case_requests,
    case_signed_auth,
    case_token_fetch,
    machine,
    report,
)
from .context import Bench
from .harness import CaseResult

CASES: dict[str, Callable[[Bench], CaseResult]] = {
    "requests": case_requests.run,
    "httpx": case_httpx.run,
    "token_fetch": case_token_fetch.run,
    "refresh_storm": case_refresh_storm.run,
    "load": case_load.run,
    "redirect": case_redirect.run,
    "long_run": case_long_run.run,
    "async": case_async.run,
    "async_storm": case_async.run_storm,
    "refresh_memory": case_refresh_memory.run,
    "dask": case_dask.run,
    "dpop": case_dpop.run,
    "signed_auth": case_signed_auth.run,
}
HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions, no targets enforced")
    parser.add_argument("--only", nargs="+", choices=list(CASES), help="run only these cases")
    parser.add_argument("--out", type=Path, help="directory for results.json and RESULTS.md")
    parser.add_argument("--no-enforce", action="store_true", help="exit 0 even when a target is missed")
    return parser.parse_args(argv)


def run_case(name: str, fn: Callable[[Bench], CaseResult], bench: Bench) -> CaseResult:
    """One case; a crash becomes a failed result so the other cases still run."""
    gc.collect()
    started = time.perf_counter()
    try:
        result = fn(bench)
    except Exception as exc:
        traceback.print_exc()
        result = CaseResult(name=name, title=name, unit="", ours=None, baseline=None, ratio=None, repetitions=0,
                            target="runs", passed=False, extra={"error": f"{type(exc).__name__}: {exc}"})
    result.extra["case_seconds"] = round(time.perf_counter() - started, 1)
    result.description = result.description or _description(sys.modules[fn.__module__].__doc__)
    verdict = {True: "pass", False: "MISS", None: "-"}[result.passed]
    print(f"  {result.title}: ours={result.ours} baseline={result.baseline} ratio={result.ratio} "
          f"target={result.target!r} -> {verdict} ({result.extra['case_seconds']} s)", flush=True)
    return result


def _description(doc: str | None) -> str:
    """The case module's docstring as one paragraph, without its "Case N:" label."""
    text = " ".join((doc or "").split())
    if text.startswith("Case ") and ": " in text[:10]:
        text = text.split(": ", 1)[1]
    return text[:1].upper() + text[1:]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = args.out or (Path(tempfile.gettempdir()) / "nb_oauth-bench-quick" if args.quick else HERE)
    started = time.perf_counter()
    described = machine.describe()
    bench = Bench(quick=args.quick).start()
    results: list[CaseResult] = []
    try:
        for name, fn in CASES.items():
            if args.only and name not in args.only:
                continue
            results.append(run_case(name, fn, bench))
    finally:
        bench.stop()
        nb_oauth.tokens.clear()
    described["load_average_at_end"] = machine.load_average()
    payload: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "machine": described,
        "duration_s": round(time.perf_counter() - started, 1),
        "all_passed": all(r.passed is not False for r in results),
        "cases": [r.to_json() for r in results],
    }
    json_path, md_path = report.write(out, payload)
    print(f"wrote {json_path} and {md_path}")
    crashed = [r.name for r in results if "error" in r.extra]
    if crashed:
        print(f"cases that could not run: {', '.join(crashed)}", file=sys.stderr)
        return 2
    if args.quick or args.no_enforce or payload["all_passed"]:
        return 0
    missed = [r.name for r in results if r.passed is False]
    print(f"targets missed: {', '.join(missed)}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
