"""httpx's async path: expiry checked on the event loop, one refresh however many requests wait for it."""

from __future__ import annotations

import asyncio
import time

import anyio.to_thread
import httpx
import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET


def password_config(srv) -> OAuth2Config:
    return OAuth2Config(token_name="live", grant_type="password_credentials", access_token_url=srv.url + "/token",
                        client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                        username="alice", password="wonderland", scope="profile items:read")


def refreshes(srv) -> int:
    return srv.stats.get("token:refresh_token", 0)


@pytest.fixture
def thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every call nb_oauth hands to a worker thread (the real anyio function still runs it)."""
    calls: list[object] = []
    real = anyio.to_thread.run_sync

    async def counted(func, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return calls


async def gather(url: str, n: int) -> list[int]:
    limits = httpx.Limits(max_connections=10)
    async with httpx.AsyncClient(auth=nb_oauth.auth("live"), limits=limits, timeout=30) as client:
        answers = await asyncio.gather(*(client.get(url) for _ in range(n)), return_exceptions=True)
    return [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers]  # type: ignore[misc]


def test_a_valid_token_never_leaves_the_event_loop(demo, thread_hops: list[object]) -> None:
    nb_oauth.get_new_access_token(password_config(demo))
    assert asyncio.run(gather(demo.url + "/api/me", 50)) == [200] * 50
    assert thread_hops == []


def test_an_expiry_storm_under_gather_makes_one_refresh_and_fails_nothing(short_demo,
                                                                          thread_hops: list[object]) -> None:
    short_demo.settings.access_token_lifetime = 1
    token = nb_oauth.get_new_access_token(password_config(short_demo))
    first = token.access_token
    time.sleep(max(0.0, token.expires_at.timestamp() - time.time()) + 0.1)  # type: ignore[union-attr]
    short_demo.settings.access_token_lifetime = 3600  # the refreshed token outlives the storm
    short_demo.reset_stats()
    assert asyncio.run(gather(short_demo.url + "/api/me", 200)) == [200] * 200
    assert refreshes(short_demo) == 1
    assert len(thread_hops) == 1  # the other 199 requests waited for that refresh on the event loop
    assert nb_oauth.tokens["live"].access_token != first


def test_a_401_storm_under_gather_makes_one_refresh(demo, thread_hops: list[object]) -> None:
    nb_oauth.get_new_access_token(password_config(demo))
    demo.revoke_all_access_tokens()
    demo.reset_stats()
    assert asyncio.run(gather(demo.url + "/api/me", 100)) == [200] * 100
    assert refreshes(demo) == 1
    assert len(thread_hops) == 1


def test_an_expired_token_with_auto_refresh_off_fails_clearly(short_demo) -> None:
    short_demo.settings.access_token_lifetime = 1
    cfg = password_config(short_demo)
    cfg = cfg.copy(auto_refresh=False)
    token = nb_oauth.get_new_access_token(cfg)
    time.sleep(max(0.0, token.expires_at.timestamp() - time.time()) + 0.1)  # type: ignore[union-attr]
    answers = asyncio.run(gather(short_demo.url + "/api/me", 3))
    assert all("TokenExpiredError" in str(a) for a in answers)
    assert refreshes(short_demo) == 0


def test_an_early_refresh_that_fails_keeps_the_valid_token_for_every_waiting_request(
        short_demo, thread_hops: list[object]) -> None:
    short_demo.settings.access_token_lifetime = 10  # refreshed 2 s early (a fifth of its lifetime)
    token = nb_oauth.get_new_access_token(password_config(short_demo))
    due = token.token_set.refresh_due_at(nb_oauth.tokens.config("live").refresh_leeway)
    time.sleep(max(0.0, due - time.time()) + 0.05)  # type: ignore[operator]
    short_demo.reset_stats()
    short_demo.fail_next_token_requests(1)
    assert asyncio.run(gather(short_demo.url + "/api/me", 50)) == [200] * 50
    assert short_demo.stats.get("token:injected_fault", 0) == 1  # one refresh attempt for all 50 requests
    assert len(thread_hops) == 1
    assert nb_oauth.tokens["live"].access_token == token.access_token  # the valid token stayed in use
