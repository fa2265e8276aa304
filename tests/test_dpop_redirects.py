"""DPoP across redirects, against the DPoP-verifying resource server (which refuses a proof signed for another
method or URL): a redirect requests follows gets a proof for each hop; neither the token nor a proof goes on to
another origin; httpx's last hop is sent again with its own proof; a URL's ``user:password`` is never in a
proof's ``htu``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests

import nb_oauth
from nb_oauth.dpop import _nonce, htu

from .support.dpop_resource_server import DPoPResourceServer
from .test_dpop import dpop_cc


@pytest.fixture
def hops(oidc_provider: Any, dpop_rs: DPoPResourceServer) -> Iterator[nb_oauth.Token]:
    _nonce.clear()
    dpop_rs.stats.refused.clear()
    dpop_rs.stats.seen.clear()
    yield dpop_cc(oidc_provider, name="hops")
    _nonce.clear()


def landing(rs: DPoPResourceServer) -> list[tuple[str, str, bool, bool]]:
    return [seen for seen in rs.stats.seen if seen[1] == "/accounts"]


@pytest.mark.parametrize(("status", "method", "then"), [
    (301, "GET", "GET"), (302, "POST", "GET"), (303, "POST", "GET"), (307, "POST", "POST"), (308, "PUT", "PUT")])
def test_requests_gives_each_followed_hop_a_proof_of_its_own(hops: nb_oauth.Token, dpop_rs: DPoPResourceServer,
                                                             status: int, method: str, then: str) -> None:
    session = nb_oauth.session("hops")
    for call in (lambda: session.request(method, f"{dpop_rs.url}/moved/{status}/accounts", data=b"x"),
                 lambda: requests.request(method, f"{dpop_rs.url}/moved/{status}/accounts?q=1", data=b"x",
                                          auth=nb_oauth.auth("hops"), timeout=30)):
        r = call()
        assert r.status_code == 200, dpop_rs.stats.refused
        assert r.json()["scheme"] == "DPoP" and [h.status_code for h in r.history][:1] == [status]
    assert set(dpop_rs.stats.refused) <= {"use_dpop_nonce"}, dpop_rs.stats.refused  # no proof refused
    assert {(m, auth, dpop) for m, _, auth, dpop in landing(dpop_rs)} == {(then, True, True)}


def test_a_nonce_asked_for_at_the_hop_is_retried_there_once(hops: nb_oauth.Token, dpop_rs: DPoPResourceServer) -> None:
    r = nb_oauth.session("hops").get(f"{dpop_rs.url}/moved/302/accounts")
    assert r.status_code == 200 and dpop_rs.stats.refused == ["use_dpop_nonce"]
    assert len(landing(dpop_rs)) == 2  # the hop, then its one retry with the nonce


def test_neither_token_nor_proof_follows_a_redirect_to_another_origin(hops: nb_oauth.Token,
                                                                      dpop_rs: DPoPResourceServer) -> None:
    other = DPoPResourceServer(dpop_rs.introspection_url, *dpop_rs.auth).start()
    try:
        r = nb_oauth.session("hops").get(f"{dpop_rs.url}/moved/302/x?to={other.url}/accounts")
        assert r.status_code == 401 and other.stats.seen == [("GET", "/accounts", False, False)]
    finally:
        other.stop()


def test_a_url_with_user_and_password_keeps_them_out_of_the_proof(hops: nb_oauth.Token,
                                                                  dpop_rs: DPoPResourceServer) -> None:
    assert htu("http://user:pw@API.example:80/a?b#c") == "http://api.example/a"
    r = nb_oauth.session("hops").get(dpop_rs.url.replace("http://", "http://user:pw@") + "/accounts")
    assert r.status_code == 200, dpop_rs.stats.refused


@pytest.mark.parametrize("status", [302, 307])
def test_httpx_sends_the_last_hop_again_with_its_own_proof(hops: nb_oauth.Token, dpop_rs: DPoPResourceServer,
                                                           status: int) -> None:
    with httpx.Client(auth=nb_oauth.auth("hops"), follow_redirects=True, timeout=30) as client:
        r = client.post(f"{dpop_rs.url}/moved/{status}/accounts", content=b"x")
        assert r.status_code == 200, dpop_rs.stats.refused
        assert r.json()["scheme"] == "DPoP"
        moved = [seen for seen in dpop_rs.stats.seen if seen[1].startswith("/moved/")]
        assert len(moved) == 1  # the redirect chain is not walked again


def test_async_httpx_sends_the_last_hop_again_with_its_own_proof(hops: nb_oauth.Token,
                                                                 dpop_rs: DPoPResourceServer) -> None:
    import asyncio

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(auth=nb_oauth.auth("hops"), follow_redirects=True, timeout=30) as client:
            return await client.get(f"{dpop_rs.url}/moved/308/accounts")

    r = asyncio.run(call())
    assert r.status_code == 200 and r.json()["scheme"] == "DPoP", dpop_rs.stats.refused
