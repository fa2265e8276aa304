"""Case 5: ``%load_ext nb_oauth`` in a fresh process, against ``import requests_oauthlib``.

Only the load step is timed (the IPython shell is built first, untimed), and ``import
nb_oauth`` alone is timed too. Each measurement is its own fresh interpreter; the three kinds
alternate so machine load falls on all of them. ``-X importtime`` shows what the load brings in.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from .context import Bench
from .harness import CaseResult, median, paired_ratio, within

TARGET = 1.5
TOP = 12
LOAD, IMPORT_OURS, IMPORT_BASE = "%load_ext nb_oauth", "import nb_oauth", "import requests_oauthlib"
MARKER = "--- nb_oauth benchmark: load starts ---"

LOAD_SCRIPT = f"""
import sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
before = set(sys.modules)
sys.stderr.write({MARKER!r} + "\\n"); sys.stderr.flush()
t = time.perf_counter()
ip.run_line_magic("load_ext", "nb_oauth")
elapsed = time.perf_counter() - t
assert "oauth_token" in ip.magics_manager.magics["line"], "the magics were not registered"
new = sorted(set(sys.modules) - before)
print(elapsed)
print(len(new))
print(" ".join(sorted({{m.split(".")[0] for m in new if not m.startswith(("_", "cython"))}})))
"""

IMPORT_SCRIPT = f"""
import sys, time
sys.stderr.write({MARKER!r} + "\\n"); sys.stderr.flush()
t = time.perf_counter()
import {{module}}
print(time.perf_counter() - t)
"""


@dataclass
class Fresh:
    """One fresh-process measurement."""

    seconds: float
    new_modules: int | None = None
    packages: list[str] | None = None


def magics_available() -> bool:
    return importlib.util.find_spec("nb_oauth.notebook.magics") is not None


def _env(ipython_dir: str) -> dict[str, str]:
    """A private IPython profile directory, so nothing of the user's is read or written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["IPYTHONDIR"] = ipython_dir
    return env


def fresh(script: str, ipython_dir: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *flags, "-c", script], capture_output=True, text=True,
                          env=_env(ipython_dir), timeout=120, check=True)


def measure(kind: str, ipython_dir: str) -> Fresh:
    if kind == LOAD:
        out = fresh(LOAD_SCRIPT, ipython_dir).stdout.split("\n")
        return Fresh(float(out[0]), int(out[1]), out[2].split())
    module = "nb_oauth" if kind == IMPORT_OURS else "requests_oauthlib"
    return Fresh(float(fresh(IMPORT_SCRIPT.format(module=module), ipython_dir).stdout.strip()))


def import_times(ipython_dir: str, script: str, marker: str) -> list[dict[str, Any]]:
    """Every import of a fresh run after ``marker``, from ``-X importtime``, slowest (cumulative) first."""
    err = fresh(script, ipython_dir, "-X", "importtime").stderr.splitlines()
    if marker in err:
        err = err[err.index(marker) + 1:]
    rows = []
    for line in err:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, cumulative, name = (part for part in [line[:12], *line[12:].split("|", 2)])
        rows.append({"module": name[1:].rstrip(), "self_ms": round(int(self_us) / 1000, 2),
                     "cumulative_ms": round(int(cumulative) / 1000, 2)})
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return rows


def top_level_total_ms(rows: list[dict[str, Any]]) -> float:
    """Import time of everything (nested imports are inside their parent's cumulative time)."""
    return round(sum(r["cumulative_ms"] for r in rows if not r["module"].startswith(" ")), 1)


def run(bench: Bench) -> CaseResult:
    rounds = 2 if bench.quick else 15
    kinds = [IMPORT_BASE, IMPORT_OURS] + ([LOAD] if magics_available() else [])
    samples: dict[str, list[Fresh]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="nb_oauth-bench-ipython-") as ipython_dir:
        for kind in kinds:  # warm the disk cache and IPython's profile directory
            measure(kind, ipython_dir)
        for i in range(rounds):
            for kind in kinds if i % 2 == 0 else list(reversed(kinds)):
                samples[kind].append(measure(kind, ipython_dir))
        load_rows = import_times(ipython_dir, LOAD_SCRIPT, MARKER) if LOAD in kinds else []
        import_rows = import_times(ipython_dir, IMPORT_SCRIPT.format(module="nb_oauth"), MARKER)
    secs = {k: [f.seconds for f in v] for k, v in samples.items()}
    ours_kind = LOAD if LOAD in kinds else IMPORT_OURS
    ratio = paired_ratio(secs[ours_kind], secs[IMPORT_BASE])
    extra: dict[str, Any] = {
        "median_ms": {k: round(median(v) * 1e3, 1) for k, v in secs.items()},
        "import_nb_oauth_ratio": round(paired_ratio(secs[IMPORT_OURS], secs[IMPORT_BASE]), 4),
        "importtime_top_import_nb_oauth": import_rows[:TOP],
    }
    notes = ["`%load_ext` can take less time than `import nb_oauth` in a bare interpreter: IPython has already "
             "imported part of what nb_oauth needs (json, logging, socket, dataclasses, inspect, random, ...)."]
    if LOAD in kinds:
        last = samples[LOAD][-1]
        extra.update(load_ext_new_modules=last.new_modules, load_ext_new_packages=last.packages,
                     load_imports_total_ms=top_level_total_ms(load_rows), importtime_top_load_ext=load_rows[:TOP])
    else:
        notes.append("nb_oauth.notebook.magics is not there yet: the ratio is for import nb_oauth; %load_ext is measured "
                     "once it exists.")
    return CaseResult(
        name="extension_load",
        title="5. %load_ext nb_oauth in a fresh process vs import requests_oauthlib",
        unit="ms",
        ours=round(median(secs[ours_kind]) * 1e3, 1),
        baseline=round(median(secs[IMPORT_BASE]) * 1e3, 1),
        baseline_name="import requests_oauthlib (fresh process)",
        ratio=round(ratio, 4),
        repetitions=rounds,
        target=f"ratio ≤ {TARGET}",
        passed=within(ratio, TARGET),
        extra=extra,
        notes=notes,
    )
