"""Figures the reliability and security tests reach, merged into one JSON file per run.

Each test group records what it measured (requests fired, cases covered, seconds taken) under
its own section of ``test-artifacts/security-report.json``, so a reviewer sees the numbers
behind the pass without reading logs.  Writes merge with what is there, are atomic, and are
serialised with a lock file where the platform has ``fcntl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "test-artifacts" / "security-report.json"

_lock = threading.Lock()


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """Serialise writers across threads and, where possible, across processes."""
    with _lock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - non-POSIX
            yield
            return
        with open(path.with_suffix(".lock"), "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def read(path: Path = REPORT) -> dict[str, Any]:
    """The report as it is now (an empty dict when there is none or it is unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def record(section: str, figures: Mapping[str, Any], path: Path = REPORT) -> None:
    """Merge ``figures`` into ``section`` of the report.

    A key already there is overwritten, except that two mappings under the same key are merged,
    so parametrised tests can each add their own entry to one table.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(path):
        data = read(path)
        merged = dict(data.get(section) or {})
        for key, value in figures.items():
            old = merged.get(key)
            merged[key] = {**old, **value} if isinstance(old, Mapping) and isinstance(value, Mapping) else value
        data[section] = merged
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".security-report.", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2, sort_keys=True, default=str)
                out.write("\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise


def summary_lines(path: Path = REPORT) -> list[str]:
    """One line per figure, for a terminal summary."""
    lines: list[str] = []
    for section, figures in sorted(read(path).items()):
        shown = ", ".join(f"{k}={_short(v)}" for k, v in sorted(figures.items())) if isinstance(figures, Mapping) else str(figures)
        lines.append(f"{section}: {shown}")
    return lines


def _short(value: Any) -> str:
    """Per-case tables are in the JSON file; the summary line counts their outcomes."""
    if isinstance(value, Mapping) and len(value) > 6 and all(isinstance(v, str) for v in value.values()):
        outcomes: dict[str, int] = {}
        for v in value.values():
            word = str(v).split(" in ")[0]
            outcomes[word] = outcomes.get(word, 0) + 1
        return "{" + ", ".join(f"{k}: {n}" for k, n in sorted(outcomes.items())) + "}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)
