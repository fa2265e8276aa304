"""`make demo`'s launcher: the demo server and JupyterLab on the quickstart, with the URL printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import requests

from .conftest import free_port

pytestmark = pytest.mark.slow


def test_launcher_starts_both_and_prints_the_url_to_open() -> None:
    demo_port, lab_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nb_oauth.demo.launch", "--port", str(demo_port),
                             "--lab-port", str(lab_port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
            if "/lab/tree/notebooks/quickstart.ipynb?token=" in line:
                break
        text = "".join(lines)
        url = re.search(r"http://127\.0\.0\.1:\d+/lab/tree/notebooks/quickstart\.ipynb\?token=\S+", text)
        assert url, text
        assert requests.get(url.group(0), timeout=10).status_code == 200
        issuer = f"http://127.0.0.1:{demo_port}"
        assert requests.get(issuer + "/.well-known/openid-configuration", timeout=10).json()["issuer"] == issuer
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{lab_port}/api/status", timeout=2)
