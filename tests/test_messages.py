"""Messages that tell the truth: what really happened, with the user's own words and addresses."""

from __future__ import annotations

import pytest

import nb_oauth
from nb_oauth import OAuth2Config
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET, PUBLIC_CLIENT_ID
from nb_oauth.errors import FlowTimeoutError, NetworkError, StoreError, TokenEndpointError

from .support.servers import free_port


def cc_config(url: str, **kw: object) -> OAuth2Config:
    return OAuth2Config(token_name="cc", grant_type="client_credentials", access_token_url=url,
                        client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET, **kw)  # type: ignore[arg-type]


def test_no_browser_tab_is_claimed_when_none_could_be_started(demo, monkeypatch, capsys) -> None:
    monkeypatch.setenv("BROWSER", "/nonexistent/browser-command %s")
    cfg = OAuth2Config(token_name="x", grant_type="authorization_code_with_pkce", auth_url=demo.url + "/authorize",
                       access_token_url=demo.url + "/token", client_id=PUBLIC_CLIENT_ID, callback_timeout=1)
    with pytest.raises(FlowTimeoutError):
        nb_oauth.get_new_access_token(cfg)
    err = capsys.readouterr().err
    assert "Open this link to log in" in err and "A browser tab was opened" not in err


def test_a_timeout_names_the_callback_url_as_configured(demo, no_browser) -> None:
    port = free_port()
    cfg = OAuth2Config(token_name="x", grant_type="authorization_code_with_pkce", auth_url=demo.url + "/authorize",
                       access_token_url=demo.url + "/token", client_id=PUBLIC_CLIENT_ID, callback_timeout=1,
                       callback_url=f"http://localhost:{port}/cb")
    with pytest.raises(FlowTimeoutError) as err:
        nb_oauth.get_new_access_token(cfg)
    assert f"http://localhost:{port}/cb" in str(err.value)


def test_a_404_at_the_token_url_blames_the_url_not_the_secret(demo) -> None:
    with pytest.raises(TokenEndpointError) as err:
        nb_oauth.get_new_access_token(cc_config(demo.url + "/no-such-token-endpoint"))
    message = str(err.value)
    assert "HTTP 404" in message and "Check the Access Token URL" in message
    assert "Client Secret" not in message and "client ID/secret" not in message


def test_https_to_a_plain_http_server_says_so(demo) -> None:
    with pytest.raises(NetworkError) as err:
        nb_oauth.get_new_access_token(cc_config(demo.url.replace("http://", "https://") + "/token"))
    message = str(err.value)
    assert "plain http, not https" in message and demo.url + "/token" in message
    assert "certificate" not in message


def test_tokens_can_be_looked_up_by_the_token_object(demo) -> None:
    token = nb_oauth.get_new_access_token(cc_config(demo.url + "/token"))
    assert nb_oauth.tokens[token] is token and token in nb_oauth.tokens
    with pytest.raises(KeyError, match="token_name"):
        nb_oauth.tokens[42]  # type: ignore[index]


def test_a_deleted_token_in_a_variable_says_it_was_deleted(demo) -> None:
    token = nb_oauth.get_new_access_token(cc_config(demo.url + "/token"))
    message = nb_oauth.tokens.delete("cc")
    assert "tokens.revoke('cc')" not in message  # no advice to act on a name that is gone
    assert "deleted" in repr(token) and "expires in" not in repr(token) and token.deleted
    with pytest.raises(StoreError, match="was deleted"):
        token.session()
    with pytest.raises(StoreError, match="was deleted"):
        token.refresh()


def test_the_device_flows_countdown_does_not_speak_of_a_port() -> None:
    pytest.importorskip("IPython")
    from nb_oauth.notebook.ui import cancel_hint

    assert "port" not in cancel_hint(redirect=False, kernel=True)
    assert "port" in cancel_hint(redirect=True, kernel=True)
    assert "Ctrl+C" in cancel_hint(kernel=False) and "■" not in cancel_hint(kernel=False)


