"""``make demo``: the embedded demo authorization server plus JupyterLab on the quickstart notebook.

Both run on loopback; the demo server's issuer URL reaches the notebook through
``NB_OAUTH_DEMO_URL``, so the quickstart uses it instead of starting its own.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 90.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__)
    parser.add_argument("--port", type=int, default=8750, help="demo authorization server port")
    parser.add_argument("--lab-port", type=int, default=8888, help="JupyterLab port")
    parser.add_argument("--notebook", default="notebooks/quickstart.ipynb")
    parser.add_argument("--no-lab", action="store_true", help="start only the demo server")
    args = parser.parse_args(argv)

    from . import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, PUBLIC_CLIENT_ID
    from .server import DemoServer

    server = DemoServer(port=args.port)
    try:
        server.start()
    except OSError as exc:
        print(f"The demo server cannot listen on 127.0.0.1:{args.port} ({exc}). "
              f"Free the port or run: make demo DEMO_PORT=<another port>", file=sys.stderr)
        return 1
    print(f"Demo authorization server: {server.url}  (login alice / wonderland; clients {PUBLIC_CLIENT_ID}, "
          f"{CONFIDENTIAL_CLIENT_ID} / {CONFIDENTIAL_CLIENT_SECRET})", flush=True)
    if args.no_lab:
        return _serve_until_interrupted(server, None)

    token = secrets.token_urlsafe(24)
    notebook = Path(args.notebook)
    env = {**os.environ, "NB_OAUTH_DEMO_URL": server.url}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={args.lab_port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.root_dir={Path.cwd()}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI machines often run as root
    log_path = Path(tempfile.gettempdir()) / f"nb_oauth-demo-lab-{args.lab_port}.log"
    log = log_path.open("w")  # a pipe nobody reads would fill up and stall JupyterLab
    lab = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{args.lab_port}"
    if not _wait_for(f"{base}/api/status?token={token}", lab):
        err = log_path.read_text(errors="replace")[-800:]
        print(f"JupyterLab did not start on port {args.lab_port}. {err}\n"
              f"Free the port or run: make demo LAB_PORT=<another port>", file=sys.stderr)
        lab.terminate()
        server.stop()
        return 1
    print(f"\nOpen this URL in your browser:\n\n    {base}/lab/tree/{notebook.as_posix()}?token={token}\n\n"
          "Run the notebook top to bottom; the login tabs open on the demo server. Ctrl+C stops everything.",
          flush=True)
    return _serve_until_interrupted(server, lab)


def _serve_until_interrupted(server, lab: subprocess.Popen | None) -> int:  # type: ignore[no-untyped-def]
    try:
        while lab is None or lab.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if lab is not None and lab.poll() is None:
            lab.send_signal(signal.SIGINT)
            try:
                lab.wait(10)
            except subprocess.TimeoutExpired:
                lab.kill()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
