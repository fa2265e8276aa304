"""Where the browser is sent back to, and how that reaches the kernel.

* Laptop: a kernel-local listener on ``http://127.0.0.1:<free port>/callback``.
* JupyterHub / Binder with jupyter-server-proxy: the same listener, reached through
  ``<base_url>proxy/<port>/callback``.
* A given loopback ``callback_url`` with a port: that port and path.
* Anything else (a registered https redirect, a host no redirect can reach): the user pastes
  the address the browser landed on.

The environment is detected, and can be overridden with ``NB_OAUTH_REMOTE`` (``0``/``1``) and
``NB_OAUTH_PUBLIC_URL`` (the Jupyter server's base URL as the browser sees it).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from ..config import is_loopback_host

PROXY_PATH = re.compile(r"^(?P<prefix>.*?/proxy/)(?P<absolute>absolute/)?(?P<port>\d{1,5})(?P<rest>/.*)?$")


@dataclass(frozen=True)
class Environment:
    """Where this kernel runs, as far as the browser's way back is concerned."""

    kind: str  # local | jupyterhub | binder | colab | ssh | remote
    remote: bool
    public_base_url: str | None = None  # the Jupyter server's base URL as the browser sees it


_frontend_base_url: str | None = None


def set_frontend_base_url(url: str | None) -> bool:
    """The form's front end reports the page's own base URL (origin + base path) here.

    Returns whether it changed: the caller then forgets cached discovery documents, since a
    provider proxied by this Jupyter server (the embedded demo's ``front_channel_url="auto"``)
    announces different page addresses now.
    """
    global _frontend_base_url
    new = _with_slash(url) if url else None
    changed = new != _frontend_base_url
    _frontend_base_url = new
    return changed


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _server_proxy_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("jupyter_server_proxy") is not None


def detect_environment() -> Environment:
    env = os.environ
    override = env.get("NB_OAUTH_REMOTE", "").strip().lower()
    public = env.get("NB_OAUTH_PUBLIC_URL") or None
    if "google.colab" in sys.modules or env.get("COLAB_RELEASE_TAG"):
        kind = "colab"
    elif env.get("BINDER_LAUNCH_HOST") or env.get("BINDER_REPO_URL") or env.get("BINDER_REQUEST"):
        kind = "binder"
    elif env.get("JUPYTERHUB_SERVICE_PREFIX") or env.get("JUPYTERHUB_API_URL"):
        kind = "jupyterhub"
    elif env.get("SSH_CONNECTION") and not env.get("DISPLAY"):
        kind = "ssh"
    else:
        kind = "local"
    remote = kind != "local"
    if override in ("0", "false", "no", "local"):
        remote = False
    elif override in ("1", "true", "yes", "remote"):
        remote = True
    if remote and public is None and kind != "colab":
        # a hub may say where it is; otherwise the page the form was shown on does
        public = _hub_public_url() or _frontend_base_url
    if remote and public is not None and kind != "colab" and not (_server_proxy_installed() or env.get("NB_OAUTH_PUBLIC_URL")):
        public = None
    return Environment(kind=kind, remote=remote, public_base_url=_with_slash(public) if public and remote else None)


def _hub_public_url() -> str | None:
    env = os.environ
    prefix = env.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    for name in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_EXTERNAL_URL"):
        if env.get(name):
            # the hub's public URL may carry the hub's own base path; the service prefix already has it
            parts = urlsplit(env[name])
            if parts.scheme and parts.netloc:
                return f"{parts.scheme}://{parts.netloc}{prefix}"
    host = env.get("JUPYTERHUB_HOST")
    if host and host.startswith("http"):
        return host.rstrip("/") + prefix
    return None


