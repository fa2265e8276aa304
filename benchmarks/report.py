"""Writing results.json (for machines), RESULTS.md (for people) and ratios.png from one run."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .plot import from_ratio, judged_ratios, write_plot

HOW_TO_READ = """\
Request cases send one request of every variant in turn, the order flipping every turn
(A B C, C B A, ...), and time each request on its own. A repeat is a few thousand turns; its
ratio is ours' median request time over the baseline's (the mean, where a case says so: there
some requests of a variant do work that the next ones then skip, so the median would hide it).
The verdict is on the median of the per-repeat ratios; min and max show the spread. Peers (requests-oauthlib, Authlib) take the
same turns and are reported the same way. Whole operations (a gather, a fresh process, a
storm) are timed whole and take turns the same way. Only ratios are meant to travel to another
machine: the absolute times depend on this one and on whatever else it was running (the load
average below says how busy it was).
"""


def write(out_dir: Path, payload: dict[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "results.json", out_dir / "RESULTS.md"
    plot = write_plot(payload["cases"], out_dir / "ratios.png")
    payload["plot"] = plot.name if plot else None
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown(payload), encoding="utf-8")
    return json_path, md_path


# -- markdown ----------------------------------------------------------------------------------------


def markdown(payload: dict[str, Any]) -> str:
    cases = payload["cases"]
    judged = judged_ratios(cases)
    passed = sum(1 for _, j in judged if j["passed"])
    parts = [
        "# nb_oauth benchmarks",
        "",
        f"Mode: **{payload['mode']}**"
        + (" (few repetitions, targets not enforced: the times are not meaningful)" if payload["mode"] == "quick"
           else "") + f". Whole run: {payload['duration_s']:.0f} s. Written by `make bench` "
        "(`python -m benchmarks.run`) from that run; nothing here is typed in by hand.",
        "",
        "## Results",
        "",
        f"{passed} of {len(judged)} ratios within their targets; every case: "
        + ("**all pass**." if payload["all_passed"] else "**not all pass**."),
        "",
        *[f"- {sentence}" for case in cases for sentence in sentences(case)],
    ]
    if payload.get("plot"):
        parts += ["", f"![nb_oauth's ratios against their targets]({payload['plot']})"]
    else:
        parts += ["", "(The plot of the ratios needs matplotlib: `pip install 'nb_oauth[bench]'`.)"]
    parts += ["", "## Machine", "", *machine_section(payload["machine"]), "", "## How to read this", "", HOW_TO_READ]
    for case in cases:
        parts += ["", f"## {case['title']}", "", *case_section(case)]
    return "\n".join(parts).rstrip() + "\n"


def _x(value: float) -> str:
    return f"{value:.3f}×"


def ratio_sentence(item: dict[str, Any], extra: dict[str, Any]) -> str:
    r = item["ratio"]
    repeats = len(r["per_repeat"])
    basis = f" of {extra['per_repeat']:,} interleaved {extra.get('counted', 'requests')}" if extra.get(
        "per_repeat") else ""
    if extra.get("statistic") == "mean":
        basis += ", each repeat's mean request"
    spread_text = (f"min {_x(r['min'])}, max {_x(r['max'])} over {repeats} repeats{basis}" if repeats > 1
                   else "one interleaved comparison")
    return (f"**{item['label']}**: {item['ours']}, **{_x(r['median'])}** the time of {item['baseline']} "
            f"({spread_text}); target ≤ {item['target']:g}: **{_verdict(item['passed'])}**.")


def peers_sentence(extra: dict[str, Any]) -> str | None:
    peers = {k: v for k, v in extra.get("variant_ratios", {}).items() if k != extra.get("ours_name")}
    if not peers:
        return None
    shown = ", ".join(f"{name} {_x(v['median'])} ({_x(v['min'])}–{_x(v['max'])})" for name, v in peers.items())
    return f"Beside it, on the same basis and the same baseline: {shown}."


def sentences(case: dict[str, Any]) -> list[str]:
    extra = case.get("extra", {})
    if "error" in extra:
        return [f"**{case['title']}**: the case failed to run (`{extra['error']}`)."]
    out = []
    judged = extra.get("judged") or from_ratio(case)
    for item in judged.values():
        text = ratio_sentence(item, extra if len(judged) == 1 and "judged" in extra else {})
        peers = peers_sentence(extra)
        out.append(text + (f" {peers}" if peers else ""))
    name = case["name"]
    if name == "async_gather":
        out.append(f"**Threads, async gather**: nb_oauth started {extra['extra_threads']} more threads than the "
                   f"static-header baseline ({_pairs(extra['threads_started'])}); at most 2 allowed. Sequential "
                   f"awaits: {_x(extra['sequential']['ratio_spread']['median'])} the baseline "
                   f"({extra['sequential']['added_us']:g} µs added per request).")
    elif name in ("refresh_storm", "async_refresh_storm"):
        out.append(_storm_sentence(case))
    elif name == "redirect_to_token":
        out.append(f"**{case['title'].split('. ', 1)[1]}**: {case['ours_median']:.2f} ms of nb_oauth's own time "
                   f"(median of {case['repetitions']}); target {case['target']}: **{_verdict(case['pass'])}**.")
    elif name == "long_run":
        m = extra["memory"]
        out.append(f"**{case['title'].split('. ', 1)[1]}**: {extra['failures']} failed calls, {extra['refreshes']} "
                   f"refreshes, {extra['calls_rescued_by_401_retry']} calls rescued by the 401 retry, RSS growth "
                   f"{m['rss_growth_kib']:g} KiB; target {case['target']}: **{_verdict(case['pass'])}**.")
    elif name == "dask_fan_out":
        out.append(f"**Dask fan-out, correctness**: {extra['failed_calls']} failed calls; token-endpoint requests "
                   f"per round {', '.join(str(r['refresh_requests']) for r in extra['rounds'])} for expiries "
                   f"{', '.join(str(r['expiries']) for r in extra['rounds'])}; whole case: "
                   f"**{_verdict(case['pass'])}**.")
    elif name == "refresh_memory":
        m = extra["refresh_memory"]
        out.append(f"**Memory across {extra['refreshes']:,} forced refreshes**: tracemalloc growth {m['growth_kib']:g} "
                   f"KiB from refresh 20 to the last (target ≤ {extra['max_growth_kib']} KiB); the trace keeps "
                   f"{m['steps_kept']} steps ({m['dropped_steps']:,} older refresh steps let go) and masks against "
                   f"{m['secrets_masked_against']} secrets: **{_verdict(case['pass'])}**.")
    return out


def _storm_sentence(case: dict[str, Any]) -> str:
    extra = case["extra"]
    clients = extra.get("clients") or extra.get("storm_clients") or {}
    shown = []
    for client, c in clients.items():
        refreshes = c.get("refreshes_per_storm", c.get("refreshes"))
        failures = c.get("failed_calls_per_storm", c.get("failures"))
        shown.append(f"{client} {', '.join(map(str, refreshes))} refreshes and {', '.join(map(str, failures))} "
                     "failed calls")
    return (f"**{case['title'].split('. ', 1)[1]}** (per storm, {case['repetitions']} storms): {'; '.join(shown)}; "
            f"target for nb_oauth {case['target']}: **{_verdict(case['pass'])}**.")


def _pairs(mapping: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in mapping.items())


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
    if "variants" in extra:
        lines += ["", *variants_table(extra, case["unit"])]
    if "sequential" in extra:
        lines += ["", "Sequential awaits, one request at a time:", "", *variants_table(extra["sequential"], "µs")]
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
    "auth_hook_cost_us": "nb_oauth's auth on one prepared request, no network (µs more than the static-header auth)",
    "auth_flow_cost_us": "nb_oauth's httpx auth flow for one request, no network (µs more than the static-header auth)",
    "fast_endpoint": "against a token endpoint that costs next to nothing (its own process, keep-alive)",
    "first_window_same_token_us": "median of the first refreshes of the long-refreshed token itself (µs)",
    "refresh_memory": "trace and memory after the refreshes",
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


def variants_table(extra: dict[str, Any], unit: str) -> list[str]:
    ratios = extra.get("variant_ratios", {})
    short = unit.split(" ")[0]
    rows = []
    for name, stats in extra["variants"].items():
        r = ratios.get(name)
        rows.append([name, f"{stats['median']:.1f}", f"{stats['min']:.1f}–{stats['max']:.1f}",
                     _x(r["median"]) if r else "1 (baseline)", f"{_x(r['min'])}–{_x(r['max'])}" if r else ""])
    how = extra.get("statistic", "median")
    return table(["Variant", f"{how} {short}", f"per-repeat {how}s {short}", "ratio", "ratio min–max"], rows)


def storm_table(clients: dict[str, Any]) -> list[str]:
    rows = [[name, ", ".join(map(str, c["refreshes_per_storm"])), ", ".join(map(str, c["failed_calls_per_storm"])),
             f"{c['median_storm_ms']:.0f}", ", ".join(f"{k} ×{v}" for k, v in c["errors"].items()) or "—"]
            for name, c in clients.items()]
    return table(["Client", "refresh requests per storm", "failed calls per storm", "median storm ms", "errors"],
                 rows)


def load_section(extra: dict[str, Any]) -> list[str]:
    lines = table(["Fresh process", "median ms"], [[k, f"{v:.1f}"] for k, v in extra["median_ms"].items()])
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


def _scalar(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _verdict(passed: bool | None) -> str:
    return {True: "pass", False: "MISS", None: "not judged"}[passed]
