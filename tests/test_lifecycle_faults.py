"""Faults around a login's life: a forged ID token, a provider that goes away, DNS and TLS failures,
a user who never finishes, cancels or presses Ctrl-C, a taken port, two logins at once.

Each ends in a clear :class:`nb_oauth.OAuthError` (or a clean ``KeyboardInterrupt``), stores
nothing it should not, keeps the token that worked, and leaves no listener thread or bound
port behind.
"""

from __future__ import annotations

import _thread
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import (
    CONFIDENTIAL_CLIENT_ID,
    CONFIDENTIAL_CLIENT_SECRET,
    PUBLIC_CLIENT_ID,
)
from nb_oauth.demo import robot as demo_robot
from nb_oauth.redirect.listener import CallbackListener

from .support import report
from .support.forging_oidc import FORGERIES, FakeOIDC, oidc_config
from .support.servers import LocalServer, Reply
from .support.tls_certs import self_signed


def figure(**values: Any) -> None:
    report.record("lifecycle_faults", values)


# -- helpers --------------------------------------------------------------------------------------------


def listener_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("nb_oauth-listener")]


def assert_clean(port: int | None = None, threads_before: list[str] | None = None) -> None:
    """No listener thread left behind, and the port (if any) can be bound again."""
    deadline = time.monotonic() + 5
    while listener_threads() != (threads_before or []) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert listener_threads() == (threads_before or []), f"listener threads left: {listener_threads()}"
    if port:
        with socket.socket() as s:
            s.settimeout(2)
            assert s.connect_ex(("127.0.0.1", port)) != 0, "something still listens on the port"
        CallbackListener("x" * 32, port=port).start().close()


