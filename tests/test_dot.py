"""Every grant against a second, independently written server: django-oauth-toolkit on loopback.

The server (``tests/servers/dot``) is a small Django project started in its own process on a free
port; its scripted user agent signs in and approves like a person at a browser would.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.errors import OAuthError, RefreshError
from nb_oauth.oidc import discovery

from .servers.dot import CLIENTS
from .support.servers import free_port

ROOT = Path(__file__).resolve().parent.parent
DOT_PYTHON = ROOT / ".venv-dot" / "bin" / "python"


def dot_python_or_skip() -> str:
    """The server's own venv (``make test`` builds it; DOT needs an older oauthlib than nb_oauth's)."""
    if (DOT_PYTHON.parent.parent / ".installed").exists():
        return str(DOT_PYTHON)
    message = f"{DOT_PYTHON.parent.parent.name} is missing: run make .venv-dot/.installed (make test does)."
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Dot:
    base: str

    @property
    def issuer(self) -> str:
        return self.base + "/o"

    def api_me(self, name: str) -> requests.Response:
        return nb_oauth.session(name).get(self.base + "/api/me")


@pytest.fixture(scope="module")
def dot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dot]:
    python = dot_python_or_skip()
    port = free_port()
    where = tmp_path_factory.mktemp("dot")
    log_path = where / "server.log"
    with log_path.open("w") as log:  # a file, not a pipe: nobody reads the server's output while it runs
        proc = subprocess.Popen([python, "-m", "tests.servers.dot.serve", "--port", str(port),
                                 "--db", str(where / "db.sqlite3")], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):  # migrating a fresh database takes a few seconds
        if proc.poll() is not None:
            pytest.fail(f"the django-oauth-toolkit server exited: {log_path.read_text()[-2000:]}")
        try:
            requests.get(base + "/o/.well-known/openid-configuration", timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"the django-oauth-toolkit server did not answer: {log_path.read_text()[-2000:]}")
    yield Dot(base)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BROWSER", f"{shlex.quote(sys.executable)} -m tests.servers.dot.agent %s")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def secret(client_id: str) -> str | None:
    return CLIENTS[client_id][2]


def test_discovery_merges_the_oidc_and_rfc8414_documents(dot: Dot) -> None:
    oidc = requests.get(dot.issuer + "/.well-known/openid-configuration", timeout=5).json()
    assert "revocation_endpoint" not in oidc  # what makes the merge necessary
    doc = discovery.metadata(dot.issuer, allow_http=True)
    assert doc["revocation_endpoint"] == dot.issuer + "/revoke_token/"
    assert doc["introspection_endpoint"] == dot.issuer + "/introspect/"
    assert doc["jwks_uri"] == oidc["jwks_uri"] and doc["userinfo_endpoint"] == oidc["userinfo_endpoint"]


def test_pkce_public_client_with_issuer_alone_oidc_refresh_rotation_and_revoke(dot: Dot, agent: None) -> None:
    cfg = OAuth2Config(token_name="dot-pkce", grant_type="authorization_code_with_pkce", issuer=dot.issuer,
                       client_id="code-public", scope="openid read", callback_timeout=30)
    token = nb_oauth.get_new_access_token(cfg)
    assert token.id_token and token.id_token_verified and token.claims["iss"] == dot.issuer
    me = dot.api_me("dot-pkce")
    assert me.status_code == 200 and me.json()["sub"] == "alice"

    seen = {token.refresh_token}
    for _ in range(2):
        token.refresh()
        assert token.refresh_token and token.refresh_token not in seen  # ROTATE_REFRESH_TOKEN
        seen.add(token.refresh_token)
        assert dot.api_me("dot-pkce").status_code == 200

    old_access = token.access_token
    nb_oauth.tokens.revoke("dot-pkce")  # the revocation endpoint came from the RFC 8414 document
    assert "dot-pkce" not in nb_oauth.tokens
    after = requests.get(dot.base + "/api/me", headers={"Authorization": f"Bearer {old_access}"}, timeout=5)
    assert after.status_code == 403


def test_reused_refresh_token_ends_the_family_and_the_error_is_clear(dot: Dot) -> None:
    cfg = OAuth2Config(token_name="dot-reuse", grant_type="password_credentials", issuer=dot.issuer,
                       client_id="password-app", client_secret=secret("password-app"), username="alice",
                       password="wonderland", scope="read")
    token = nb_oauth.get_new_access_token(cfg)
    stolen = token.refresh_token
    token.refresh()
    reuse = requests.post(dot.issuer + "/token/", data={"grant_type": "refresh_token", "refresh_token": stolen},
                          auth=("password-app", secret("password-app")), timeout=5)
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    kept = token.access_token
    with pytest.raises(RefreshError) as err:  # REFRESH_TOKEN_REUSE_PROTECTION revoked the rotated one too
        token.refresh()
    assert "invalid_grant" in str(err.value) and stolen not in str(err.value)
    assert nb_oauth.tokens["dot-reuse"].access_token == kept  # nothing was replaced by the failed attempt


@pytest.mark.parametrize("how", ["header", "body"])
def test_code_flow_confidential_client(dot: Dot, agent: None, how: str) -> None:
    cfg = OAuth2Config(token_name=f"dot-code-{how}", grant_type="authorization_code",
                       auth_url=dot.issuer + "/authorize/", access_token_url=dot.issuer + "/token/",
                       client_id="code-confidential", client_secret=secret("code-confidential"),
                       client_authentication=how, scope="read", callback_timeout=30)
    nb_oauth.get_new_access_token(cfg)
    assert dot.api_me(cfg.token_name).json()["client_id"] == "code-confidential"


@pytest.mark.parametrize("how", ["header", "body"])
def test_client_credentials(dot: Dot, how: str) -> None:
    cfg = OAuth2Config(token_name=f"dot-cc-{how}", grant_type="client_credentials", issuer=dot.issuer,
                       client_id="machine", client_secret=secret("machine"), client_authentication=how, scope="read")
    token = nb_oauth.get_new_access_token(cfg)
    assert token.expires_in > 0 and token.scope == "read"
    assert dot.api_me(cfg.token_name).json() == {"sub": None, "client_id": "machine", "scope": "read"}


def test_password_grant_and_wrong_password(dot: Dot) -> None:
    base = dict(grant_type="password_credentials", issuer=dot.issuer, client_id="password-app",
                client_secret=secret("password-app"), scope="read write")
    token = nb_oauth.get_new_access_token(OAuth2Config(token_name="dot-pw", username="alice", password="wonderland",
                                                       **base))
    assert token.refresh_token and set(token.scope.split()) == {"read", "write"}
    assert dot.api_me("dot-pw").json()["sub"] == "alice"
    with pytest.raises(OAuthError) as err:
        nb_oauth.get_new_access_token(OAuth2Config(token_name="dot-pw-bad", username="alice", password="nope", **base))
    assert "invalid_grant" in str(err.value) and "nope" not in str(err.value)
    assert "dot-pw" in nb_oauth.tokens  # the other token survives


@pytest.mark.parametrize("client_id", ["device-confidential", "device-public"])
def test_device_flow(dot: Dot, agent: None, client_id: str) -> None:
    """DOT reads client_id from the body even when the client authenticates with HTTP Basic."""
    cfg = OAuth2Config(token_name="dot-device", grant_type="device_code", issuer=dot.issuer, client_id=client_id,
                       device_authorization_url=dot.issuer + "/device-authorization/",  # in neither document
                       client_secret=secret(client_id), scope="read", callback_timeout=60)
    token = nb_oauth.get_new_access_token(cfg)
    assert dot.api_me("dot-device").json()["client_id"] == client_id
    steps = [s.title for s in token.trace.steps]
    assert steps[0] == "Device authorization request" and steps[-1] == "Token request (device code)"


def test_an_endpoint_no_document_lists_is_asked_for_without_suggesting_issuer(dot: Dot) -> None:
    cfg = OAuth2Config(token_name="dot-device", grant_type="device_code", issuer=dot.issuer, client_id="device-public")
    with pytest.raises(OAuthError) as err:
        nb_oauth.get_new_access_token(cfg)
    message = str(err.value)
    assert "device_authorization_url" in message and "do not list it" in message
    assert "or issuer" not in message


def test_a_bare_403_for_a_bad_token_gets_a_hint(dot: Dot, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = OAuth2Config(token_name="dot-403", grant_type="client_credentials", issuer=dot.issuer, client_id="machine",
                       client_secret=secret("machine"), scope="read")
    token = nb_oauth.get_new_access_token(cfg)
    requests.post(dot.issuer + "/revoke_token/", data={"token": token.access_token},
                  auth=("machine", secret("machine")), timeout=5).raise_for_status()
    capsys.readouterr()
    r = dot.api_me("dot-403")
    assert r.status_code == 403
    err = capsys.readouterr().err
    assert "403" in err and "WWW-Authenticate" in err and "dot-403" in err
    assert token.access_token not in err


def test_refresh_failure_after_revocation_keeps_a_clear_error(dot: Dot) -> None:
    cfg = OAuth2Config(token_name="dot-rt", grant_type="password_credentials", issuer=dot.issuer,
                       client_id="password-app", client_secret=secret("password-app"), username="alice",
                       password="wonderland", scope="read")
    token = nb_oauth.get_new_access_token(cfg)
    requests.post(dot.issuer + "/revoke_token/", data={"token": token.refresh_token, "token_type_hint": "refresh_token"},
                  auth=("password-app", secret("password-app")), timeout=5).raise_for_status()
    with pytest.raises(RefreshError) as err:
        token.refresh()
    assert "invalid_grant" in str(err.value)
    assert "dot-rt" in nb_oauth.tokens and nb_oauth.tokens["dot-rt"].access_token == token.access_token
