"""DPoP proofs signed a run at a time while a loop calls one URL: each proof is used once, only for the
request it was signed for, and only while fresh. The rules on their own (with a counting signer and a
set clock), then a loop against the DPoP-verifying resource server, which refuses any replayed ``jti``,
a wrong ``ath``, ``htu`` or nonce."""

from __future__ import annotations

import threading

import pytest

import nb_oauth
from nb_oauth.dpop import DPoPKey, _ahead, _nonce
from nb_oauth.dpop._ahead import MAX_AGE, MAX_RUN, ProofStock

WANT = ("GET", "https://api.example/items", "token-1", None)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(_ahead, "clock", fake)
    return fake


class Signer:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"proof-{self.count}"


def test_a_one_off_request_signs_one_proof_and_keeps_none(clock: Clock) -> None:
    stock, sign = ProofStock(), Signer()
    assert stock.take(WANT, sign) == "proof-1"
    assert sign.count == 1
    clock.now += MAX_AGE + 0.01
    assert stock.take(WANT, sign) == "proof-2"  # the pause ends the loop: one proof again, nothing kept
    assert sign.count == 2


def test_a_fast_loop_signs_in_growing_runs_and_uses_each_proof_once(clock: Clock) -> None:
    stock, sign = ProofStock(), Signer()
    got = []
    signs_per_call = []
    for _ in range(200):
        before = sign.count
        got.append(stock.take(WANT, sign))
        signs_per_call.append(sign.count - before)
        clock.now += 0.0005
    assert len(set(got)) == len(got) == 200  # never the same proof twice
    assert got == [f"proof-{i}" for i in range(1, 201)]  # in the order they were signed
    runs = [n for n in signs_per_call if n]
    assert runs[:6] == [1, 2, 4, 8, 16, 32] and max(runs) == MAX_RUN
    assert sign.count - len(got) < MAX_RUN  # at most one run's leftovers were signed for nothing


def test_a_slow_loop_signs_no_more_than_it_uses_in_time(clock: Clock) -> None:
    stock, sign = ProofStock(), Signer()
    for _ in range(50):
        stock.take(WANT, sign)
        clock.now += MAX_AGE * 0.8  # within MAX_AGE of the last one, too slow for a second proof to stay fresh
    assert sign.count == 50


@pytest.mark.parametrize("changed", [
    ("POST", *WANT[1:]),
    (WANT[0], "https://api.example/other", *WANT[2:]),
    (*WANT[:2], "token-2", None),  # a refreshed token: a new ath
    (*WANT[:3], "server-nonce"),  # the server gave a nonce
])
def test_any_change_throws_the_rest_of_a_run_away(clock: Clock, changed: tuple) -> None:  # type: ignore[type-arg]
    stock, sign = ProofStock(), Signer()
    for _ in range(8):  # a run of 4 is signed on the 4th call, one of it used: 3 left
        stock.take(WANT, sign)
        clock.now += 0.001
    left = sign.count - 8
    assert left > 0
    fresh = stock.take(changed, sign)
    assert fresh == f"proof-{sign.count}"  # signed now, for the new request
    back = stock.take(WANT, sign)
    assert back == f"proof-{sign.count}"  # the old run is gone: nothing signed for WANT is handed out again


def test_a_proof_older_than_max_age_is_never_sent(clock: Clock) -> None:
    stock, sign = ProofStock(), Signer()
    for _ in range(8):
        stock.take(WANT, sign)
        clock.now += 0.001
    assert sign.count > 8
    clock.now += MAX_AGE
    assert stock.take(WANT, sign) == f"proof-{sign.count}"


def test_threads_sharing_a_key_never_get_the_same_proof() -> None:
    key = DPoPKey.generate("ES256")
    got: list[str] = []
    lock = threading.Lock()

    def loop() -> None:
        mine = [key.resource_proof("GET", "https://api.example/items?page=1", "tok", None) for _ in range(150)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=loop) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 900 and len(set(got)) == 900


def test_requests_differing_only_in_their_query_share_a_run() -> None:
    from nb_oauth.dpop import describe_proof

    key = DPoPKey.generate("ES256")
    claims = [describe_proof(key.resource_proof("GET", f"https://API.example/items?page={i}", "tok", None))["claims"]
              for i in range(40)]
    assert {c["htu"] for c in claims} == {"https://api.example/items"}
    assert len({c["jti"] for c in claims}) == 40


@pytest.fixture
def fresh_nonces():  # type: ignore[no-untyped-def]
    _nonce.clear()
    yield
    _nonce.clear()


def test_a_loop_against_a_verifying_server_is_never_refused(oidc_provider, dpop_rs, fresh_nonces) -> None:
    from .test_dpop import dpop_cc

    token = dpop_cc(oidc_provider, name="looped")
    first = token.access_token
    session = nb_oauth.session("looped")
    answers = [session.get(dpop_rs.url + f"/items?page={i}").status_code for i in range(150)]
    assert answers == [200] * 150, dpop_rs.stats.refused
    challenges = dpop_rs.stats.nonce_challenges
    dpop_rs.nonce = "a-new-nonce"  # the server moves on: proofs signed for the old one must not be retried
    assert session.get(dpop_rs.url + "/items").status_code == 200
    assert dpop_rs.stats.nonce_challenges == challenges + 1
    refreshed = nb_oauth.tokens.refresh("looped") if token.refresh_token else dpop_cc(oidc_provider, name="looped")
    assert refreshed.access_token != first
    answers = [session.get(dpop_rs.url + "/items").status_code for _ in range(20)]  # a new token: a new ath
    assert answers == [200] * 20, dpop_rs.stats.refused
    assert set(dpop_rs.stats.refused) == {"use_dpop_nonce"}  # nonce challenges only: no proof was refused


def test_a_forked_child_never_sends_a_proof_its_parent_holds() -> None:
    import os

    key = DPoPKey.generate("ES256")
    for _ in range(8):  # the parent holds a run of proofs now
        key.resource_proof("GET", "https://api.example/items", "tok", None)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first proof, to the parent, then out without pytest's teardown
        try:
            os.write(write, key.resource_proof("GET", "https://api.example/items", "tok", None).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        childs = pipe.read().decode()
    os.waitpid(pid, 0)
    parents = key.resource_proof("GET", "https://api.example/items", "tok", None)
    assert childs and childs != parents


def test_a_userinfo_loop_passes_the_providers_own_replay_and_iat_checks(oidc_provider, provider_login, fresh_nonces,
                                                                        clock: Clock,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """oidc-provider checks every proof at its userinfo endpoint itself (signature, htm, htu, ath, iat and
    a replay cache of jti): proofs signed in runs pass it like proofs signed one by one. The runs' clock
    moves a millisecond a call, so they are signed in runs however slow this machine is."""
    cfg = nb_oauth.OAuth2Config(token_name="runs-me", grant_type="authorization_code_with_pkce",
                                issuer=oidc_provider.issuer, client_id="public", scope="openid email", dpop=True)
    nb_oauth.get_new_access_token(cfg)
    signed = []
    real_sign = DPoPKey._sign

    def counted(self: DPoPKey, what: tuple) -> str:  # type: ignore[type-arg]
        clock.now += 0.001
        signed.append(what)
        return real_sign(self, what)

    monkeypatch.setattr(DPoPKey, "_sign", counted)
    subs = [nb_oauth.tokens.userinfo("runs-me")["sub"] for _ in range(40)]
    assert subs == ["alice"] * 40
    assert len(signed) > 40  # runs were signed ahead, and none of their proofs was refused
