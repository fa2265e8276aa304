"""A misbehaving token endpoint: every fault is a clear error, no secret leaks, the old token survives.

Real token endpoints fail in many ways: error statuses with and without JSON, HTML error
pages, empty or truncated bodies, wrongly typed fields, redirects, stalls, resets, bodies far
too large.  Each case below is served by a real local HTTP server, once as the *refresh* of a
good token obtained from the demo server and once as a client-credentials grant that would
replace a good stored token.  Either way the user gets an :class:`nb_oauth.OAuthError` subclass
whose message names the cause and holds no secret, and the token that worked before still
works; or, for the answers nb_oauth deliberately tolerates, a usable token.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth._transport import MAX_RESPONSE_BYTES
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .support import report
from .support.servers import LocalServer, Reply, Seen

#: Secrets the fake endpoint hands out; none may ever show up in a message.
SERVER_ACCESS = "srv-access-9f8e7d6c5b4a39281706"
SERVER_REFRESH = "srv-refresh-0a1b2c3d4e5f60718293"
PASSWORD = "wonderland"
JSON = {"Content-Type": "application/json"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def j(data: Any, status: int = 200, headers: dict[str, str] | None = None, **kw: Any) -> Reply:
    return Reply(status, json.dumps(data), dict(headers or JSON), **kw)


def token(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"access_token": SERVER_ACCESS, "token_type": "Bearer", "expires_in": 3600,
                            "refresh_token": SERVER_REFRESH}
    base.update(over)
    return {k: v for k, v in base.items() if v is not ...}


# -- the cases ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fails:
    """The answer must fail with ``kind`` (an OAuthError subclass) and a message containing every ``names``."""

    kind: type[nb_oauth.OAuthError]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Tolerated:
    """The answer is deliberately accepted; ``check`` looks at the token it gave."""

    check: Callable[[nb_oauth.Token], bool]
    why: str


@dataclass(frozen=True)
class Case:
    reply: Reply | None  # None: served by a raw socket script instead
    outcome: Fails | Tolerated
    raw: Callable[[socket.socket], None] | None = None
    timeout: str | None = None  # NB_OAUTH_HTTP_TIMEOUT for this case
    max_seconds: float = 10.0


def echo_secrets(refresh_token: str = "{refresh_token}") -> str:
    return f"client {CONFIDENTIAL_CLIENT_ID} with secret {CONFIDENTIAL_CLIENT_SECRET} sent {refresh_token}"


def expires_in_about(seconds: float) -> Callable[[nb_oauth.Token], bool]:
    return lambda t: t.expires_in is not None and abs(t.expires_in - seconds) < 30


def lifetime_at_least(days: float) -> Callable[[nb_oauth.Token], bool]:
    return lambda t: t.expires_in is not None and t.expires_in > days * 86400


def no_expiry(t: nb_oauth.Token) -> bool:
    return t.expires_at is None


# Raw socket scripts for faults an HTTP framework will not produce.

def _stall_after_headers(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"access")
    time.sleep(4)


def _trickle_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        conn.sendall(b" ")
        time.sleep(0.2)


def _cut_mid_body(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
                 + json.dumps(token()).encode()[:30])


def _not_http(conn: socket.socket) -> None:
    conn.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 this is not HTTP\r\n\r\n")


def _bad_gzip(conn: socket.socket) -> None:
    body = b"\x1f\x8b\x08\x00garbage-that-is-not-deflate" * 4
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


BOMB = gzip.compress(b" " * (8 * MAX_RESPONSE_BYTES), compresslevel=9)

CASES: dict[str, Case] = {
    # error statuses
    "400 invalid_grant JSON": Case(j({"error": "invalid_grant", "error_description": "expired"}, 400),
                                   Fails(nb_oauth.TokenEndpointError, ("400", "invalid_grant"))),
    "401 invalid_client echoing secrets": Case(j({"error": "invalid_client", "error_description": echo_secrets()}, 401),
                                               Fails(nb_oauth.TokenEndpointError, ("401", "invalid_client"))),
    "500 server_error JSON": Case(j({"error": "server_error"}, 500), Fails(nb_oauth.TokenEndpointError, ("500",))),
    "503 plain text": Case(Reply(503, "Service Unavailable", TEXT), Fails(nb_oauth.TokenEndpointError, ("503",))),
    "502 HTML error page": Case(Reply(502, "<!doctype html><html><body><h1>Bad gateway</h1>"
                                      + CONFIDENTIAL_CLIENT_SECRET + "</body></html>", HTML),
                                Fails(nb_oauth.TokenEndpointError, ("502", "HTML"))),
    "404 empty body": Case(Reply(404, b"", TEXT), Fails(nb_oauth.TokenEndpointError, ("404", "empty"))),
    "429 with Retry-After": Case(Reply(429, "slow down", {**TEXT, "Retry-After": "30"}),
                                 Fails(nb_oauth.TokenEndpointError, ("429",))),
    "500 JSON array": Case(j([1, 2], 500), Fails(nb_oauth.TokenEndpointError, ("500",))),
    # bodies that are not a token
    "200 empty body": Case(Reply(200, b"", JSON), Fails(nb_oauth.TokenEndpointError, ("empty",))),
    "204 no content": Case(Reply(204, b"", {}), Fails(nb_oauth.TokenEndpointError, ("empty",))),
    "200 truncated JSON": Case(Reply(200, json.dumps(token())[:25], JSON),
                               Fails(nb_oauth.TokenEndpointError, ("not JSON",))),
    "200 HTML page": Case(Reply(200, "<html><body>Sign in</body></html>", HTML),
                          Fails(nb_oauth.TokenEndpointError, ("HTML",))),
    "200 JSON array": Case(j([token()]), Fails(nb_oauth.TokenEndpointError, ("not an object",))),
    "200 JSON string": Case(j("a token"), Fails(nb_oauth.TokenEndpointError, ("not an object",))),
    "200 JSON null": Case(j(None), Fails(nb_oauth.TokenEndpointError, ("not an object",))),
    "200 error in body": Case(j({"error": "invalid_grant", "error_description": echo_secrets()}),
                              Fails(nb_oauth.TokenEndpointError, ("invalid_grant",))),
    "200 error next to a token": Case(j(token(error="access_denied")),
                                      Fails(nb_oauth.TokenEndpointError, ("access_denied",))),
    # access_token
    "access_token missing": Case(j(token(access_token=...)), Fails(nb_oauth.TokenEndpointError, ("access_token",))),
    "access_token a number": Case(j(token(access_token=12345)), Fails(nb_oauth.TokenEndpointError,
                                                                      ("access_token", "int"))),
    "access_token empty": Case(j(token(access_token="")), Fails(nb_oauth.TokenEndpointError, ("access_token", "empty"))),
    "access_token blank": Case(j(token(access_token="   ")), Fails(nb_oauth.TokenEndpointError,
                                                                   ("access_token", "empty"))),
    "access_token null": Case(j(token(access_token=None)), Fails(nb_oauth.TokenEndpointError, ("access_token",))),
    "access_token an object": Case(j(token(access_token={"value": SERVER_ACCESS})),
                                   Fails(nb_oauth.TokenEndpointError, ("access_token",))),
    # expires_in
    "expires_in numeric string": Case(j(token(expires_in="1800")),
                                      Tolerated(expires_in_about(1800), "a numeric string is read as a number")),
    "expires_in non-numeric string": Case(j(token(expires_in="soon")),
                                          Fails(nb_oauth.TokenEndpointError, ("expires_in", "not a number"))),
    "expires_in negative": Case(j(token(expires_in=-60)), Fails(nb_oauth.TokenEndpointError, ("expires_in", "negative"))),
    "expires_in huge": Case(j(token(expires_in=10**12)),
                            Tolerated(lifetime_at_least(3650), "capped at the longest lifetime nb_oauth keeps")),
    "expires_in huge float": Case(j(token(expires_in=1e20)),
                                  Tolerated(lifetime_at_least(3650), "capped at the longest lifetime nb_oauth keeps")),
    "expires_in absent": Case(j(token(expires_in=...)), Tolerated(no_expiry, "expiry unknown")),
    "expires_in float": Case(j(token(expires_in=1799.5)), Tolerated(expires_in_about(1800), "fractions are fine")),
    "expires_in true": Case(j(token(expires_in=True)), Fails(nb_oauth.TokenEndpointError, ("expires_in",))),
    "expires_in null": Case(j(token(expires_in=None)), Tolerated(no_expiry, "null means expiry unknown")),
    "expires_in infinite": Case(Reply(200, json.dumps(token()).replace("3600", "1e999"), JSON),
                                Fails(nb_oauth.TokenEndpointError, ("expires_in",))),
    # other fields
    "token_type odd case": Case(j(token(token_type="BEARER")),
                                Tolerated(lambda t: t.token_type == "BEARER", "kept as sent; the header prefix comes "
                                                                              "from the config")),
    "token_type unknown": Case(j(token(token_type="mac")),
                               Tolerated(lambda t: t.token_type == "mac", "kept as sent")),
    "token_type absent": Case(j(token(token_type=...)), Tolerated(lambda t: t.token_type is None, "optional")),
    "extra fields": Case(j(token(nested={"a": [1, {"b": None}]}, ünïcode="✓")),
                         Tolerated(lambda t: t.raw.get("nested") == {"a": [1, {"b": None}]}, "kept in raw")),
    "scope not a string": Case(j(token(scope=123)), Fails(nb_oauth.TokenEndpointError, ("scope",))),
    "refresh_token not a string": Case(j(token(refresh_token=42)), Fails(nb_oauth.TokenEndpointError, ("refresh_token",))),
    # transport oddities
    "302 to elsewhere": Case(Reply(302, b"", {"Location": "https://elsewhere.example/token"}),
                             Fails(nb_oauth.TokenEndpointError, ("302", "redirected"))),
    "307 to elsewhere": Case(Reply(307, b"", {"Location": "https://elsewhere.example/oauth/token"}),
                             Fails(nb_oauth.TokenEndpointError, ("307", "redirected"))),
    "wrong content type": Case(Reply(200, json.dumps(token()), TEXT),
                               Tolerated(lambda t: t.access_token == SERVER_ACCESS, "the body decides, not the label")),
    "form-encoded legacy body": Case(Reply(200, f"access_token={SERVER_ACCESS}&token_type=bearer&expires_in=900",
                                           {"Content-Type": "application/x-www-form-urlencoded"}),
                                     Tolerated(expires_in_about(900), "GitHub's answer without an Accept header")),
    "form-encoded error": Case(Reply(200, "error=bad_verification_code&error_description=The+code+is+wrong",
                                     {"Content-Type": "application/x-www-form-urlencoded"}),
                               Fails(nb_oauth.TokenEndpointError, ("bad_verification_code",))),
    "oversized body": Case(Reply(200, b"{\"access_token\": \"" + b"a" * (MAX_RESPONSE_BYTES + 10) + b"\"}", JSON),
                           Fails(nb_oauth.TokenEndpointError, ("1024 KiB",))),
    "gzip bomb": Case(Reply(200, BOMB, {**JSON, "Content-Encoding": "gzip"}),
                      Fails(nb_oauth.TokenEndpointError, ("1024 KiB",))),
    "slow answer past the timeout": Case(j(token(), delay=3.0), Fails(nb_oauth.NetworkError, ("timed out",)),
                                         timeout="1", max_seconds=2.8),
    "reset connection": Case(Reply(reset=True), Fails(nb_oauth.NetworkError, ("127.0.0.1",))),
    "stall after the headers": Case(None, Fails(nb_oauth.NetworkError, ("timed out",)), raw=_stall_after_headers,
                                    timeout="1", max_seconds=2.8),
    "body trickling past the timeout": Case(None, Fails(nb_oauth.NetworkError, ("timed out",)), raw=_trickle_body,
                                            timeout="1", max_seconds=3.5),
    "cut mid-body": Case(None, Fails(nb_oauth.NetworkError, ("127.0.0.1",)), raw=_cut_mid_body),
    "not HTTP at all": Case(None, Fails(nb_oauth.NetworkError, ("127.0.0.1",)), raw=_not_http),
    "broken gzip": Case(None, Fails(nb_oauth.OAuthError, ("127.0.0.1",)), raw=_bad_gzip),
}


def case_params() -> list[Any]:
    return list(CASES)


# -- servers --------------------------------------------------------------------------------------------


class Endpoint:
    """A token endpoint whose next answer is whatever the current case says."""

    def __init__(self) -> None:
        self.case: Case | None = None
        self.http = LocalServer(self._answer)
        self.raw = RawServer(self._script)
        self.refresh_token_seen: str | None = None

    def _answer(self, seen: Seen, raw: bytes) -> Reply:
        assert self.case is not None and self.case.reply is not None
        self.refresh_token_seen = dict(seen.body).get("refresh_token")
        reply = self.case.reply
        if isinstance(reply.body, str) and "{refresh_token}" in reply.body:
            reply = Reply(reply.status, reply.body.replace("{refresh_token}", self.refresh_token_seen or ""),
                          reply.headers, reply.delay, reply.reset)
        return reply

    def _script(self, conn: socket.socket) -> None:
        assert self.case is not None and self.case.raw is not None
        self.case.raw(conn)

    def url(self) -> str:
        assert self.case is not None
        return (self.http.url if self.case.reply is not None else self.raw.url) + "/token"


class RawServer:
    """Reads one HTTP request per connection and then lets ``script(conn)`` answer however it likes."""

    def __init__(self, script: Callable[[socket.socket], None]) -> None:
        self.script = script
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                self.script(conn)
            except OSError:
                return

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    with ep.http, ep.raw:
        yield ep


# -- checks ---------------------------------------------------------------------------------------------


def leaked(texts: list[str], secrets: list[str | None]) -> list[str]:
    return [s for s in secrets if s and len(s) >= 6 and any(s in t for t in texts)]


def error_texts(exc: nb_oauth.OAuthError) -> list[str]:
    texts = [str(exc), repr(exc), exc.error or "", exc.error_description or "", exc.fix or ""]
    if exc.trace is not None:
        texts.append(repr(exc.trace.to_dict()))
    return texts


def run_case(name: str, mode: str, case: Case, attempt: Callable[[], nb_oauth.Token], secrets: list[str | None],
             monkeypatch: pytest.MonkeyPatch) -> tuple[nb_oauth.Token | None, nb_oauth.OAuthError | None]:
    """Run one case, check its outcome, and note it in the report under ``mode``."""
    if case.timeout:
        monkeypatch.setenv("NB_OAUTH_HTTP_TIMEOUT", case.timeout)
    started = time.monotonic()
    got: nb_oauth.Token | None = None
    error: nb_oauth.OAuthError | None = None
    try:
        got = attempt()
    except nb_oauth.OAuthError as exc:
        error = exc
    elapsed = time.monotonic() - started
    monkeypatch.delenv("NB_OAUTH_HTTP_TIMEOUT", raising=False)
    assert elapsed < case.max_seconds, f"{name}: took {elapsed:.1f} s"
    if isinstance(case.outcome, Fails):
        assert error is not None, f"{name}: accepted a bad answer ({got!r})"
        assert isinstance(error, case.outcome.kind), f"{name}: {type(error).__name__}: {error}"
        message = str(error)
        for word in case.outcome.names:
            assert word.lower() in message.lower(), f"{name}: the message does not name {word!r}: {message}"
        assert not leaked(error_texts(error), secrets), f"{name}: secret in the error: {message}"
        outcome = type(error).__name__
    else:
        assert error is None, f"{name}: should be tolerated ({case.outcome.why}) but failed: {error}"
        assert got is not None and case.outcome.check(got), f"{name}: tolerated but wrong: {got!r}"
        assert not leaked([repr(got), str(got)], secrets), f"{name}: the token's repr shows a secret"
        outcome = "tolerated"
    report.record("token_endpoint_faults", {"cases": len(CASES), mode: {name: f"{outcome} in {elapsed:.2f} s"}})
    return got, error


def demo_secrets(tok: nb_oauth.Token) -> list[str | None]:
    return [CONFIDENTIAL_CLIENT_SECRET, PASSWORD, SERVER_ACCESS, SERVER_REFRESH, tok.access_token, tok.refresh_token,
            tok.id_token]


# -- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", case_params())
def test_a_failed_refresh_keeps_the_working_token(name: str, demo, endpoint: Endpoint,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The refresh goes to the faulty endpoint; the token from the demo server must stay in use."""
    case = CASES[name]
    endpoint.case = case
    cfg = OAuth2Config(token_name="victim", grant_type="password_credentials", access_token_url=demo.url + "/token",
                       refresh_token_url=endpoint.url(), client_id=CONFIDENTIAL_CLIENT_ID,
                       client_secret=CONFIDENTIAL_CLIENT_SECRET, username="alice", password=PASSWORD,
                       scope="profile items:read")
    good = nb_oauth.get_new_access_token(cfg)
    before = good.token_set
    secrets = demo_secrets(good)
    got, error = run_case(name, "as_refresh", case, lambda: nb_oauth.tokens.refresh("victim"), secrets, monkeypatch)
    if error is not None:
        assert nb_oauth.tokens["victim"].token_set is before, "a failed refresh replaced the token"
        assert nb_oauth.session("victim").get(demo.url + "/api/me").json()["sub"] == "alice"
        note = next(s.note for s in reversed(good.trace.steps) if s.title == "Refresh failed")
        assert note and not leaked([note, repr(good.trace.to_dict())], secrets)
    else:
        assert got is good and got.access_token == SERVER_ACCESS != before.access_token


