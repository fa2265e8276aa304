"""Attacks on the token once it is in use: URLs in error messages, plain http, 401s from elsewhere.

Against the demo server and real loopback servers; every error is read as a user would see it
(its message and its whole printed traceback).
"""

from __future__ import annotations

import asyncio
import traceback

import httpx
import pytest
import requests

import nb_oauth
from nb_oauth import ConfigError, OAuth2Config
from nb_oauth._token import TokenSet
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .support.servers import LocalServer, Reply, Seen, free_port


def _login(srv, name: str = "leaky", **kw) -> nb_oauth.Token:
    cfg = OAuth2Config(token_name=name, grant_type="password_credentials", issuer=srv.url,
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                       username="alice", password="wonderland", scope="openid profile items:read", **kw)
    return nb_oauth.get_new_access_token(cfg)


def _printed(exc: BaseException) -> str:
    """What a traceback shows: the message of the error and of every error chained to it."""
    return "".join(traceback.format_exception(exc))


def _assert_clean(exc: BaseException, token: nb_oauth.Token) -> None:
    printed = _printed(exc)
    for secret in token.token_set.secrets():
        assert secret not in printed and secret[:16] not in printed
    assert "access_token=" in printed or "access_token" in str(exc) or isinstance(exc, requests.ConnectionError)


def test_an_error_status_never_prints_the_token_in_the_url(demo) -> None:
    token = _login(demo, add_token_to="url")
    missing = demo.url + "/api/no-such-thing"
    with pytest.raises(requests.HTTPError) as session_error:
        nb_oauth.session("leaky").get(missing).raise_for_status()
    with pytest.raises(requests.HTTPError) as auth_error:
        requests.get(missing, auth=nb_oauth.auth("leaky"), timeout=10).raise_for_status()
    with httpx.Client(auth=nb_oauth.auth("leaky")) as client, pytest.raises(httpx.HTTPStatusError) as httpx_error:
        client.get(missing).raise_for_status()

    async def async_get() -> None:
        async with httpx.AsyncClient(auth=nb_oauth.auth("leaky")) as client:
            (await client.get(missing)).raise_for_status()

    with pytest.raises(httpx.HTTPStatusError) as async_error:
        asyncio.run(async_get())
    for caught in (session_error, auth_error, httpx_error, async_error):
        assert "404" in str(caught.value) and "/api/no-such-thing" in str(caught.value)
        assert caught.value.response.status_code == 404  # the error keeps its response
        _assert_clean(caught.value, token)
    assert nb_oauth.tokens["leaky"].access_token == token.access_token  # nothing lost


def test_a_connection_error_never_prints_the_token_in_the_url(demo) -> None:
    token = _login(demo, add_token_to="url")
    dead = f"http://127.0.0.1:{free_port()}/api/me"
    with pytest.raises(requests.ConnectionError) as caught:
        nb_oauth.session("leaky").get(dead)
    assert "127.0.0.1" in str(caught.value)
    _assert_clean(caught.value, token)
    with pytest.raises(requests.ConnectionError) as timeout_free:  # a token given on the URL by hand
        nb_oauth.session("leaky").get(dead + "?access_token=" + token.access_token)
    _assert_clean(timeout_free.value, token)


def test_bearer_over_plain_http_to_another_host_is_refused_before_sending() -> None:
    seen: list[Seen] = []

    def record(s: Seen, raw: bytes) -> Reply:
        seen.append(s)
        return Reply(body=b'{"ok": true}')

    with LocalServer(record) as api:
        port = api.url.rsplit(":", 1)[1]
        nb_oauth.tokens.put(OAuth2Config(token_name="plain", grant_type="client_credentials"),
                            TokenSet(access_token="t0ken-value-" * 3))
        # a non-loopback name for the loopback server: the request would go out in the clear
        remote = f"http://nb-oauth-test.invalid:{port}/data"
        for call in (lambda: nb_oauth.session("plain").get(remote),
                     lambda: requests.get(remote, auth=nb_oauth.auth("plain"), timeout=5),
                     lambda: httpx.get(remote, auth=nb_oauth.auth("plain"))):
            with pytest.raises(ConfigError) as caught:
                call()
            assert "allow_insecure_http" in str(caught.value) and "nb-oauth-test.invalid" in str(caught.value)
            assert "t0ken-value" not in str(caught.value)
        assert seen == []
        # loopback over http is fine, and so is the per-config opt-in
        assert nb_oauth.session("plain").get(api.url + "/data").json() == {"ok": True}
        assert len(seen) == 1 and seen[0].headers["authorization"].startswith("Bearer t0ken")
    assert nb_oauth.tokens["plain"].access_token == "t0ken-value-" * 3


