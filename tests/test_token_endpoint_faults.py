"""A misbehaving token endpoint: every fault is a clear error, no secret leaks, the old token survives.

Real token endpoints fail in many ways: error statuses with and without JSON, HTML error
pages, empty or truncated bodies, wrongly typed fields, redirects, stalls, resets, bodies far
too large.  Each case (:mod:`tests.support.token_endpoint_cases`) is served by a real local
HTTP server, once as the *refresh* of a good token obtained from the demo server and once as a
client-credentials grant that would replace a good stored token.  Either way the user gets an
:class:`nb_oauth.OAuthError` subclass whose message names the cause and holds no secret, and
the token that worked before still works; or, for the answers nb_oauth deliberately
tolerates, a usable token.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .support import report
from .support.faulty_token_endpoint import Endpoint
from .support.servers import LocalServer, Reply
from .support.token_endpoint_cases import CASES, PASSWORD, SERVER_ACCESS, SERVER_REFRESH, Case, Fails, case_params


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
