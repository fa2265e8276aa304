"""A real Jupyter server (JupyterLab 4 and Notebook 7 front ends) on a free loopback port, isolated in a tmp dir."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import requests

#: User settings that keep first-load pop-ups away and render every cell (no windowing).
SETTINGS: dict[str, dict[str, object]] = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True, "windowingMode": "none"},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}


@dataclass
class JupyterServer:
    """One running ``jupyter lab`` process; serves ``/lab`` and Notebook 7's ``/notebooks`` alike."""

    port: int
    token: str
    root: Path
    home: Path
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lab_url(self, path: str) -> str:
        """The notebook opened in JupyterLab, with a fresh workspace (nothing restored from earlier tests)."""
        return f"{self.url}/lab/tree/{quote(path)}?reset&token={self.token}"

    def notebook7_url(self, path: str) -> str:
        """The notebook opened in Notebook 7's single-document page."""
        return f"{self.url}/notebooks/{quote(path)}?token={self.token}"

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"token {self.token}"}
        return requests.request(method, f"{self.url}/api/{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> JupyterServer:
        """Start the server and wait until its API answers (or fail with the log's tail)."""
        _write_settings(self.home / "lab-settings")
        cmd = [sys.executable, "-m", "jupyter", "lab", "--allow-root", "--no-browser",
               f"--port={self.port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=self.root, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Jupyter exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.api("GET", "status").status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"Jupyter did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the server and everything it started (kernels live in its process group)."""
        proc, self.process = self.process, None
        if proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):  # kernels that outlived the server
            os.killpg(proc.pid, signal.SIGKILL)

    def shut_down_kernels(self, path: str) -> None:
        """End the sessions (and kernels) of one notebook, so a test leaves nothing running."""
        try:
            for session in self.api("GET", "sessions").json():
                if session.get("path") == path:
                    self.api("DELETE", f"sessions/{session['id']}")
        except (requests.RequestException, ValueError):
            pass

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def _write_settings(folder: Path) -> None:
    for plugin, values in SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def server_env(home: Path, extra: dict[str, str]) -> dict[str, str]:
    """The server's environment (kernels inherit it): isolated Jupyter dirs, a browser that opens nothing."""
    dirs = {name: home / name for name in ("config", "data", "runtime", "ipython", "lab-settings",
                                           "lab-workspaces", "nb_oauth")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NB_OAUTH_", "SSH_"))}
    env.update({
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["lab-settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["lab-workspaces"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "NB_OAUTH_CONFIG_DIR": str(dirs["nb_oauth"]),
        "BROWSER": "true %s",
        "NB_OAUTH_REMOTE": "0",
        "NB_OAUTH_CALLBACK_TIMEOUT": "120",
        "PYTHONUNBUFFERED": "1",
        **extra,
    })
    return env


def new_server(home: Path, port: int, extra_env: dict[str, str]) -> JupyterServer:
    root = home / "root"
    root.mkdir(parents=True, exist_ok=True)
    return JupyterServer(port=port, token=secrets.token_urlsafe(24), root=root, home=home,
                         env=server_env(home, extra_env), log_path=home / "jupyter.log")