def test_allow_insecure_http_is_the_opt_in(monkeypatch) -> None:
    nb_oauth.tokens.put(OAuth2Config(token_name="optin", grant_type="client_credentials", allow_insecure_http=True),
                        TokenSet(access_token="t0ken-value-" * 3))
    with pytest.raises(requests.ConnectionError) as caught:  # it is sent (and fails only because the host is fake)
        nb_oauth.session("optin").get("http://nb-oauth-test.invalid/data", timeout=5)
    assert "t0ken-value" not in _printed(caught.value)


def test_a_401_from_a_redirect_to_another_host_does_not_refresh(demo) -> None:
    _login(demo)
    before = nb_oauth.tokens["leaky"].access_token
    refreshes = demo.stats.get("token:refresh_token", 0)

    def unauthorized(s: Seen, raw: bytes) -> Reply:
        return Reply(status=401, body=b'{"error": "invalid_token"}',
                     headers={"Content-Type": "application/json", "WWW-Authenticate": "Bearer"})

    with LocalServer(unauthorized) as elsewhere:
        other_host = elsewhere.url.replace("127.0.0.1", "localhost")

        def bounce(s: Seen, raw: bytes) -> Reply:
            return Reply(status=302, body=b"", headers={"Location": other_host + "/api/me"})

        with LocalServer(bounce) as api:
            with httpx.Client(auth=nb_oauth.auth("leaky"), follow_redirects=True) as client:
                r = client.get(api.url + "/start")
            assert r.status_code == 401 and len(r.history) == 1
            r2 = nb_oauth.session("leaky").get(api.url + "/start")
            assert r2.status_code == 401
            assert api.seen[0].headers["authorization"].startswith("Bearer ")
            assert "authorization" not in elsewhere.seen[0].headers  # the token never went to the other host

            async def async_get() -> int:
                async with httpx.AsyncClient(auth=nb_oauth.auth("leaky"), follow_redirects=True) as client:
                    return (await client.get(api.url + "/start")).status_code

            assert asyncio.run(async_get()) == 401
    assert demo.stats.get("token:refresh_token", 0) == refreshes  # no refresh was spent
    assert nb_oauth.tokens["leaky"].access_token == before
    # the same 401 from the token's own server still refreshes once and retries
    demo.revoke_all_access_tokens()
    with httpx.Client(auth=nb_oauth.auth("leaky")) as client:
        assert client.get(demo.url + "/api/me").status_code == 200
    assert demo.stats.get("token:refresh_token", 0) == refreshes + 1


def test_a_token_set_repr_shows_no_whole_secret() -> None:
    """A TokenSet in a traceback's locals, a log line or a debugger view is masked like a Token."""
    from nb_oauth._token import TokenSet

    access, refresh, id_token = "at-" + "a" * 40, "rt-" + "r" * 40, "eyJ" + "i" * 60
    shown = repr(TokenSet.from_response({"access_token": access, "refresh_token": refresh, "id_token": id_token,
                                         "token_type": "Bearer", "expires_in": 60}))
    assert access not in shown and refresh not in shown and id_token not in shown
    assert "TokenSet(" in shown and "chars" in shown and "Bearer" in shown


@pytest.mark.parametrize("client_auth", ["body", "header", "private_key_jwt"])
def test_no_netrc_credentials_reach_the_token_endpoint(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                        client_auth: str) -> None:
    """A ``~/.netrc`` entry for the provider's host must not add HTTP Basic to nb_oauth's calls to it: the token
    request carries exactly the client authentication the config names."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login netrc-user password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))

    def token(seen: Seen, raw: bytes) -> Reply:
        return Reply(body='{"access_token": "t0k3n-from-the-server", "token_type": "Bearer", "expires_in": 60}')

    key = None
    if client_auth == "private_key_jwt":
        from joserfc.jwk import ECKey

        key = ECKey.generate_key("P-256", private=True).as_pem(private=True).decode()
    with LocalServer(token) as srv:
        nb_oauth.get_new_access_token(OAuth2Config(
            token_name="netrc", grant_type="client_credentials", access_token_url=srv.url + "/token",
            client_id="the-client", client_secret=None if key else "the-secret", client_authentication=client_auth,
            client_assertion_key=key))
    sent = {k.lower(): v for k, v in srv.seen[-1].headers.items()}
    import base64

    basic = sent.get("authorization", "")
    assert "netrc" not in (base64.b64decode(basic.split()[-1]).decode() if basic.startswith("Basic ") else basic)
    if client_auth == "header":
        assert base64.b64decode(basic.split()[-1]).decode() == "the-client:the-secret"
    else:
        assert "authorization" not in sent
