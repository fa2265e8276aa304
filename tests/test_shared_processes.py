"""Two real processes share one rotating refresh token through nb_oauth's store: none is ever lost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

WORKER = textwrap.dedent(
    """
    import json, sys
    import nb_oauth
    cfg = nb_oauth.OAuth2Config(**json.loads(sys.argv[1]))
    token = nb_oauth.tokens.load_shared(cfg)
    assert token is not None, "no shared token found"
    failures = 0
    for _ in range(int(sys.argv[2])):
        try:
            nb_oauth.tokens.refresh(cfg.token_name)
        except nb_oauth.OAuthError as exc:
            failures += 1
            print("refresh failed:", exc, file=sys.stderr)
    r = nb_oauth.session(cfg.token_name).get(sys.argv[3] + "/api/me", timeout=10)
    print(json.dumps({"failures": failures, "status": r.status_code}))
    """
)


@pytest.mark.slow
def test_two_kernels_refresh_a_rotating_token_in_a_race(demo, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NB_OAUTH_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NB_OAUTH_SHARE_BACKEND", "file")
    fields = dict(token_name="shared", grant_type="password_credentials", access_token_url=demo.url + "/token",
                  client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET, username="alice",
                  password="wonderland", scope="profile items:read", share=True)
    nb_oauth.get_new_access_token(OAuth2Config(**fields))
    before = demo.stats.get("token:refresh_token", 0)
    per_process = 50
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(fields), str(per_process), demo.url],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [r["failures"] for r in results] == [0, 0], results
    assert [r["status"] for r in results] == [200, 200]
    assert demo.stats.get("token:refresh_token", 0) - before == 2 * per_process  # every refresh went through once
    latest = nb_oauth.tokens.load_shared(OAuth2Config(**fields))
    assert latest is not None
    nb_oauth.tokens.refresh("shared")  # the newest refresh token is still valid: no session was lost
    stored = b"".join(f.read_bytes() for f in tmp_path.rglob("*") if f.is_file())
    for secret in (CONFIDENTIAL_CLIENT_SECRET, "wonderland", latest.access_token, latest.refresh_token):
        assert secret.encode() not in stored  # encrypted at rest; client secret and password never stored
