"""``%oauth_token --from-postman`` and ``--share`` in a real IPython shell, against the demo server on loopback:
a Postman collection and environment imported and then used, a bad file refused in one line, and a shared
token picked up by a new kernel without a second login.
"""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

import nb_oauth
from nb_oauth import tokens
from nb_oauth.demo import CONFIDENTIAL_CLIENT_SECRET

from .support import magic_shell
from .support.magic_shell import CC, run, stopped

ip = magic_shell.ip
fresh_namespace = magic_shell.fresh_namespace  # automatic: BASE, TOKEN_URL and SECRET for every cell


def test_from_postman_imports_then_gets_the_token(ip: InteractiveShell, demo, tmp_path) -> None:
    import json

    collection = {
        "info": {"name": "Demo API", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "auth": {"type": "oauth2", "oauth2": [
            {"key": "tokenName", "value": "postman_cc", "type": "string"},
            {"key": "grant_type", "value": "client_credentials", "type": "string"},
            {"key": "accessTokenUrl", "value": "{{baseUrl}}/token", "type": "string"},
            {"key": "clientId", "value": "demo-confidential", "type": "string"},
            {"key": "clientSecret", "value": "{{clientSecret}}", "type": "string"},
            {"key": "scope", "value": "items:read", "type": "string"},
        ]},
        "item": [{"name": "me", "request": {"method": "GET", "url": "{{baseUrl}}/api/me"}}],
        "variable": [{"key": "baseUrl", "value": demo.url}],
    }
    environment = {"name": "local", "values": [{"key": "clientSecret", "value": CONFIDENTIAL_CLIENT_SECRET,
                                                "enabled": True}]}
    (tmp_path / "c.json").write_text(json.dumps(collection))
    (tmp_path / "e.json").write_text(json.dumps(environment))
    cell = run(ip, f"%oauth_token --from-postman {tmp_path / 'c.json'} --environment {tmp_path / 'e.json'}")
    assert cell.error is None and "postman_cc" in cell.text
    assert CONFIDENTIAL_CLIENT_SECRET not in cell.text
    assert "postman_cc" not in tokens  # imported, not yet used
    got = run(ip, "%oauth_token postman_cc")
    assert got.error is None, got.text
    assert ip.user_ns["postman_cc"].scope == "items:read"
    assert nb_oauth.session("postman_cc").get(demo.url + "/api/me").json()["client_id"] == "demo-confidential"
    tokens.delete("postman_cc")


def test_from_postman_bad_file_is_a_short_error(ip: InteractiveShell, tmp_path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    cell = run(ip, f"%oauth_token --from-postman {tmp_path / 'bad.json'}")
    assert stopped(cell) and "bad.json" in cell.text


def test_a_shared_token_is_picked_up_by_a_new_kernel(ip: InteractiveShell, demo, tmp_path, monkeypatch) -> None:
    """`--share` in one kernel, then the same line in another: no second login."""
    monkeypatch.setenv("NB_OAUTH_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NB_OAUTH_SHARE_BACKEND", "file")
    first = run(ip, f"%oauth_token shared {CC} --share")
    assert first.error is None, first.text
    kept = tokens["shared"].access_token
    tokens.clear()  # what a fresh kernel starts with
    before = demo.stats.get("token:client_credentials", 0)
    again = run(ip, f"%oauth_token shared {CC} --share")
    assert again.error is None and "reused" in again.text, again.text
    assert tokens["shared"].access_token == kept
    assert demo.stats.get("token:client_credentials", 0) == before
    tokens.delete("shared")