@pytest.mark.parametrize("name", case_params())
def test_a_failed_grant_leaves_the_store_alone(name: str, demo, endpoint: Endpoint,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A client-credentials grant against the faulty endpoint must not touch the token stored under its name."""
    case = CASES[name]
    endpoint.case = case
    base = dict(token_name="cc", grant_type="client_credentials", client_id=CONFIDENTIAL_CLIENT_ID,
                client_secret=CONFIDENTIAL_CLIENT_SECRET, scope="items:read")
    good = nb_oauth.get_new_access_token(OAuth2Config(access_token_url=demo.url + "/token", **base))
    before, names = good.token_set, nb_oauth.tokens.names()
    faulty = OAuth2Config(access_token_url=endpoint.url(), **base)
    got, error = run_case(name, "as_new_grant", case, lambda: nb_oauth.get_new_access_token(faulty),
                          demo_secrets(good), monkeypatch)
    if error is not None:
        assert nb_oauth.tokens.names() == names and nb_oauth.tokens["cc"].token_set is before
        assert nb_oauth.session("cc").get(demo.url + "/api/me").status_code == 200
    else:
        assert nb_oauth.tokens["cc"] is got and got.access_token == SERVER_ACCESS


def test_the_api_session_times_out_too(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """``nb_oauth.session(name)`` gives the user's own API calls the same default timeout."""
    import requests

    nb_oauth.get_new_access_token(OAuth2Config(token_name="api", grant_type="client_credentials",
                                               access_token_url=demo.url + "/token", client_id=CONFIDENTIAL_CLIENT_ID,
                                               client_secret=CONFIDENTIAL_CLIENT_SECRET))
    monkeypatch.setenv("NB_OAUTH_HTTP_TIMEOUT", "1")
    with LocalServer(lambda seen, raw: Reply(200, "{}", delay=3.0)) as slow:
        started = time.monotonic()
        with pytest.raises(requests.exceptions.Timeout):
            nb_oauth.session("api").get(slow.url + "/api/slow")
        elapsed = time.monotonic() - started
    assert elapsed < 2.8
    report.record("token_endpoint_faults", {"api_session_timeout_s": round(elapsed, 2)})
