"""Writing results.json (for machines) and RESULTS.md (for people) from one run."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HOW_TO_READ = """\
Every compared variant runs once per round and the order flips each round (A B C, C B A, ...),
so a busy phase of the machine hits all of them. **ratio** is the median of the per-round ratios
ours/baseline; medians of the raw times are shown beside it. Only ratios are meant to travel to
another machine: the absolute times depend on this one and on whatever else it was running.
"client CPU" is the CPU time of the calling thread per operation (`time.thread_time`), which
leaves out the server and the scheduler's noise and shows what the client library itself costs.
"""


def write(out_dir: Path, payload: dict[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "RESULTS.md"
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(payload), encoding="utf-8")
    return json_path, md_path


# -- markdown ----------------------------------------------------------------------------------------


def markdown(payload: dict[str, Any]) -> str:
    cases = payload["cases"]
    parts = [
        "# nb_oauth benchmarks",
        "",
        f"Mode: **{payload['mode']}**"
        + (" (few repetitions, targets not enforced: the times are not meaningful)" if payload["mode"] == "quick"
           else "") + f". Whole run: {payload['duration_s']:.0f} s. Run with `make bench` "
        "(`python -m benchmarks.run`).",
        "",
        "## Summary",
        "",
        *table(["Case", "nb_oauth", "Baseline", "Ratio", "Target", "Pass"],
               [[c["title"], _num(c["ours_median"], c["unit"]), _num(c["baseline_median"], c["unit"]),
                 _ratio(c["ratio"]), c["target"], _verdict(c["pass"])] for c in cases]),
        "",
        "## Machine",
        "",
        *machine_section(payload["machine"]),
        "",
        "## How to read this",
        "",
        HOW_TO_READ,
    ]
    for case in cases:
        parts += ["", f"## {case['title']}", "", *case_section(case)]
    return "\n".join(parts).rstrip() + "\n"


def machine_section(m: dict[str, Any]) -> list[str]:
    rows = [
        ["CPU", f"{m['cpu']}" + (" (virtual machine)" if m.get("virtualized") else "")],
        ["Cores", f"{m['cores']} ({m['cores_usable']} usable by this process), shared with other work"],
        ["Python", m["python"]],
        ["OS", m["os"]],
        ["Load average at start (1, 5, 15 min)", ", ".join(map(str, m.get("load_average_at_start") or [])) or "n/a"],
        ["Load average at end", ", ".join(map(str, m.get("load_average_at_end") or [])) or "n/a"],
        ["Date", m["date_utc"]],
    ]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items())
    return [*table(["", ""], rows), "", f"Packages: {packages}."]


def case_section(case: dict[str, Any]) -> list[str]:
    lines = [case["description"], ""] if case.get("description") else []
    lines += [f"Unit: {case['unit']}. Repetitions: {case['repetitions']}. Target: {case['target']}. "
              f"Result: **{_verdict(case['pass'])}**."]
    if case.get("baseline"):
        lines += ["", f"Baseline: {case['baseline']}."]
    extra = case.get("extra", {})
    if "error" in extra:
        lines += ["", f"The case failed to run: `{extra['error']}`"]
    if "variants_us" in extra:
        lines += ["", *variants_table(extra)]
    if "clients" in extra:
        lines += ["", *storm_table(extra["clients"])]
    if "median_ms" in extra:
        lines += ["", *load_section(extra)]
    if "medians_ms" in extra:
        lines += ["", *table(["Figure (median)", "ms"],
                             [[FIGURES.get(k, k), f"{v:.2f}"] for k, v in extra["medians_ms"].items()])]
    if "memory" in extra:
        lines += ["", *long_run_section(extra)]
    if "rounds" in extra:
        lines += ["", *fan_out_section(extra)]
    others = {k: v for k, v in extra.items() if k in SCALARS}
    if others:
        lines += ["", *[f"- {SCALARS[k]}: {_scalar(v)}" for k, v in others.items()]]
    for note in case.get("notes", []):
        lines += ["", note]
    return lines


FIGURES = {
    "total_ms": "redirect sent to the listener → Token returned",
    "token_round_trip_ms": "token POST round trip (subtracted)",
    "token_endpoint_ms": "token endpoint's own time, inside the server",
    "overhead_ms": "nb_oauth's own time (total − round trip)",
}

SCALARS = {
    "calls_per_round": "calls per round and variant",
    "fetches_per_round": "token requests per round and variant",
    "ratio_of_medians": "ratio of the medians (for comparison with the median of per-round ratios)",
    "auth_hook_cost_us": "nb_oauth's auth on one prepared request, no network (µs more than setting a static header)",
    "auth_flow_cost_us": "nb_oauth's httpx auth flow for one request, no network (µs more than httpx's no-op auth)",
    "fast_endpoint": "against a token endpoint that costs next to nothing (static answer, keep-alive)",
    "api": "API",
    "server": "token endpoint",
    "grant": "grant",
    "threads": "threads",
    "token_lifetime_s": "token lifetime (s)",
    "refresh_margin_s": "refresh margin (s)",
    "tasks": "Dask tasks per fan-out",
    "failed_calls": "failed calls",
    "listener_close_ms": "closing a callback listener right after it served a request (median ms)",
    "load_imports_total_ms": "all imports during `%load_ext nb_oauth` (sum of the top-level `-X importtime` entries, ms)",
}


def variants_table(extra: dict[str, Any]) -> list[str]:
    wall, cpu = extra["variants_us"], extra.get("client_cpu_us", {})
    ratios, cpu_ratios = extra.get("ratios_to_bare", {}), extra.get("client_cpu_ratios_to_bare", {})
    rows = []
    for name, stats in wall.items():
        rows.append([name, f"{stats['median']:.1f}", f"{stats['min']:.1f}", _ratio(ratios.get(name, 1.0)),
                     f"{cpu[name]['median']:.1f}" if name in cpu else "", _ratio(cpu_ratios.get(name, 1.0))])
    return table(["Variant", "median µs", "min µs", "ratio", "client CPU µs", "CPU ratio"], rows)


def storm_table(clients: dict[str, Any]) -> list[str]:
    rows = [[name, ", ".join(map(str, c["refreshes_per_storm"])), ", ".join(map(str, c["failed_calls_per_storm"])),
             f"{c['median_storm_ms']:.0f}", ", ".join(f"{k} ×{v}" for k, v in c["errors"].items()) or "—"]
            for name, c in clients.items()]
    return table(["Client", "refresh requests per storm", "failed calls per storm", "median storm ms", "errors"],
                 rows)


def load_section(extra: dict[str, Any]) -> list[str]:
    lines = table(["Fresh process", "median ms"], [[k, f"{v:.1f}"] for k, v in extra["median_ms"].items()])
    lines += ["", f"`import nb_oauth` / `import requests_oauthlib`: {_ratio(extra['import_nb_oauth_ratio'])}."]
    if extra.get("load_ext_new_modules") is not None:
        lines += ["", f"`%load_ext nb_oauth` imports {extra['load_ext_new_modules']} new modules; top-level "
                  f"packages: {', '.join(extra['load_ext_new_packages'])}."]
    for key, title in (("importtime_top_load_ext", "`-X importtime` during `%load_ext nb_oauth`"),
                       ("importtime_top_import_nb_oauth", "`-X importtime` of `import nb_oauth`")):
        rows = extra.get(key) or []
        if rows:
            lines += ["", f"{title}, slowest first (cumulative; indentation is nesting):", "",
                      *table(["module", "cumulative ms", "self ms"],
                             [[f"`{r['module']}`", f"{r['cumulative_ms']:.1f}", f"{r['self_ms']:.2f}"] for r in rows])]
    return lines


def long_run_section(extra: dict[str, Any]) -> list[str]:
    m = extra["memory"]
    rows = [
        ["calls", f"{extra['calls']:,} from {extra['threads']} threads in {extra['seconds']} s"],
        ["refresh requests at the server", extra["refreshes"]],
        ["failed calls", extra["failures"]],
        ["calls rescued by the 401 retry", extra["calls_rescued_by_401_retry"]],
        ["API checks expiry", "yes" if extra["api_checks_expiry"] else "no"],
        ["RSS first / last thousand / peak (MiB)",
         f"{m['rss_first_thousand_mib']} / {m['rss_last_thousand_mib']} / {m['rss_peak_mib']}"],
        ["allocated blocks first / last thousand",
         f"{m['allocated_blocks_first_thousand']:,} / {m['allocated_blocks_last_thousand']:,}"],
        ["memory flat", "yes" if m["flat"] else "no"],
    ]
    per = m.get("per_thousand", [])
    trend = ", ".join(f"{p['rss_mib']}" for p in per if p["rss_mib"] is not None)
    return [*table(["", ""], rows), "", f"RSS (MiB) at each thousand calls: {trend}."]


def fan_out_section(extra: dict[str, Any]) -> list[str]:
    rows = [[i + 1, f"{r['seconds']:.2f}", r["lifetimes_elapsed"], r["expiries"], r["refresh_requests"],
             r["failed_calls"]] for i, r in enumerate(extra["rounds"])]
    lines = table(["Round", "s (nb_oauth)", "token lifetimes elapsed", "expiries (came due)",
                   "token-endpoint requests", "failed calls"], rows)
    times = "; ".join(f"{name}: {', '.join(f'{x:.2f}' for x in v)} s" for name, v in extra["variants_s"].items())
    return [*lines, "", f"Fan-out wall times per round: {times}."]


# -- helpers -----------------------------------------------------------------------------------------


def table(header: list[str], rows: Iterable[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


SHORT_UNITS = {"calls per second": "calls/s", "refresh requests at the server per storm": "refresh"}


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    short = SHORT_UNITS.get(unit, unit.split(" ")[0])
    return f"{value:,.1f} {short}" if isinstance(value, float) else f"{value} {short}"


def _scalar(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}×"


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "MISS", None: "not judged"}[passed]
