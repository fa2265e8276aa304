"""What the numbers were measured on: CPU, cores, Python, OS, package versions, load."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

PACKAGES = ("nb_oauth", "requests", "urllib3", "oauthlib", "requests-oauthlib", "Authlib", "httpx", "httpcore",
            "ipython", "Flask", "Werkzeug")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as f:
            fields = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        pretty = fields.get("PRETTY_NAME", "").strip('"')
    except OSError:
        pretty = ""
    base = f"{platform.system()} {platform.release()}"
    return f"{pretty} ({base})" if pretty else base


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def describe() -> dict[str, Any]:
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": cores,
        "cores_usable": usable,
        "virtualized": _hypervisor(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": os_name(),
        "packages": versions(),
        "load_average_at_start": load_average(),
    }


def _hypervisor() -> bool | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return any(line.startswith("flags") and " hypervisor" in line for line in f)
    except OSError:
        return None
