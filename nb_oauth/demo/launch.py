"""``make demo``: the embedded demo authorization server plus JupyterLab on the quickstart notebook.

Both run on loopback; the demo server's issuer URL reaches the notebook through
``NB_OAUTH_DEMO_URL``, so the quickstart uses it instead of starting its own.

* The notebooks are opened from copies in ``demo-work/`` (ignored by git), so running them never
  changes the shipped ones. A copy is refreshed when the shipped notebook is newer.
* A busy port (``--port`` / ``--lab-port``) is reported by number and another free one is used.
* "Open this URL" is printed only once this launcher's own JupyterLab process is alive and answers
  with its own token.
* SIGTERM and Ctrl+C stop JupyterLab (which shuts its kernels down) and the demo server. JupyterLab
  runs in its own session with no terminal input, so it gets exactly one SIGTERM and never asks
  "Shut down this Jupyter server (y/[n])?".
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType

import requests

WORK_DIR = "demo-work"
STOP_SECONDS = 10.0


def port_busy(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on ``host:port`` (a bind test, as the servers will do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def _free_port_near(port: int) -> int:
    for candidate in range(port + 1, port + 20):
        if candidate < 65536 and not port_busy(candidate):
            return candidate
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def choose_port(port: int, what: str, variable: str) -> int:
    """``port`` if it is free, else a free one near it, saying which port was busy and how to pick another."""
    if port == 0 or not port_busy(port):
        return port
    chosen = _free_port_near(port)
    print(f"Port {port} ({what}) is busy: another program listens on 127.0.0.1:{port}. Using {chosen} instead; "
          f"to choose yourself, run: make demo {variable}=<free port>", file=sys.stderr, flush=True)
    return chosen


def prepare_notebooks(notebook: Path, work: Path) -> Path:
    """Copy the notebook's folder's notebooks into ``work`` (kept when the copy is newer); the copy to open."""
    source_dir = notebook.parent
    try:
        where = source_dir.resolve().relative_to(Path.cwd().resolve())
    except ValueError:  # a notebook outside this folder: its folder's name is kept
        where = Path(source_dir.resolve().name)
    target_dir = work / where
    target_dir.mkdir(parents=True, exist_ok=True)
    for source in sorted(source_dir.glob("*.ipynb")):
        target = target_dir / source.name
        if not target.exists() or source.stat().st_mtime > target.stat().st_mtime:
            shutil.copy2(source, target)
    return target_dir / notebook.name


def _lab_ready(base: str, token: str, lab: subprocess.Popen, stop: threading.Event, seconds: float = 120.0) -> bool:
    """True once *our* JupyterLab process is alive and answers ``/api/status`` with *our* token."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and lab.poll() is None and not stop.is_set():
        try:
            r = requests.get(f"{base}/api/status", headers={"Authorization": f"token {token}"}, timeout=2)
            if r.status_code == 200 and "started" in r.json() and lab.poll() is None:
                return True
        except (requests.RequestException, ValueError):
            pass
        stop.wait(0.3)
    return False


def _descendants(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:  # psutil comes with ipykernel; without it only JupyterLab itself is signalled
        return []
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def stop_lab(lab: subprocess.Popen, seconds: float = STOP_SECONDS) -> None:
    """One SIGTERM (JupyterLab then shuts its kernels down and exits), then SIGKILL for whatever is left."""
    leftovers = _descendants(lab.pid)  # the kernels run in sessions of their own
    if lab.poll() is None:
        lab.send_signal(signal.SIGTERM)
        try:
            lab.wait(seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _lab_command(port: int, token: str, root: Path) -> list[str]:
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
           "--ServerApp.shutdown_no_activity_timeout=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines often run as root
    return cmd


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8750, help="demo authorization server port (DEMO_PORT)")
    parser.add_argument("--lab-port", type=int, default=8888, help="JupyterLab port (LAB_PORT)")
    parser.add_argument("--notebook", default="notebooks/quickstart.ipynb")
    parser.add_argument("--work-dir", default=WORK_DIR, help="where the notebooks are copied to and opened from")
    parser.add_argument("--no-lab", action="store_true", help="start only the demo server")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    from . import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, PUBLIC_CLIENT_ID
    from .server import DemoServer

    demo_port = choose_port(args.port, "DEMO_PORT, the demo authorization server", "DEMO_PORT")
    server = DemoServer(port=demo_port)
    try:
        server.start()
    except OSError as exc:
        print(f"The demo server cannot listen on 127.0.0.1:{demo_port} ({exc.strerror or exc}). "
              "Free the port or run: make demo DEMO_PORT=<free port>", file=sys.stderr)
        return 1
    print(f"Demo authorization server: {server.url}  (login alice / wonderland; clients {PUBLIC_CLIENT_ID}, "
          f"{CONFIDENTIAL_CLIENT_ID} / {CONFIDENTIAL_CLIENT_SECRET})", flush=True)
    if args.no_lab:
        while not stop.wait(0.5):
            pass
        server.stop()
        return 0
    try:
        return _run_lab(args, server.url, stop)
    finally:
        server.stop()
        print("Demo server stopped.", flush=True)


def _run_lab(args: argparse.Namespace, demo_url: str, stop: threading.Event) -> int:
    lab_port = choose_port(args.lab_port, "LAB_PORT, JupyterLab", "LAB_PORT")
    work = Path(args.work_dir).resolve()
    opened = prepare_notebooks(Path(args.notebook), work)
    token = secrets.token_urlsafe(24)
    log_path = Path(tempfile.gettempdir()) / f"nb_oauth-demo-lab-{lab_port}.log"
    with log_path.open("w") as log:  # a pipe nobody reads would fill up and stall JupyterLab
        lab = subprocess.Popen(_lab_command(lab_port, token, work), env={**os.environ, "NB_OAUTH_DEMO_URL": demo_url},
                               stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{lab_port}"
    try:
        if not _lab_ready(base, token, lab, stop):
            if stop.is_set():
                return 0
            tail = log_path.read_text(errors="replace")[-800:]
            busy = " (the port is now taken)" if port_busy(lab_port) and lab.poll() is not None else ""
            print(f"JupyterLab did not start on 127.0.0.1:{lab_port}{busy}. Its log ({log_path}) ends with:\n{tail}\n"
                  "Free the port or run: make demo LAB_PORT=<free port>", file=sys.stderr)
            return 1
        rel = opened.relative_to(work).as_posix()
        print(f"\nOpen this URL in your browser:\n\n    {base}/lab/tree/{rel}?token={token}\n\n"
              f"The notebooks open from copies in {work.name}/ (the shipped ones stay as they are). Run the "
              "notebook top to bottom; the login tabs open on the demo server. Ctrl+C stops everything.", flush=True)
        while not stop.wait(0.5):
            if lab.poll() is not None:
                print("JupyterLab has stopped.", flush=True)
                break
        return 0
    finally:
        print("Stopping JupyterLab and its kernels…", flush=True)
        stop_lab(lab)


if __name__ == "__main__":
    sys.exit(main())