@dataclass(frozen=True)
class CallbackPlan:
    """How this flow gets its redirect back."""

    redirect_uri_template: str  # may hold "{port}", filled once the listener has its port
    bind_host: str | None  # None: no listener, paste mode only
    bind_port: int = 0
    path: str = "/callback"
    paste: bool = False  # ask the user to paste the redirected URL

    def redirect_uri(self, port: int | None) -> str:
        return self.redirect_uri_template.replace("{port}", str(port)) if port is not None else self.redirect_uri_template

    def abort_url(self, port: int | None, state: str) -> str | None:
        """The "cancel this login" link, routed the way the redirect is (``…/callback/abort?state=…``).

        Through jupyter-server-proxy it goes through the proxy like the redirect; on a laptop it is the
        loopback listener. In paste mode no request can reach the kernel, so there is no such link
        (None): the form's Cancel button or an interrupt cancels instead.
        """
        if self.paste or self.bind_host is None:
            return None
        parts = urlsplit(self.redirect_uri(port))
        path = (parts.path.rstrip("/") or "") + "/abort"
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode({"state": state}), ""))


def plan_callback(callback_url: str | None, env: Environment | None = None) -> CallbackPlan:
    env = env or detect_environment()
    if not callback_url:
        if not env.remote:
            return CallbackPlan("http://127.0.0.1:{port}/callback", "127.0.0.1")
        if env.public_base_url:  # jupyter-server-proxy connects to "localhost": listen on both loopbacks
            return CallbackPlan(env.public_base_url + "proxy/{port}/callback", "localhost")
        # No way back into this kernel: the browser lands on an unreachable loopback page whose
        # address (with the code) the user pastes back.
        return CallbackPlan("http://127.0.0.1:{port}/callback", "127.0.0.1", paste=True)
    parts = urlsplit(callback_url)
    proxied = PROXY_PATH.match(parts.path or "")
    if proxied:
        port = int(proxied["port"])
        rest = proxied["rest"] or "/"
        path = parts.path if proxied["absolute"] else rest
        return CallbackPlan(callback_url, "localhost", port, path)  # the proxy connects to localhost
    if parts.scheme == "http" and is_loopback_host(parts.hostname):
        host = parts.hostname or "127.0.0.1"  # localhost: the listener binds 127.0.0.1 and ::1 both
        return CallbackPlan(callback_url, host, parts.port or 80, parts.path or "/")
    return CallbackPlan(callback_url, None, paste=True)


def no_route_reason(env: Environment) -> str | None:
    """Why a redirect cannot reach this remote kernel, and the fix; None where one can (or on a laptop)."""
    if not env.remote or env.public_base_url or env.kind == "colab":
        return None
    device = "until then, paste the address the browser lands on, or use the device flow (grant_type device_code)."
    if not _server_proxy_installed():
        return ("jupyter-server-proxy is not installed in this Jupyter server, so no redirect can reach this kernel. "
                "Fix: install it in the user image (pip install jupyter-server-proxy) and restart the server; " + device)
    if env.kind in ("jupyterhub", "binder") and not os.environ.get("JUPYTERHUB_PUBLIC_URL"):
        return ("This Jupyter server's public address is unknown (JUPYTERHUB_PUBLIC_URL is empty, the default on "
                "zero-to-jupyterhub and mybinder.org), so the redirect cannot be routed through "
                "<base_url>proxy/<port>/callback. Fix: set NB_OAUTH_PUBLIC_URL to this server's address as the "
                "browser shows it (e.g. https://hub.example/user/<you>/), have the hub admin set "
                "c.JupyterHub.public_url, or show nb_oauth.form() once (its page reports the address); " + device)
    return ("This Jupyter server's public address is unknown, so no redirect can reach this kernel. Fix: set "
            "NB_OAUTH_PUBLIC_URL to this server's address as the browser shows it; " + device)


def loopback_page_advice(authorization_url: str) -> str:
    """A remote kernel was given a login page on its own loopback address: a browser elsewhere cannot open it."""
    parts = urlsplit(authorization_url)
    return (f"The login page {parts.scheme}://{parts.netloc}{parts.path} is on this kernel's loopback address, which "
            "a browser on another machine cannot open. Fix: use the provider's public address; for the embedded "
            "demo server, serve its pages through jupyter-server-proxy with DemoServer(front_channel_url='auto') "
            "(it needs this server's public address: JUPYTERHUB_PUBLIC_URL or NB_OAUTH_PUBLIC_URL) or "
            "front_channel_url='https://<hub>/user/<you>/proxy/<port>'.")


def default_authorize_using_browser(env: Environment | None = None) -> bool:
    """Open a browser only where the kernel and the browser share the machine."""
    return not (env or detect_environment()).remote
