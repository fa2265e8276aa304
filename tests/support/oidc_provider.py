"""panva's oidc-provider (npm) on loopback: the certified server the DPoP, PAR, JAR and FAPI 2.0 tests run against.

``make test`` installs it (``npm ci`` in ``tests/servers/oidc_provider``). :func:`start` writes the clients
(with freshly generated keys) to a config file, starts ``node server.mjs`` on a free loopback port and
waits for it to listen. :func:`login_command` is a ``BROWSER`` value that signs in on its login pages.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc.jwk import ECKey, OKPKey, RSAKey

from .servers import free_port

SERVER_DIR = Path(__file__).resolve().parent.parent / "servers" / "oidc_provider"
LOOPBACK_REDIRECT = "http://127.0.0.1/callback"  # native clients: any loopback port is accepted (RFC 8252 §7.3)


@dataclass
class ClientKeys:
    """The private keys the tests give nb_oauth (PEM and JWK text), and their public JWKS for the server."""

    rsa: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True))
    ec: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", parameters={"kid": "ec-1"}, private=True))
    ed: OKPKey = field(default_factory=lambda: OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"}, private=True))

    def pem(self, which: str = "rsa") -> str:
        return getattr(self, which).as_pem(private=True).decode()

    def jwk_text(self, which: str = "ec") -> str:
        return json.dumps(getattr(self, which).as_dict(private=True))

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [k.as_dict(private=False) for k in (self.rsa, self.ec, self.ed)]}


@dataclass
class Provider:
    issuer: str
    keys: ClientKeys
    clients: dict[str, dict[str, Any]]
    process: subprocess.Popen[str]
    log: Path

    def secret(self, client_id: str) -> str:
        return str(self.clients[client_id]["client_secret"])

    @property
    def token_url(self) -> str:
        return self.issuer + "/token"


def _clients(keys: ClientKeys, mode: str) -> list[dict[str, Any]]:
    code = ["authorization_code", "refresh_token"]
    common = {"application_type": "native", "redirect_uris": [LOOPBACK_REDIRECT], "response_types": ["code"]}
    if mode == "fapi2":
        return [
            {**common, "client_id": "fapi", "grant_types": code, "token_endpoint_auth_method": "private_key_jwt",
             "jwks": keys.public_jwks(), "dpop_bound_access_tokens": True,
             "require_pushed_authorization_requests": True, "id_token_signed_response_alg": "PS256"},
            {"client_id": "rs", "client_secret": secrets.token_urlsafe(32), "grant_types": [], "redirect_uris": [],
             "response_types": [], "token_endpoint_auth_method": "client_secret_basic"},
        ]
    machine = [*code, "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"]
    return [
        {**common, "client_id": "pkjwt", "grant_types": machine, "token_endpoint_auth_method": "private_key_jwt",
         "jwks": keys.public_jwks()},
        {**common, "client_id": "secretjwt", "client_secret": secrets.token_urlsafe(48), "grant_types": machine,
         "token_endpoint_auth_method": "client_secret_jwt"},
        {**common, "client_id": "basic", "client_secret": secrets.token_urlsafe(32), "grant_types": machine,
         "token_endpoint_auth_method": "client_secret_basic"},
        {**common, "client_id": "public", "grant_types": code, "token_endpoint_auth_method": "none"},
        {**common, "client_id": "jar", "grant_types": code, "token_endpoint_auth_method": "private_key_jwt",
         "jwks": keys.public_jwks(), "require_signed_request_object": True},
        {"client_id": "rs", "client_secret": secrets.token_urlsafe(32), "grant_types": [], "redirect_uris": [],
         "response_types": [], "token_endpoint_auth_method": "client_secret_basic"},
    ]


def node_or_skip() -> str:
    """Node.js with oidc-provider installed; else a skip under pytest (a failure in CI), a RuntimeError elsewhere
    (a notebook that uses the provider without pytest, e.g. after ``make demo``)."""
    node = shutil.which("node")
    if node is None or not (SERVER_DIR / "node_modules" / "oidc-provider").is_dir():
        missing = ("Node.js and panva's oidc-provider are needed: `make demo` and `make test` install oidc-provider "
                   "(npm ci in tests/servers/oidc_provider) when npm is there.")
        try:
            import pytest
        except ImportError:
            raise RuntimeError(missing) from None
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("node or oidc-provider is missing in CI; `make test` runs npm ci in tests/servers/oidc_provider.")
        pytest.skip(missing)
    return node



@contextmanager
def start(mode: str = "general", *, keys: ClientKeys | None = None, **options: Any) -> Iterator[Provider]:
    """A provider process for the duration of the block; ``options`` go into its config (requireNonce, ...)."""
    node = node_or_skip()
    keys = keys or ClientKeys()
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    clients = _clients(keys, mode)
    folder = Path(tempfile.mkdtemp(prefix="nb-oauth-oidc-provider-"))
    config = folder / "config.json"
    signing = {"keys": [RSAKey.generate_key(2048, parameters={"kid": "op-rsa"}, private=True).as_dict(private=True),
                        ECKey.generate_key("P-256", parameters={"kid": "op-ec"}, private=True).as_dict(private=True)]}
    config.write_text(json.dumps({"issuer": issuer, "port": port, "mode": mode, "clients": clients, "jwks": signing,
                                  **options}))
    log = folder / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen([node, str(SERVER_DIR / "server.mjs"), str(config)], cwd=SERVER_DIR,
                                stdout=subprocess.PIPE, stderr=out, text=True)
    try:
        _wait_ready(proc, log)
        yield Provider(issuer, keys, {c["client_id"]: c for c in clients}, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen[str], log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("READY"):
            return
        if not line and proc.poll() is not None:
            raise RuntimeError(f"oidc-provider exited ({proc.returncode}): {log.read_text()[-2000:]}")
    raise RuntimeError("oidc-provider did not start in time")


def login_command() -> str:
    """A ``BROWSER`` value that signs in at the provider's login page and consents (see ``provider_login``)."""
    script = Path(__file__).resolve().parent / "provider_login.py"
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} %s"


def read_login_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
