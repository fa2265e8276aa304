"""The faults a misbehaving token endpoint is made to produce, one :class:`Case` each: error statuses with
and without JSON, HTML error pages, empty or truncated bodies, wrongly typed fields, redirects, stalls,
resets and bodies far too large, with the outcome each must have (:class:`Fails` or :class:`Tolerated`)."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import nb_oauth
from nb_oauth._transport import MAX_RESPONSE_BYTES
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .servers import Reply

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
