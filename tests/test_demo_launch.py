"""`make demo`'s launcher: the demo server and JupyterLab on a copy of the quickstart, the truth about
ports, and a clean stop on SIGTERM and on Ctrl+C (JupyterLab, its kernels and the demo server)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests

from .support.servers import LocalServer, Reply, free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
URL = re.compile(r"http://127\.0\.0\.1:(\d+)/lab/tree/notebooks/quickstart\.ipynb\?token=(\S+)")


@dataclass
class Launch:
    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    lab_port: int = 0
    token: str = ""

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, seconds: float = 150) -> bool:
        deadline = time.monotonic() + seconds  # a guard against a hang, not a speed check
        while time.monotonic() < deadline:
            if re.search(pattern, self.text):
                return True
            if self.proc.poll() is not None:
                time.sleep(0.2)
                return bool(re.search(pattern, self.text))
            time.sleep(0.2)
        return False

    def api(self, method: str, path: str, **kw: object) -> requests.Response:
        return requests.request(method, f"http://127.0.0.1:{self.lab_port}{path}",
                                headers={"Authorization": f"token {self.token}"}, timeout=20, **kw)  # type: ignore[arg-type]


@pytest.fixture
def launch(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Launch] = []

    def start(demo_port: int, lab_port: int) -> Launch:
        proc = subprocess.Popen([sys.executable, "-m", "nb_oauth.demo.launch", "--port", str(demo_port),
                                 "--lab-port", str(lab_port), "--work-dir", str(tmp_path / "work")], cwd=ROOT,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        run = Launch(proc)
        threading.Thread(target=lambda: run.lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
        started.append(run)
        if run.wait_for(URL.pattern):
            found = URL.search(run.text)
            assert found
            run.lab_port, run.token = int(found.group(1)), found.group(2)
        return run

    yield start
    for run in started:
        if run.proc.poll() is None:
            os.killpg(run.proc.pid, signal.SIGKILL)


def _family(pid: int) -> list[psutil.Process]:
    return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]


def _all_gone(processes: list[psutil.Process], seconds: float = 30) -> list[str]:
    _, alive = psutil.wait_procs(processes, timeout=seconds)
    return [" ".join(p.cmdline()[:4]) for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def _closed(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)
    except requests.ConnectionError:
        return True
    return False


def test_url_opens_a_copy_and_ctrl_c_stops_everything(launch) -> None:  # type: ignore[no-untyped-def]
    demo_port, lab_port = free_port(), free_port()
    run = launch(demo_port, lab_port)
    assert run.lab_port == lab_port, run.text
    assert requests.get(f"http://127.0.0.1:{lab_port}/lab/tree/notebooks/quickstart.ipynb?token={run.token}",
                        timeout=10).status_code == 200
    issuer = f"http://127.0.0.1:{demo_port}"
    assert requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()["issuer"] == issuer

    shipped = (ROOT / "notebooks" / "quickstart.ipynb").read_bytes()
    model = run.api("GET", "/api/contents/notebooks/quickstart.ipynb").json()
    model["content"]["cells"][0]["source"] = "# edited in the demo"
    assert run.api("PUT", "/api/contents/notebooks/quickstart.ipynb",
                   json={"type": "notebook", "format": "json", "content": model["content"]}).status_code == 200
    assert (ROOT / "notebooks" / "quickstart.ipynb").read_bytes() == shipped  # JupyterLab saved the copy

    kernel = run.api("POST", "/api/kernels", json={"name": "python3"})
    assert kernel.status_code == 201
    family = _family(run.proc.pid)
    assert any("ipykernel" in " ".join(p.cmdline()) for p in family)
    os.killpg(run.proc.pid, signal.SIGINT)  # what a terminal's Ctrl+C does to the foreground group
    assert _all_gone(family) == []
    assert run.proc.wait(10) == 0
    assert "(y/[n])" not in run.text and _closed(lab_port) and _closed(demo_port)


def test_sigterm_stops_jupyterlab_its_kernels_and_the_demo_server(launch) -> None:  # type: ignore[no-untyped-def]
    demo_port = free_port()
    run = launch(demo_port, free_port())
    assert run.token, run.text
    assert run.api("POST", "/api/kernels", json={"name": "python3"}).status_code == 201
    family = _family(run.proc.pid)
    run.proc.send_signal(signal.SIGTERM)  # the launcher alone, as a service manager would
    assert _all_gone(family) == []
    assert run.proc.wait(10) == 0
    assert "Stopping JupyterLab" in run.text and "Demo server stopped." in run.text
    assert _closed(run.lab_port) and _closed(demo_port)


def test_busy_ports_are_named_and_another_free_port_is_used(launch) -> None:  # type: ignore[no-untyped-def]
    forbidden = lambda seen, raw: Reply(403, b"Forbidden", {"Content-Type": "text/plain"})  # noqa: E731
    with LocalServer(forbidden) as foreign_lab, LocalServer(forbidden) as foreign_demo:
        lab_port = int(foreign_lab.url.rsplit(":", 1)[1])
        demo_port = int(foreign_demo.url.rsplit(":", 1)[1])
        run = launch(demo_port, lab_port)
        assert f"Port {lab_port} (LAB_PORT" in run.text and "make demo LAB_PORT=" in run.text
        assert f"Port {demo_port} (DEMO_PORT" in run.text and "make demo DEMO_PORT=" in run.text
        assert run.lab_port and run.lab_port != lab_port, run.text
        assert run.api("GET", "/api/status").status_code == 200  # our JupyterLab, answering our token
        demo_url = re.search(r"Demo authorization server: (http://127\.0\.0\.1:\d+)", run.text)
        assert demo_url and demo_url.group(1) != foreign_demo.url
        assert requests.get(demo_url.group(1) + "/.well-known/openid-configuration", timeout=10).status_code == 200
        assert not any(s.path == "/api/status" for s in foreign_lab.seen)
        family = _family(run.proc.pid)
        run.proc.send_signal(signal.SIGTERM)
        assert _all_gone(family) == []


def test_jupyterlab_that_cannot_start_is_reported_not_announced(tmp_path: Path) -> None:
    """The port is free when checked, but JupyterLab exits at once: no 'Open this URL', exit status 1."""
    bad = tmp_path / "jupyter_server_config.py"
    bad.write_text("raise SystemExit('broken configuration')\n")
    env_port = free_port()
    proc = subprocess.run([sys.executable, "-m", "nb_oauth.demo.launch", "--port", str(free_port()),
                           "--lab-port", str(env_port), "--work-dir", str(tmp_path / "work")], cwd=ROOT,
                          env={**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path)}, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1
    assert "Open this URL" not in proc.stdout
    assert f"JupyterLab did not start on 127.0.0.1:{env_port}" in proc.stderr and "LAB_PORT=" in proc.stderr


def test_notebook_copies_are_kept_when_edited_and_refreshed_when_the_shipped_one_changes(tmp_path: Path,
                                                                                        monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from nb_oauth.demo.launch import prepare_notebooks

    shipped = tmp_path / "repo" / "notebooks"
    shipped.mkdir(parents=True)
    (shipped / "quickstart.ipynb").write_text("v1")
    (shipped / "other.ipynb").write_text("other")
    monkeypatch.chdir(tmp_path / "repo")
    work = tmp_path / "work"
    copy = prepare_notebooks(Path("notebooks/quickstart.ipynb"), work)
    assert copy == work / "notebooks" / "quickstart.ipynb" and copy.read_text() == "v1"
    assert (work / "notebooks" / "other.ipynb").read_text() == "other"
    copy.write_text("my edits")
    prepare_notebooks(Path("notebooks/quickstart.ipynb"), work)
    assert copy.read_text() == "my edits"  # the user's work is kept
    (shipped / "quickstart.ipynb").write_text("v2")
    os.utime(shipped / "quickstart.ipynb", (time.time() + 5, time.time() + 5))
    prepare_notebooks(Path("notebooks/quickstart.ipynb"), work)
    assert copy.read_text() == "v2" and (shipped / "quickstart.ipynb").read_text() == "v2"
    outside = prepare_notebooks((shipped / "quickstart.ipynb").resolve(), tmp_path / "work2")
    assert outside.parent.parent == tmp_path / "work2" and (shipped / "quickstart.ipynb").read_text() == "v2"
