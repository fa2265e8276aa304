"""A real JupyterHub for the tests: TLS for ``hub.test``, configurable-http-proxy, local user servers.

* The hub: JupyterHub from PyPI, ``DummyAuthenticator`` (any user, one password) and
  ``SimpleLocalProcessSpawner`` (each user's server is a local ``jupyterhub-singleuser`` process with
  its own home directory under the hub's temporary folder). Named servers are allowed.
* The proxy: configurable-http-proxy from npm (``tests/servers/hub``, installed by ``make test``),
  serving https on a free port with a self-signed certificate for ``hub.test`` made at start.
  The hub's ``public_url`` is ``https://hub.test:<port>/``, so user servers get
  ``JUPYTERHUB_PUBLIC_URL``, as on a hub whose admin set it.
* A hub-managed service ``demo``: ``python -m nb_oauth.demo`` with its pages at
  ``https://hub.test:<port>/services/demo`` (the proxy's route keeps that prefix), for the servers
  that have no jupyter-server-proxy.
* Per user, how the server differs (see :data:`USERS`): bob's server is told nothing about the
  public URL (``JUPYTERHUB_PUBLIC_URL`` empty, the zero-to-jupyterhub and mybinder.org default);
  carol's server cannot import jupyter-server-proxy.
"""

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

import requests

from ..e2e.jupyter_server import SETTINGS
from ..support.tls_certs import self_signed

REPO = Path(__file__).resolve().parents[2]
PROXY_PACKAGE = REPO / "tests" / "servers" / "hub"
CHP = PROXY_PACKAGE / "node_modules" / ".bin" / "configurable-http-proxy"
WITHOUT_SERVER_PROXY = Path(__file__).resolve().parent / "without_server_proxy"
HOST = "hub.test"
PASSWORD = "hub-password"

#: User name → how that user's server differs from a plain hub user's.
USERS = {
    "alice": "jupyter-server-proxy, JUPYTERHUB_PUBLIC_URL set",
    "bob": "jupyter-server-proxy, JUPYTERHUB_PUBLIC_URL empty",
    "carol": "no jupyter-server-proxy",
}

CONFIG = '''
import sys
c = get_config()  # noqa: F821
c.JupyterHub.bind_url = "https://127.0.0.1:{port}/"
c.JupyterHub.public_url = "https://{host}:{port}/"
c.JupyterHub.ssl_cert = {cert!r}
c.JupyterHub.ssl_key = {key!r}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{root}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{root}/cookie_secret"
c.JupyterHub.allow_named_servers = True
c.JupyterHub.cleanup_servers = True
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = "{root}/proxy.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{root}/home/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--allow-root", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180

def _public_url(spawner):
    return "" if spawner.user.name == "bob" else spawner.public_url

def _host(spawner):
    return "" if spawner.user.name == "bob" else spawner.hub.public_host

def _workspaces(spawner):
    # alice's two servers share her home: each keeps its own JupyterLab workspaces
    return "{root}/workspaces/" + spawner.user.name + "-" + (spawner.name or "default")

def _pythonpath(spawner):
    return {without_proxy!r} if spawner.user.name == "carol" else ""

c.Spawner.environment = {{
    "JUPYTERHUB_PUBLIC_URL": _public_url,
    "JUPYTERHUB_HOST": _host,
    "PYTHONPATH": _pythonpath,
    "JUPYTERLAB_WORKSPACES_DIR": _workspaces,
    "BROWSER": "true %s",
    "NB_OAUTH_CALLBACK_TIMEOUT": "120",
    "NB_OAUTH_DEMO_URL": "http://127.0.0.1:{demo_port}",
    "PYTHONUNBUFFERED": "1",
}}
c.JupyterHub.services = [
    {{"name": "nb-oauth-tests", "api_token": {api_token!r}}},
    {{"name": "demo", "url": "http://127.0.0.1:{demo_port}",
      "command": [sys.executable, "-m", "nb_oauth.demo", "--port", "{demo_port}", "--quiet",
                  "--front-channel-url", "https://{host}:{port}/services/demo"]}},
]
c.JupyterHub.load_roles = [
    {{"name": "nb-oauth-tests", "services": ["nb-oauth-tests"],
      "scopes": ["admin:users", "admin:servers", "access:servers", "list:users"]}},
]
'''


