"""Case 5: ``%load_ext nb_oauth`` against ``import requests_oauthlib``, in the same kind of fresh IPython process.

Every measurement is a fresh interpreter that first builds an IPython shell (untimed), then
times one step: ``%load_ext nb_oauth`` or ``import requests_oauthlib``. Both are measured with
bytecode (the usual case) and on a first import: then the interpreter's bytecode cache
(``PYTHONPYCACHEPREFIX``) holds the shell's modules only, so whatever the step imports is
compiled from source, as on the first run after an install. ``import nb_oauth`` is also
compared with ``import requests_oauthlib`` as whole processes (``python -c``, start to exit).
All kinds take turns, the order flipping every round; each round gives one ratio per pair.
``-X importtime`` shows what the load brings in.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .context import Bench
from .harness import CaseResult, median, spread

TARGETS = {"load_bytecode": 1.5, "load_first": 1.5, "import_process": 1.2}
AIM = 1.2
TOP = 12
MARKER = "--- nb_oauth benchmark: load starts ---"

SHELL_SCRIPT = f"""
import sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
sys.stderr.write({MARKER!r} + "\\n"); sys.stderr.flush()
t = time.perf_counter()
{{step}}
elapsed = time.perf_counter() - t
{{check}}
print(elapsed)
"""
STEPS = {
    "ours": ('ip.run_line_magic("load_ext", "nb_oauth")',
             'assert "oauth_token" in ip.magics_manager.magics["line"], "the magics were not registered"'),
    "base": ("import requests_oauthlib", "assert requests_oauthlib.OAuth2Session"),
}
KINDS = {
    "%load_ext nb_oauth, bytecode": ("shell", "ours", False),
    "import requests_oauthlib, bytecode": ("shell", "base", False),
    "%load_ext nb_oauth, first import": ("shell", "ours", True),
    "import requests_oauthlib, first import": ("shell", "base", True),
    "python -c 'import nb_oauth'": ("process", "nb_oauth", False),
    "python -c 'import requests_oauthlib'": ("process", "requests_oauthlib", False),
}
PAIRS = {  # judged ratio -> (ours, baseline)
    "load_bytecode": ("%load_ext nb_oauth, bytecode", "import requests_oauthlib, bytecode"),
    "load_first": ("%load_ext nb_oauth, first import", "import requests_oauthlib, first import"),
    "import_process": ("python -c 'import nb_oauth'", "python -c 'import requests_oauthlib'"),
}
LABELS = {
    "load_bytecode": "%load_ext nb_oauth (with bytecode)",
    "load_first": "%load_ext nb_oauth (first import, no bytecode)",
    "import_process": "import nb_oauth (whole process)",
}


class Runner:
    """Fresh interpreters with a private IPython directory and, for first imports, a bytecode cache
    holding only what building the shell needs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ipython_dir = root / "ipython"
        self.shell_cache = root / "pycache-shell"
        self._fresh = 0

    def env(self, pycache: Path | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["IPYTHONDIR"] = str(self.ipython_dir)
        if pycache is not None:
            env["PYTHONPYCACHEPREFIX"] = str(pycache)
        return env

    def prepare(self) -> None:
        """The shell's bytecode, once: every first-import run starts from a copy of it."""
        shell_only = SHELL_SCRIPT.format(step="pass", check="")
        subprocess.run([sys.executable, "-c", shell_only], env=self.env(self.shell_cache), capture_output=True,
                       timeout=300, check=True)

    def _fresh_cache(self) -> Path:
        self._fresh += 1
        target = self.root / f"pycache-{self._fresh}"
        shutil.copytree(self.shell_cache, target, copy_function=os.link)
        return target

    def measure(self, kind: str, *flags: str) -> tuple[float, str]:
        how, what, first = KINDS[kind]
        cache = self._fresh_cache() if first else None
        try:
            if how == "process":
                start = time.perf_counter()
                proc = subprocess.run([sys.executable, *flags, "-c", f"import {what}"], env=self.env(None),
                                      capture_output=True, text=True, timeout=120, check=True)
                return time.perf_counter() - start, proc.stderr
            step, check = STEPS[what]
            proc = subprocess.run([sys.executable, *flags, "-c", SHELL_SCRIPT.format(step=step, check=check)],
                                  env=self.env(cache), capture_output=True, text=True, timeout=300, check=True)
            return float(proc.stdout.strip().splitlines()[-1]), proc.stderr
        finally:
            if cache is not None:
                shutil.rmtree(cache, ignore_errors=True)


def import_times(stderr: str) -> list[dict[str, Any]]:
    """The ``-X importtime`` lines after the marker, slowest (cumulative) first."""
    lines = stderr.splitlines()
    if MARKER in lines:
        lines = lines[lines.index(MARKER) + 1:]
    rows = []
    for line in lines:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative, name = (part for part in line[12:].split("|", 2))
        rows.append({"module": name[1:].rstrip(), "self_ms": round(int(self_us) / 1000, 2),
                     "cumulative_ms": round(int(cumulative) / 1000, 2)})
    rows.sort(key=lambda r: r["cumulative_ms"], reverse=True)
    return rows


def top_level_total_ms(rows: list[dict[str, Any]]) -> float:
    """Import time of everything (nested imports are inside their parent's cumulative time)."""
    return round(sum(r["cumulative_ms"] for r in rows if not r["module"].startswith(" ")), 1)


def run(bench: Bench) -> CaseResult:
    rounds = 1 if bench.quick else 12
    kinds = list(KINDS)
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="nb_oauth-bench-load-") as tmp:
        runner = Runner(Path(tmp))
        runner.prepare()
        for kind in [] if bench.quick else kinds:  # warm the disk cache and the bytecode next to the sources
            runner.measure(kind)
        for i in range(rounds):
            for kind in kinds if i % 2 == 0 else kinds[::-1]:
                samples[kind].append(runner.measure(kind)[0])
        load_rows = import_times(runner.measure("%load_ext nb_oauth, bytecode", "-X", "importtime")[1])
        import_rows = import_times(runner.measure("python -c 'import nb_oauth'", "-X", "importtime")[1])
    judged = {}
    for key, (ours, base) in PAIRS.items():
        ratios = [a / b for a, b in zip(samples[ours], samples[base], strict=True)]
        judged[key] = {"label": LABELS[key], "ours": ours, "baseline": base, "target": TARGETS[key],
                       "ratio": spread(ratios), "passed": median(ratios) <= TARGETS[key]}
    main = judged["load_bytecode"]
    return CaseResult(
        name="extension_load",
        title="5. %load_ext nb_oauth vs import requests_oauthlib, in the same kind of fresh IPython process",
        unit="ms",
        ours=round(median(samples[main["ours"]]) * 1e3, 1),
        baseline=round(median(samples[main["baseline"]]) * 1e3, 1),
        baseline_name="import requests_oauthlib in a fresh process that built the same IPython shell first",
        ratio=main["ratio"]["median"],
        repetitions=rounds,
        target=(f"each ratio ≤ its target: %load_ext ≤ {TARGETS['load_bytecode']} with bytecode and on a first "
                f"import (aim {AIM}), import nb_oauth ≤ {TARGETS['import_process']} as a whole process"),
        passed=all(j["passed"] for j in judged.values()),
        extra={
            "judged": judged,
            "median_ms": {k: round(median(v) * 1e3, 1) for k, v in samples.items()},
            "load_imports_total_ms": top_level_total_ms(load_rows),
            "importtime_top_load_ext": load_rows[:TOP],
            "importtime_top_import_nb_oauth": import_rows[:TOP],
        },
    )
