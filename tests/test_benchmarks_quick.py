"""The benchmark suite's quick mode runs end to end and reports what it promises.

Timing targets are not judged here (a shared CI machine cannot promise them); the correctness
figures are: one refresh per storm with no failed call, and no failed call in the long run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CASE_NAMES = {
    "request_overhead_requests",
    "request_overhead_httpx",
    "token_fetch_client_credentials",
    "refresh_storm",
    "extension_load",
    "redirect_to_token",
    "long_run",
    "dpop_get",
    "private_key_jwt_fetch",
    "dask_fan_out",
}
CASE_KEYS = {"name", "title", "unit", "ours_median", "baseline_median", "ratio", "repetitions", "target", "pass"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (out / "RESULTS.md").read_text(encoding="utf-8").startswith("# nb_oauth benchmarks")
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def case(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in results["cases"] if c["name"] == name)


def test_every_case_reports_the_promised_fields(results: dict[str, Any]) -> None:
    assert results["mode"] == "quick"
    assert {c["name"] for c in results["cases"]} == CASE_NAMES
    for c in results["cases"]:
        assert set(c) >= CASE_KEYS, c["name"]
        assert "error" not in c["extra"], c["extra"].get("error")
        assert c["repetitions"] >= 1 and c["ours_median"] is not None


def test_ratio_cases_have_a_baseline_and_a_ratio(results: dict[str, Any]) -> None:
    for name in ("request_overhead_requests", "request_overhead_httpx", "token_fetch_client_credentials",
                 "extension_load"):
        c = case(results, name)
        assert c["baseline_median"] > 0 and c["ratio"] > 0 and isinstance(c["pass"], bool), name


def test_machine_is_described(results: dict[str, Any]) -> None:
    machine = results["machine"]
    assert {"cpu", "cores", "python", "os", "packages"} <= set(machine)
    assert machine["packages"]["requests"] != "not installed"


def test_refresh_storm_sends_one_refresh_and_fails_no_call(results: dict[str, Any]) -> None:
    ours = case(results, "refresh_storm")["extra"]["clients"]["nb_oauth.session"]
    assert ours["refreshes_per_storm"] and all(n == 1 for n in ours["refreshes_per_storm"])
    assert all(n == 0 for n in ours["failed_calls_per_storm"])


def test_long_run_fails_no_call_and_crosses_an_expiry(results: dict[str, Any]) -> None:
    extra = case(results, "long_run")["extra"]
    assert extra["failures"] == 0
    assert extra["calls"] >= 1000
    assert extra["refreshes"] >= 1


def test_dask_fan_out_fails_no_call_and_refreshes_once_per_expiry(results: dict[str, Any]) -> None:
    extra = case(results, "dask_fan_out")["extra"]
    assert extra["failed_calls"] == 0 and extra["api_checks_expiry"]
    for r in extra["rounds"]:
        # every request at the endpoint came from the kernel (counted one after the other: one may be in flight)
        assert abs(r["refresh_requests"] - r["store_refreshes"]) <= 1
        assert r["refresh_requests"] <= r["expiries"] + 1