@dataclass
class Hub:
    root: Path
    port: int
    hub_port: int
    proxy_api_port: int
    demo_port: int
    api_token: str = field(default_factory=lambda: secrets.token_hex(24))
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The hub as the browser reaches it."""
        return f"https://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "jupyterhub.log"

    def home(self, user: str) -> Path:
        return self.root / "home" / user

    def server_url(self, user: str, server: str = "") -> str:
        return f"{self.url}/user/{user}/" + (f"{server}/" if server else "")

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> Hub:
        """Start the hub (which starts the proxy and the demo service); raise with the reason if it cannot."""
        if not CHP.exists():
            raise RuntimeError(f"configurable-http-proxy is not installed ({CHP} is missing): run `make test`, "
                               f"which runs `npm ci` in {PROXY_PACKAGE}.")
        self.root.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed(self.root, HOST)
        for user in USERS:
            write_lab_settings(self.home(user))
        config = self.root / "jupyterhub_config.py"
        config.write_text(CONFIG.format(
            port=self.port, host=HOST, cert=str(cert), key=str(key), hub_port=self.hub_port, root=self.root,
            chp=str(CHP), proxy_api_port=self.proxy_api_port, password=PASSWORD,
            singleuser=str(Path(sys.executable).parent / "jupyterhub-singleuser"),
            without_proxy=str(WITHOUT_SERVER_PROXY), demo_port=self.demo_port, api_token=self.api_token))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "NB_OAUTH_", "SSH_", "PYTHONPATH"))}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        log = self.log_path.open("wb")
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=self.root,
                                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterHub exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                if self.api("GET", "").status_code == 200 and self._demo_answers():
                    return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"JupyterHub did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def _demo_answers(self) -> bool:
        r = requests.get(f"http://127.0.0.1:{self.demo_port}/.well-known/openid-configuration", timeout=5)
        return r.status_code == 200

    def stop(self) -> None:
        """Stop the hub; it stops the user servers, the service and the proxy; what is left is killed."""
        proc, self.process = self.process, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid_file in (self.root / "proxy.pid",):
            with contextlib.suppress(OSError, ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)

    def log_tail(self, chars: int = 5000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    # -- the hub's REST API (on the hub's own loopback port) ---------------------------------------

    def api(self, method: str, path: str, **kwargs: object) -> requests.Response:
        headers = {"Authorization": f"token {self.api_token}"}
        url = f"http://127.0.0.1:{self.hub_port}/hub/api/{path}"
        return requests.request(method, url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def start_servers(self, *servers: tuple[str, str], timeout: float = 240.0) -> None:
        """Create the users, start their (named) servers all at once and wait until every one is ready."""
        for user, server in servers:
            if self.api("GET", f"users/{user}").status_code == 404:
                self.api("POST", f"users/{user}").raise_for_status()
            r = self.api("POST", f"users/{user}/servers/{server}")
            if r.status_code not in (201, 202, 400):  # 400: already running
                raise RuntimeError(f"Could not start {user}'s server {server!r}: {r.status_code} {r.text}")
        waiting = set(servers)
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            for user, server in sorted(waiting):
                state = self.api("GET", f"users/{user}").json().get("servers", {}).get(server) or {}
                if state.get("ready"):
                    waiting.discard((user, server))
                elif not state:
                    raise RuntimeError(f"{user}'s server {server!r} stopped while starting:\n{self.log_tail()}")
            time.sleep(0.5)
        if waiting:
            raise RuntimeError(f"Not ready within {timeout:.0f} s: {sorted(waiting)}\n{self.log_tail()}")




def write_lab_settings(home: Path) -> None:
    """JupyterLab settings that keep first-load pop-ups away and render every cell."""
    folder = home / ".jupyter" / "lab" / "user-settings"
    for plugin, values in SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