def timed(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    started = time.monotonic()
    try:
        return fn(), None, time.monotonic() - started
    except BaseException as exc:  # noqa: BLE001 - the caller inspects it
        return None, exc, time.monotonic() - started


def password_config(srv: Any, name: str = "life", **kw: Any) -> OAuth2Config:
    base: dict[str, Any] = dict(token_name=name, grant_type="password_credentials", access_token_url=srv.url + "/token",
                                client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                                username="alice", password="wonderland", scope="profile items:read")
    base.update(kw)
    return OAuth2Config(**base)


def code_config(srv: Any, name: str = "login", **kw: Any) -> OAuth2Config:
    base: dict[str, Any] = dict(token_name=name, grant_type="authorization_code_with_pkce",
                                auth_url=srv.url + "/authorize", access_token_url=srv.url + "/token",
                                client_id=PUBLIC_CLIENT_ID, scope="profile items:read", authorize_using_browser=False,
                                callback_timeout=30)
    base.update(kw)
    return OAuth2Config(**base)


def listener_port(flow: nb_oauth.PendingFlow) -> int:
    assert flow.redirect is not None and flow.redirect.listener is not None
    return flow.redirect.listener.port


# -- ID tokens forged by a fake OpenID provider --------------------------------------------------------


@pytest.fixture(scope="module")
def oidc() -> Iterator[FakeOIDC]:
    provider = FakeOIDC()
    with provider.server:
        yield provider


def test_a_genuine_id_token_from_the_fake_provider_passes(oidc: FakeOIDC, robot) -> None:
    """The control: the fake provider's honest token is accepted, so each rejection below means something."""
    oidc.forge = oidc.sign
    token = nb_oauth.get_new_access_token(oidc_config(oidc))
    assert token.id_token_verified and token.claims["sub"] == "mallory"


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_forged_id_token_fails_the_flow_and_stores_nothing(forgery: str, oidc: FakeOIDC, robot) -> None:
    forge, check = FORGERIES[forgery]
    oidc.forge = lambda claims: forge(oidc, claims)
    before = listener_threads()
    _, error, elapsed = timed(lambda: nb_oauth.get_new_access_token(oidc_config(oidc)))
    assert isinstance(error, nb_oauth.IDTokenError), f"{forgery}: {type(error).__name__}: {error}"
    assert check in str(error), f"{forgery}: the message does not name the {check} check: {error}"
    assert "oidc" not in nb_oauth.tokens and nb_oauth.tokens.names() == []
    assert oidc.issued[-1] not in str(error)  # the forged token itself is not echoed
    assert_clean(threads_before=before)
    figure(id_token_forgeries_rejected={forgery: check})
    assert elapsed < 15


def test_an_authorization_response_from_another_issuer_is_refused(oidc: FakeOIDC, robot) -> None:
    """RFC 9207: an ``iss`` on the redirect that is not the configured issuer is a mix-up; nothing is exchanged."""
    oidc.forge = oidc.sign
    oidc.iss_param = "https://evil.example"
    exchanged = len(oidc.issued)
    try:
        _, error, _ = timed(lambda: nb_oauth.get_new_access_token(oidc_config(oidc)))
    finally:
        oidc.iss_param = None
    assert isinstance(error, nb_oauth.StateMismatchError), f"{type(error).__name__}: {error}"
    assert "evil.example" in str(error) and "oidc" not in nb_oauth.tokens
    assert len(oidc.issued) == exchanged, "the code was exchanged despite the mix-up"


# -- the provider goes away, DNS, TLS -------------------------------------------------------------------


def test_provider_down_during_refresh_keeps_the_token() -> None:
    from nb_oauth.demo import DemoServer

    srv = DemoServer(port=0).start()
    try:
        token = nb_oauth.get_new_access_token(password_config(srv))
        before = token.token_set
    finally:
        srv.stop()
    _, error, elapsed = timed(lambda: nb_oauth.tokens.refresh("life"))
    assert isinstance(error, nb_oauth.NetworkError), f"{type(error).__name__}: {error}"
    assert "127.0.0.1" in str(error) and before.refresh_token not in str(error)
    assert nb_oauth.tokens["life"].token_set is before
    assert elapsed < 5
    figure(provider_down_refresh_s=round(elapsed, 2))


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_dns_failure_is_a_quick_network_error(scheme: str) -> None:
    cfg = OAuth2Config(token_name="dns", grant_type="client_credentials",
                       access_token_url=f"{scheme}://idp.nb-oauth-test.invalid/token", client_id="c",
                       client_secret="dns-secret-value-0123", allow_insecure_http=scheme == "http")
    _, error, elapsed = timed(lambda: nb_oauth.get_new_access_token(cfg))
    assert isinstance(error, nb_oauth.NetworkError), f"{type(error).__name__}: {error}"
    assert "idp.nb-oauth-test.invalid" in str(error) and "dns-secret-value-0123" not in str(error)
    assert "dns" not in nb_oauth.tokens
    assert elapsed < 10
    figure(**{f"dns_failure_{scheme}_s": round(elapsed, 2)})


def test_tls_failure_names_tls_and_a_trusted_bundle_fixes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A self-signed token endpoint is refused (NetworkError naming TLS) until its CA is trusted."""
    cert, key = self_signed(tmp_path)
    answer = json.dumps({"access_token": "tls-access-token-abcdef", "token_type": "Bearer", "expires_in": 60})
    server = LocalServer(lambda seen, raw: Reply(200, answer))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.server.socket = ctx.wrap_socket(server.server.socket, server_side=True)
    url = server.url.replace("http://", "https://") + "/token"
    cfg = OAuth2Config(token_name="tls", grant_type="client_credentials", access_token_url=url, client_id="c",
                       client_secret="tls-secret-value-0123")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with server:
        _, error, elapsed = timed(lambda: nb_oauth.get_new_access_token(cfg))
        assert isinstance(error, nb_oauth.NetworkError), f"{type(error).__name__}: {error}"
        assert "TLS" in str(error) and "certificate" in str(error).lower()
        assert "tls-secret-value-0123" not in str(error) and "tls" not in nb_oauth.tokens
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))  # what the error's fix says to do
        assert nb_oauth.get_new_access_token(cfg).access_token == "tls-access-token-abcdef"
    figure(tls_failure_s=round(elapsed, 2))


# -- the user: never finishes, cancels, presses Ctrl-C; a taken port; two logins ------------------------


def test_nobody_logs_in_times_out_and_frees_the_port(demo, no_browser) -> None:
    before = listener_threads()
    flow = nb_oauth.start_flow(code_config(demo, callback_timeout=1), open_browser=False)
    port = listener_port(flow)
    _, error, elapsed = timed(flow.wait)
    assert isinstance(error, nb_oauth.FlowTimeoutError), f"{type(error).__name__}: {error}"
    assert "1 s" in str(error) and 0.9 <= elapsed < 4
    assert "login" not in nb_oauth.tokens
    assert_clean(port, before)
    figure(callback_timeout_1s_took_s=round(elapsed, 2))


def test_the_abort_link_cancels_the_login(demo, no_browser) -> None:
    before = listener_threads()
    flow = nb_oauth.start_flow(code_config(demo), open_browser=False)
    port = listener_port(flow)
    assert flow.redirect is not None and flow.redirect.listener is not None
    abort_url = flow.redirect.listener.abort_url
    wrong = abort_url.replace("state=", "state=x")
    assert requests.get(wrong, timeout=5).status_code == 400  # someone else's cancel link does nothing
    threading.Timer(0.3, lambda: requests.get(abort_url, timeout=5)).start()
    _, error, elapsed = timed(flow.wait)
    assert isinstance(error, nb_oauth.FlowCancelledError), f"{type(error).__name__}: {error}"
    assert elapsed < 5 and "login" not in nb_oauth.tokens
    assert_clean(port, before)


def test_a_taken_port_is_a_listener_error(demo, no_browser) -> None:
    before = listener_threads()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        cfg = code_config(demo, callback_url=f"http://127.0.0.1:{port}/callback")
        _, error, _ = timed(lambda: nb_oauth.get_new_access_token(cfg, open_browser=False))
        assert isinstance(error, nb_oauth.ListenerError), f"{type(error).__name__}: {error}"
        assert str(port) in str(error) and "in use" in str(error)
    assert_clean(port, before)
    first = CallbackListener("a" * 32, port=port).start()  # nor may a second listener share a live one's port
    try:
        with pytest.raises(nb_oauth.ListenerError):
            CallbackListener("b" * 32, port=port).start()
    finally:
        first.close()
    assert_clean(port, before)


def test_a_registered_port_can_be_used_again_right_away(demo, robot) -> None:
    """Two logins in a row on the same fixed callback port: the second must not find it "in use"."""
    port = CallbackListener("x" * 32).start()
    fixed = port.port
    port.close()
    before = listener_threads()
    for _ in range(2):
        cfg = code_config(demo, callback_url=f"http://127.0.0.1:{fixed}/callback", authorize_using_browser=True)
        assert nb_oauth.get_new_access_token(cfg).access_token
    assert_clean(fixed, before)


def test_two_logins_at_once_do_not_mix_up(demo, no_browser) -> None:
    before = listener_threads()
    one = nb_oauth.start_flow(code_config(demo, name="one"), open_browser=False)
    two = nb_oauth.start_flow(code_config(demo, name="two", grant_type="authorization_code",
                                          client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                                          scope="profile items:read items:write"), open_browser=False)
    ports = {listener_port(one), listener_port(two)}
    assert len(ports) == 2
    results: dict[str, Any] = {}

    def login(name: str, flow: nb_oauth.PendingFlow) -> None:
        results[name + "-robot"] = demo_robot.run(flow.authorization_url or "")
        results[name] = flow.wait()

    threads = [threading.Thread(target=login, args=("two", two)), threading.Thread(target=login, args=("one", one))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results["one-robot"].ok and results["two-robot"].ok
    assert nb_oauth.tokens["one"] is results["one"] and nb_oauth.tokens["two"] is results["two"]
    assert results["one"].access_token != results["two"].access_token
    me_one = nb_oauth.session("one").get(demo.url + "/api/me").json()
    me_two = nb_oauth.session("two").get(demo.url + "/api/me").json()
    assert me_one["client_id"] == PUBLIC_CLIENT_ID and me_two["client_id"] == CONFIDENTIAL_CLIENT_ID
    assert "items:write" in results["two"].scope and "items:write" not in results["one"].scope
    for port in ports:
        assert_clean(port, before)


def test_ctrl_c_while_waiting_releases_the_port(demo, no_browser, ctrl_c) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("Ctrl-C reaches only the main thread")
    before = listener_threads()
    flow = nb_oauth.start_flow(code_config(demo), open_browser=False)
    port = listener_port(flow)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            flow.wait()
    finally:
        timer.cancel()
        timer.join()
    assert time.monotonic() - started < 5
    assert "login" not in nb_oauth.tokens
    assert_clean(port, before)
    with pytest.raises(nb_oauth.OAuthError):  # the cancelled flow cannot be finished any more
        flow.complete(f"http://127.0.0.1:{port}/callback?code=x&state=y")


def test_a_whole_login_leaves_no_secret_in_logs_or_console(demo, robot, caplog: pytest.LogCaptureFixture,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Codes, verifiers, tokens and the client secret never reach a log record or this process's output."""
    import logging
    import os

    caplog.set_level(logging.DEBUG)  # every logger, urllib3's included
    cfg = code_config(demo, name="quiet", client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                      scope="openid profile items:read", issuer=demo.url, authorize_using_browser=True)
    flow = nb_oauth.start_flow(cfg)
    token = flow.wait()
    nb_oauth.tokens.refresh("quiet")
    assert flow.redirect is not None and flow.redirect.listener is not None
    result = flow.redirect.listener.result
    assert result is not None
    first = [result.params.get("code"), flow.redirect.code_verifier]
    secrets = [*first, CONFIDENTIAL_CLIENT_SECRET, token.access_token, token.refresh_token, token.id_token]
    out = capsys.readouterr()
    server_side = ("authlib", "werkzeug", "flask", "nb_oauth.demo")  # the provider's own logs are its business
    client_records = [r for r in caplog.records if not r.name.startswith(server_side)]
    seen = "\n".join(r.getMessage() for r in client_records) + out.out + out.err
    assert len([s for s in secrets if s]) >= 6
    assert [s[:8] + "…" for s in secrets if s and len(s) >= 6 and s in seen] == []
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ  # plain http to loopback without the global switch


def test_tokens_stay_in_memory_unless_shared(demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``share=True`` a token is never written anywhere: no store file, no keyring, no shared save."""
    from nb_oauth.sharing import shared

    monkeypatch.setenv("NB_OAUTH_CONFIG_DIR", str(tmp_path / "config"))
    saved: list[str] = []
    monkeypatch.setattr(shared, "save", lambda cfg, token_set: saved.append(cfg.token_name) or True)
    token = nb_oauth.get_new_access_token(password_config(demo, name="memory"))
    nb_oauth.tokens.refresh("memory")
    assert saved == [] and not (tmp_path / "config").exists()
    written = [p for p in tmp_path.rglob("*") if p.is_file() and token.access_token.encode() in p.read_bytes()]
    assert written == []
