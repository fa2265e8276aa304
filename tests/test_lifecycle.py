"""The token as a live object: auto-refresh, single-flight under threads, retry on 401, httpx, revocation."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
import requests

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET


def password_config(srv, **kw) -> OAuth2Config:
    base = dict(token_name="live", grant_type="password_credentials", issuer=srv.url,
                client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                username="alice", password="wonderland", scope="openid profile items:read")
    base.update(kw)
    return OAuth2Config(**base)


def refreshes(srv) -> int:
    return srv.stats.get("token:refresh_token", 0)


def test_a_loop_across_many_expiries_never_fails(short_demo) -> None:
    token = nb_oauth.get_new_access_token(password_config(short_demo))
    first = token.access_token
    s = nb_oauth.session("live")
    failures, calls = 0, 0
    deadline = time.monotonic() + 7  # a 2 s token: at least three expiries
    while time.monotonic() < deadline:
        r = s.get(short_demo.url + "/api/items", params={"page": 1, "per_page": 5})
        calls += 1
        failures += r.status_code != 200
    assert failures == 0 and calls > 20
    assert refreshes(short_demo) >= 3
    assert token.access_token != first  # the same Token object shows the current token


def test_small_tokens_are_not_refreshed_on_every_call(short_demo) -> None:
    nb_oauth.get_new_access_token(password_config(short_demo))
    short_demo.reset_stats()
    s = nb_oauth.session("live")
    for _ in range(20):
        assert s.get(short_demo.url + "/api/me").status_code == 200
    assert refreshes(short_demo) <= 1


def test_64_threads_on_an_expired_token_make_one_refresh(short_demo) -> None:
    short_demo.settings.access_token_lifetime = 1
    nb_oauth.get_new_access_token(password_config(short_demo))
    time.sleep(1.2)
    short_demo.settings.access_token_lifetime = 60  # the refreshed token outlives the storm, however slow the machine
    short_demo.reset_stats()
    barrier = threading.Barrier(64)
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        s = nb_oauth.session("live")
        barrier.wait()
        r = s.get(short_demo.url + "/api/me")
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=call) for _ in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(statuses) == 64 and set(statuses) == {200}
    assert refreshes(short_demo) == 1


def test_a_401_refreshes_once_and_retries(demo) -> None:
    nb_oauth.get_new_access_token(password_config(demo))
    before = nb_oauth.tokens["live"].access_token
    demo.revoke_all_access_tokens()
    r = nb_oauth.session("live").get(demo.url + "/api/me")
    assert r.status_code == 200 and len(r.history) == 1 and r.history[0].status_code == 401
    assert nb_oauth.tokens["live"].access_token != before


def test_httpx_sync_and_async_with_401_retry(demo) -> None:
    nb_oauth.get_new_access_token(password_config(demo))
    auth = nb_oauth.auth("live")
    with httpx.Client(auth=auth) as client:
        assert client.get(demo.url + "/api/me").json()["sub"] == "alice"
        demo.revoke_all_access_tokens()
        assert client.get(demo.url + "/api/me").status_code == 200

    async def main() -> list[int]:
        async with httpx.AsyncClient(auth=auth) as client:
            demo.revoke_all_access_tokens()
            rs = await asyncio.gather(*(client.get(demo.url + "/api/me") for _ in range(8)))
            return [r.status_code for r in rs]

    assert asyncio.run(main()) == [200] * 8


def test_requests_auth_object_and_token_placement(demo) -> None:
    nb_oauth.get_new_access_token(password_config(demo, add_token_to="url"))
    r = requests.get(demo.url + "/api/echo", params={"x": "1"}, auth=nb_oauth.auth("live"), timeout=10)
    body = r.json()
    assert body["token_location"] == "query" and body["query"] == {"x": "1"}
    nb_oauth.get_new_access_token(password_config(demo, token_name="hdr", header_prefix="Bearer"))
    body = nb_oauth.session("hdr").get(demo.url + "/api/echo").json()
    assert body["token_location"] == "header" and body["auth_scheme"] == "Bearer"


def test_use_token_type_id_token_sends_the_id_token(demo) -> None:
    token = nb_oauth.get_new_access_token(password_config(demo, use_token_type="id_token"))
    body = nb_oauth.session("live").get(demo.url + "/api/echo").json()
    assert body["token_prefix"] == token.id_token[:6] != token.access_token[:6]


def test_manual_refresh_rotates_the_refresh_token(demo) -> None:
    token = nb_oauth.get_new_access_token(password_config(demo))
    old_refresh = token.refresh_token
    again = nb_oauth.tokens.refresh("live")
    assert again is token and token.refresh_token != old_refresh


def test_a_failed_refresh_keeps_the_valid_token(demo) -> None:
    token = nb_oauth.get_new_access_token(password_config(demo))
    before = token.token_set
    demo.fail_next_token_requests(1, status=503, body="<html>down</html>")
    with pytest.raises(nb_oauth.RefreshError) as info:
        nb_oauth.tokens.refresh("live")
    assert "503" in str(info.value)
    assert nb_oauth.tokens["live"].token_set is before
    assert nb_oauth.session("live").get(demo.url + "/api/me").status_code == 200


def test_no_refresh_token_client_credentials_fetches_again(short_demo) -> None:
    cfg = OAuth2Config(token_name="cc", grant_type="client_credentials", access_token_url=short_demo.url + "/token",
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET)
    token = nb_oauth.get_new_access_token(cfg)
    assert token.refresh_token is None
    time.sleep(2.1)
    assert nb_oauth.session("cc").get(short_demo.url + "/api/me").status_code == 200
    assert short_demo.stats.get("token:client_credentials", 0) >= 2


def test_no_refresh_token_other_grants_say_log_in_again(short_demo, robot) -> None:
    cfg = OAuth2Config(token_name="imp", grant_type="implicit", auth_url=short_demo.url + "/authorize",
                       client_id="demo-public", scope="profile", authorize_using_browser=True, callback_timeout=30)
    token = nb_oauth.get_new_access_token(cfg)
    time.sleep(2.1)
    with pytest.raises(nb_oauth.RefreshError) as info:
        nb_oauth.session("imp").get(short_demo.url + "/api/me")
    assert "log in again" in str(info.value).lower()
    assert nb_oauth.tokens["imp"] is token  # still visible


def test_auto_refresh_off(short_demo) -> None:
    nb_oauth.get_new_access_token(password_config(short_demo, auto_refresh=False))
    time.sleep(2.1)
    with pytest.raises(nb_oauth.TokenExpiredError):
        nb_oauth.session("live").get(short_demo.url + "/api/me")
    nb_oauth.tokens.refresh("live")  # manual refresh always works
    assert nb_oauth.session("live").get(short_demo.url + "/api/me").status_code == 200


def test_revoke_refresh_then_access_and_forget(demo) -> None:
    token = nb_oauth.get_new_access_token(password_config(demo))
    access, refresh = token.access_token, token.refresh_token
    nb_oauth.tokens.revoke("live")
    assert "live" not in nb_oauth.tokens
    for value in (access, refresh):
        r = requests.post(demo.url + "/introspect", data={"token": value},
                          auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET), timeout=10)
        assert r.json()["active"] is False
    titles = [s.title for s in token.trace.steps]
    assert titles.index("Revoke refresh token") < titles.index("Revoke access token")


def test_delete_forgets_without_revoking(demo) -> None:
    token = nb_oauth.get_new_access_token(password_config(demo))
    message = nb_oauth.tokens.delete("live")
    assert "not revoked" in message and "live" not in nb_oauth.tokens
    r = requests.post(demo.url + "/introspect", data={"token": token.access_token},
                      auth=(CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET), timeout=10)
    assert r.json()["active"] is True


def test_missing_name_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        nb_oauth.tokens["nope"]
    with pytest.raises(KeyError):
        nb_oauth.session("nope")


def test_a_token_in_the_url_never_reaches_http_library_logs(demo, caplog) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    token = nb_oauth.get_new_access_token(password_config(demo, add_token_to="url"))
    assert nb_oauth.session("live").get(demo.url + "/api/echo").json()["token_location"] == "query"
    with httpx.Client(auth=nb_oauth.auth("live")) as client:
        assert client.get(demo.url + "/api/echo").status_code == 200
    client_side = [r for r in caplog.records if r.name.startswith(("urllib3", "httpx", "httpcore"))]
    assert any("/api/echo" in r.getMessage() for r in client_side)  # the request lines were logged...
    logged = "\n".join(r.getMessage() for r in client_side)
    assert token.access_token not in logged  # ...without the token