# -- visual polish ------------------------------------------------------------------------------------


def test_claims_show_time_claims_as_dates(demo, robot) -> None:
    from IPython.lib.pretty import pretty

    cfg = OAuth2Config(token_name="oidc", grant_type="password_credentials", access_token_url=demo.url + "/token",
                       client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET, username="alice",
                       password="wonderland", scope="openid profile", issuer=demo.url)
    claims = nb_oauth.get_new_access_token(cfg).claims
    assert isinstance(claims, dict) and isinstance(claims["exp"], int)  # still the plain values
    shown = pretty(claims)
    assert f"'exp': {claims['exp']} (" in shown and " UTC)" in shown
    assert "UTC" in claims._repr_html_()  # type: ignore[attr-defined]


def test_device_trace_shows_the_polling_and_the_approval(demo, robot) -> None:
    robot(NB_OAUTH_ROBOT_DELAY="2.5")
    cfg = OAuth2Config(token_name="tv", grant_type="device_code", issuer=demo.url, client_id=PUBLIC_CLIENT_ID,
                       scope="profile", callback_timeout=30)
    titles = [s.title for s in nb_oauth.get_new_access_token(cfg).trace.steps]
    assert "Token request (device code): not approved yet" in titles
    assert titles.index("User approves the device at the provider") == len(titles) - 2
    assert titles[-1] == "Token request (device code)"


def test_demo_help_lists_clients_users_and_options() -> None:
    import subprocess
    import sys

    from nb_oauth.demo import DEMO_USERS

    out = subprocess.run([sys.executable, "-m", "nb_oauth.demo", "--help"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert PUBLIC_CLIENT_ID in out and CONFIDENTIAL_CLIENT_ID in out and CONFIDENTIAL_CLIENT_SECRET in out
    assert all(f"{user} / {password}" in out for user, password in DEMO_USERS.items())
    assert "--access-token-lifetime" in out and "access token lifetime" in out


def test_token_tables_are_left_aligned(demo) -> None:
    nb_oauth.get_new_access_token(cc_config(demo.url + "/token"))
    table = nb_oauth.tokens._repr_html_()
    assert table.count("<td style='text-align:left'>") == 5 and table.count("<th style='text-align:left'>") == 5


def test_terminal_countdown_is_redrawn_in_place(capsys) -> None:
    pytest.importorskip("IPython")
    import time

    from nb_oauth.notebook.ui import Countdown

    countdown = Countdown(time.time() + 30, live=False, tick=0.05, terminal=True).start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and capsys.readouterr().out.count("\r") < 1:
        time.sleep(0.05)
    time.sleep(0.2)
    countdown.stop()
    out = capsys.readouterr().out
    assert "\r" in out and "left. To cancel, press Ctrl+C" in out
    assert out.endswith("\r\033[K")  # the line is cleared when the wait ends


@pytest.mark.parametrize(("status", "what", "says"), [
    (401, "userinfo request", "refused the token at userinfo"),
    (401, "introspection request", "refused the client at the Introspection endpoint"),
    (403, "pushed authorization request", "refused the client at the PAR endpoint"),
    (404, "userinfo request", "Check the Userinfo URL"),
])
def test_an_endpoint_other_than_the_token_endpoint_gets_its_own_fix(status: int, what: str, says: str) -> None:
    from nb_oauth._transport import Response, raise_for_oauth_error

    answer = Response(status=status, headers={"content-type": "text/html"}, text="<html>no</html>", elapsed=0.0,
                      url="https://idp.example/x")
    with pytest.raises(TokenEndpointError) as err:
        raise_for_oauth_error(answer, what=what)
    assert says in str(err.value) and "Access Token URL" not in str(err.value)
    ok = Response(status=200, headers={"content-type": "text/html"}, text="<html>a login page</html>", elapsed=0.0,
                  url="https://idp.example/x")
    with pytest.raises(TokenEndpointError, match=r"Check the (Userinfo|Introspection|PAR) URL"):
        raise_for_oauth_error(ok, what=what)
