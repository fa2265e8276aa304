"""Searching another process's memory (Linux ``/proc/<pid>/mem``) for secrets."""

from __future__ import annotations

import re


def found_in_memory(pid: int, needles: dict[str, str]) -> set[str]:
    """The labels of ``needles`` whose value appears anywhere in the readable memory of process ``pid``."""
    wanted = {label: value.encode() for label, value in needles.items() if value}
    found: set[str] = set()
    with open(f"/proc/{pid}/maps", encoding="ascii") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
            if not m or "[vvar]" in line or "[vsyscall]" in line:
                continue
            start, end = int(m.group(1), 16), int(m.group(2), 16)
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            for label, value in wanted.items():
                if label not in found and value in chunk:
                    found.add(label)
    return found
