"""``%oauth_token`` and ``%%authrequest`` in a real IPython shell, against the demo server on loopback.

Redirect and device logins are completed by the demo's scripted user agent through ``BROWSER``.
Every cell's output (stdout, stderr and everything sent to the display publisher) is captured and
checked for secrets.
"""

from __future__ import annotations

import _thread
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nb_oauth
from nb_oauth import tokens
from nb_oauth.config import OAuth2Config
from nb_oauth.demo import CONFIDENTIAL_CLIENT_SECRET
from nb_oauth.notebook import magic_options, magics
from nb_oauth.notebook.ui import Countdown, NotebookPresenter

PKCE = ("--grant-type authorization_code_with_pkce --auth-url {{BASE}}/authorize --access-token-url {{BASE}}/token "
        "--client-id demo-public --scope 'openid profile offline_access items:read'")
CC = ("--grant-type client_credentials --access-token-url {{TOKEN_URL}} --client-id demo-confidential "
      "--client-secret {{SECRET}} --scope items:read")


@dataclass
class Cell:
    """What one cell showed: the result and every piece of output, joined for searching."""

    result: Any
    error: BaseException | None
    text: str
    outputs: list[dict[str, Any]]

    def assert_no_secrets(self, *secrets: str | None) -> None:
        for secret in [s for s in secrets if s]:
            assert secret not in self.text, "a secret was shown in the cell output"
        assert CONFIDENTIAL_CLIENT_SECRET not in self.text


@pytest.fixture(scope="module")
def ip() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    loaded_here = "nb_oauth" not in shell.extension_manager.loaded
    shell.run_line_magic("load_ext", "nb_oauth")
    yield shell
    if loaded_here:
        shell.run_line_magic("unload_ext", "nb_oauth")


@pytest.fixture(autouse=True)
def fresh_namespace(ip: InteractiveShell, demo) -> Iterator[None]:
    """Notebook variables the cells use; removed afterwards so nothing leaks into other tests."""
    names = dict(BASE=demo.url, TOKEN_URL=demo.url + "/token", SECRET=CONFIDENTIAL_CLIENT_SECRET)
    before = set(ip.user_ns)
    ip.user_ns.update(names)
    yield
    for name in set(ip.user_ns) - before:
        ip.user_ns.pop(name, None)


def run(ip: InteractiveShell, code: str) -> Cell:
    """Run one cell as a notebook would, capturing every output."""
    with capture_output() as cap:
        result = ip.run_cell(code)
    outputs = [dict(o.data) for o in cap.outputs]
    text = "\n".join([cap.stdout, cap.stderr] + [str(v) for o in outputs for v in o.values()])
    return Cell(result.result, result.error_in_exec or result.error_before_exec, text, outputs)


def stopped(cell: Cell) -> bool:
    """The magic showed its error and failed the cell in one line (so "Run All" stops), no traceback."""
    from nb_oauth.notebook.ui import CellStopped

    return isinstance(cell.error, CellStopped) and "Traceback" not in cell.text


def secrets_of(name: str) -> list[str]:
    token = tokens[name]
    return [s for s in (token.access_token, token.refresh_token) if s]


def shown_auth_url(outputs: list[dict[str, Any]]) -> str:
    """The login link a cell showed (from the plain-text part of its outputs)."""
    return next(w for o in outputs for w in str(o.get("text/plain", "")).split() if "/authorize?" in w)


def get_cc(ip: InteractiveShell, name: str = "cc", extra: str = "") -> Cell:
    cell = run(ip, f"%oauth_token {name} {CC} {extra}")
    assert cell.error is None, cell.text
    return cell


# -- loading and help ---------------------------------------------------------------------------------


def test_extension_loads_from_config_without_heavy_imports(tmp_path) -> None:
    code = ("import sys; ip = get_ipython(); "
            "print('MAGIC', 'oauth_token' in ip.magics_manager.magics['line'], "
            "'authrequest' in ip.magics_manager.magics['cell']); "
            "print('HEAVY', sorted(m for m in ('ipywidgets', 'pandas', 'httpx') if m in sys.modules))")
    env = {**os.environ, "IPYTHONDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=nocolor",
                          "--InteractiveShellApp.extensions=['nb_oauth']", "-c", code],
                         capture_output=True, text=True, env=env, timeout=60)
    assert "MAGIC True True" in out.stdout, out.stdout + out.stderr
    assert "HEAVY []" in out.stdout


def test_help_lists_generated_options(ip: InteractiveShell) -> None:
    cell = run(ip, "%oauth_token?")
    for option in ("--grant-type", "--access-token-url", "--no-auto-refresh", "--authorize-using-browser",
                   "--token-request-param", "--audience", "--var", "--paste", "KEY=VALUE[:body|url|header]"):
        assert option in cell.text
    assert "--as" in run(ip, "%%authrequest?").text


def test_every_config_field_is_an_option() -> None:
    options = {o.field: o for o in magic_options.CONFIG_OPTIONS}
    assert set(options) == {f.name for f in fields(OAuth2Config)} - {"token_name"}
    parser = magics.OAuthMagics.oauth_token.parser
    args = magics._parse(magics.OAuthMagics.oauth_token,
                         "n --no-auto-refresh --share --audience a --audience b --refresh-leeway 5 "
                         "--token-request-param aud=https://api.example:url --auth-request-param k=v "
                         "--client-authentication body --callback-timeout 9")
    changes = magic_options.config_changes(args)
    assert changes == {
        "auto_refresh": False, "share": True, "audience": ["a", "b"], "refresh_leeway": 5.0,
        "token_request_params": [("aud", "https://api.example", "url")], "auth_request_params": [("k", "v", "body")],
        "client_authentication": "body", "callback_timeout": 9.0,
    }
    cfg = OAuth2Config(token_name="n", **changes)
    assert cfg.token_request_params == [("aud", "https://api.example", "url")]
    assert parser.allow_abbrev is False


@pytest.mark.parametrize(("text", "expected"), [
    ("audience=https://api.example", ("audience", "https://api.example", "body")),
    ("X-Tenant=42:header", ("X-Tenant", "42", "header")),
    ("resource=urn:x:url:body", ("resource", "urn:x:url", "body")),
    ("empty=", ("empty", "", "body")),
    ("q=1:request_url", ("q", "1", "url")),
])
def test_custom_param_syntax(text: str, expected: tuple[str, str, str]) -> None:
    assert magic_options.parse_param(text, "token-request-param") == expected


def test_custom_param_without_equals_is_an_error(ip: InteractiveShell) -> None:
    cell = run(ip, f"%oauth_token cc {CC} --token-request-param novalue")
    assert "KEY=VALUE" in cell.text and "Traceback" not in cell.text
    assert "cc" not in tokens


def test_unknown_option_suggests_the_right_one(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="--grant-type"):
        ip.run_line_magic("oauth_token", "cc --grant client_credentials")
    with pytest.raises(UsageError, match="one of"):
        ip.run_line_magic("oauth_token", "cc --show --delete")


# -- getting tokens -----------------------------------------------------------------------------------


def test_client_credentials_binds_the_token_and_reuses_it(ip: InteractiveShell, demo) -> None:
    before = demo.stats["token"]
    cell = get_cc(ip)
    token = ip.user_ns["cc"]
    assert isinstance(token, nb_oauth.Token) and token is tokens["cc"]
    assert demo.stats["token"] == before + 1
    assert "obtained" in cell.text and "Bound to" in cell.text
    cell.assert_no_secrets(*secrets_of("cc"))

    again = get_cc(ip)  # same options: no request, same token
    assert demo.stats["token"] == before + 1
    assert "reused" in again.text and ip.user_ns["cc"] is token

    stored = run(ip, "%oauth_token cc")  # the name alone: the stored token
    assert stored.error is None and "reused" in stored.text
    assert demo.stats["token"] == before + 1

    get_cc(ip, extra="--new")
    assert demo.stats["token"] == before + 2
    get_cc(ip, extra="--audience other")  # different options: a new token
    assert demo.stats["token"] == before + 3
    assert tokens.config("cc").audience == ["other"]


def test_placeholders_reach_nb_oauth_unexpanded(ip: InteractiveShell) -> None:
    # IPython would turn {{SECRET}} into {SECRET} and $x into a variable value in other magics.
    cell = run(ip, "%oauth_token cc " + CC + " --state '$BASE{BASE}'")
    assert cell.error is None
    assert tokens.config("cc").client_secret == "{{SECRET}}"
    assert tokens.config("cc").state == "$BASE{BASE}"


def test_var_option_and_non_identifier_names(ip: InteractiveShell) -> None:
    cell = get_cc(ip, name="my-api")
    assert "not a Python name" in cell.text and "my-api" in tokens
    assert "my-api" not in ip.user_ns
    get_cc(ip, name="my-api", extra="--var api_token")
    assert ip.user_ns["api_token"] is tokens["my-api"]
    with pytest.raises(UsageError):
        ip.run_line_magic("oauth_token", "x --var 'not valid'")


def test_missing_config_for_unknown_name_is_explained(ip: InteractiveShell) -> None:
    cell = run(ip, "%oauth_token nothing_here")
    assert stopped(cell) and cell.result is None
    assert "No token named 'nothing_here' yet" in cell.text and "Traceback" not in cell.text


def test_pkce_login_via_robot_shows_link_and_countdown(ip: InteractiveShell, robot) -> None:
    cell = run(ip, f"tok = %oauth_token pk {PKCE} --var pk_token")
    assert cell.error is None, cell.text
    token = ip.user_ns["pk_token"]
    assert token is ip.user_ns["tok"] is tokens["pk"]
    assert token.refresh_token and token.claims["sub"] == "alice"
    html_out = "\n".join(o.get("text/html", "") for o in cell.outputs)
    assert "target='_blank'" in html_out and "/authorize?" in html_out
    assert "left" in cell.text and "press Ctrl+C" in cell.text  # an IPython shell without a kernel: a terminal
    assert "■" not in cell.text
    cell.assert_no_secrets(*secrets_of("pk"))


def test_device_flow_via_robot_shows_the_user_code(ip: InteractiveShell, robot, demo) -> None:
    approved = demo.stats["device:approved"]
    cell = run(ip, "%oauth_token dev --grant-type device_code --device-authorization-url {{BASE}}/device_authorization "
                   "--access-token-url {{BASE}}/token --client-id demo-public --scope items:read")
    assert cell.error is None, cell.text
    assert isinstance(ip.user_ns["dev"], nb_oauth.Token)
    assert demo.stats["device:approved"] == approved + 1
    html_out = "\n".join(o.get("text/html", "") for o in cell.outputs)
    user_code = dict(tokens["dev"].trace.steps[1].params)["user_code"]
    assert user_code and "nb-oauth-user-code" in html_out and user_code in html_out
    cell.assert_no_secrets(*secrets_of("dev"))


def test_denied_consent_is_a_short_error_and_keeps_earlier_tokens(ip: InteractiveShell, robot) -> None:
    first = run(ip, f"%oauth_token pk {PKCE}")
    assert first.error is None
    kept = tokens["pk"].access_token
    robot(NB_OAUTH_ROBOT_CONSENT="deny")
    cell = run(ip, "%oauth_token pk --new")
    assert stopped(cell) and cell.result is None
    assert "access_denied" in cell.text and "Traceback" not in cell.text
    assert "What happened" in cell.text  # the failed flow's trace is offered
    assert tokens["pk"].access_token == kept and ip.user_ns["pk"].access_token == kept
    assert run(ip, "1 + 1").result == 2
    cell.assert_no_secrets(kept, tokens["pk"].refresh_token)


def test_timeout_is_a_short_error(ip: InteractiveShell, no_browser) -> None:
    cell = run(ip, f"%oauth_token slow {PKCE} --callback-timeout 0.5")
    assert stopped(cell) and "slow" not in tokens
    assert "within 0.5 s" in cell.text and "Traceback" not in cell.text  # the configured timeout, not what was left


def test_interrupt_cancels_and_releases_the_port(ip: InteractiveShell, no_browser, ctrl_c) -> None:
    timer = threading.Timer(0.7, _thread.interrupt_main)
    timer.start()
    try:
        cell = run(ip, f"%oauth_token stop {PKCE} --callback-timeout 20")
    finally:
        timer.cancel()
    assert stopped(cell), cell.text
    assert "Cancelled" in cell.text and "Traceback" not in cell.text and "stop" not in tokens
    redirect = parse_qs(urlsplit(shown_auth_url(cell.outputs)).query)["redirect_uri"][0]
    with socket.socket() as s:  # the listener's port is free again
        s.bind(("127.0.0.1", urlsplit(redirect).port))


def test_paste_mode_without_stdin_then_paste_option(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    from nb_oauth.demo import robot as robot_module

    monkeypatch.setenv("NB_OAUTH_REMOTE", "1")
    monkeypatch.delenv("NB_OAUTH_PUBLIC_URL", raising=False)
    monkeypatch.setenv("BROWSER", "true %s")

    def no_stdin(prompt: str = "") -> str:
        raise EOFError  # what a front end without stdin gives

    monkeypatch.setattr("builtins.input", no_stdin)
    cell = run(ip, f"%oauth_token remote {PKCE}")
    assert stopped(cell) and "remote" not in tokens
    assert "--paste" in cell.text and "device_code" in cell.text and "Traceback" not in cell.text
    auth_url = shown_auth_url(cell.outputs)

    class Catcher(robot_module.Robot):
        """A browser whose redirect cannot reach the kernel: it only reads the address."""

        def _deliver(self, target: str) -> robot_module.RobotResult:
            return robot_module.RobotResult(True, "landed", target)

    landed = Catcher("alice", "wonderland", "allow", None, None, 10).run(auth_url).final_url
    assert landed and "code=" in landed
    done = run(ip, f"%oauth_token remote --paste '{landed}'")
    assert done.error is None, done.text
    assert ip.user_ns["remote"] is tokens["remote"]
    done.assert_no_secrets(*secrets_of("remote"))
    again = run(ip, f"%oauth_token remote --paste '{landed}'")
    assert "No login named 'remote' is waiting" in again.text


def test_paste_mode_with_input(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    from nb_oauth.demo import robot as robot_module

    monkeypatch.setenv("NB_OAUTH_REMOTE", "1")
    monkeypatch.delenv("NB_OAUTH_PUBLIC_URL", raising=False)
    monkeypatch.setenv("BROWSER", "true %s")
    prompts: list[str] = []

    def answer(prompt: str = "") -> str:
        prompts.append(prompt)
        url = shown_auth_url([o["data"] for o in ip.display_pub.outputs])
        return robot_module.run(url).final_url or ""

    monkeypatch.setattr("builtins.input", answer)
    cell = run(ip, f"%oauth_token remote {PKCE}")
    assert cell.error is None, cell.text
    assert prompts and "Redirected URL" in prompts[0]
    assert ip.user_ns["remote"] is tokens["remote"]


# -- managing tokens ----------------------------------------------------------------------------------


def test_list_show_trace_refresh_revoke_delete(ip: InteractiveShell, robot, demo) -> None:
    assert "No tokens yet" in run(ip, "%oauth_token --list").text
    cell = run(ip, f"%oauth_token pk {PKCE} --revocation-url {{{{BASE}}}}/revoke")
    assert cell.error is None, cell.text
    get_cc(ip)
    secrets = secrets_of("pk") + secrets_of("cc")

    listed = run(ip, "%oauth_token --list")
    assert "pk" in listed.text and "cc" in listed.text

    shown = run(ip, "%oauth_token pk --show")
    assert "sub" in shown.text and "alice" in shown.text and "UTC" in shown.text and "Claims" in shown.text
    assert "expires in" in shown.text

    traced = run(ip, "%oauth_token pk --trace")
    assert "Authorization request" in traced.text and "Token request" in traced.text

    refreshes = demo.stats["token:refresh_token"]
    old = tokens["pk"].access_token
    refreshed = run(ip, "%oauth_token pk --refresh")
    assert "refreshed" in refreshed.text
    assert demo.stats["token:refresh_token"] == refreshes + 1 and tokens["pk"].access_token != old
    secrets += secrets_of("pk")

    revoked = run(ip, "%oauth_token pk --revoke")
    assert "revoked" in revoked.text and "pk" not in tokens
    not_revocable = run(ip, "%oauth_token cc --revoke")
    assert "cannot be revoked" in not_revocable.text and "cc" in tokens
    deleted = run(ip, "%oauth_token cc --delete")
    assert "deleted" in deleted.text and "cc" not in tokens
    missing = run(ip, "%oauth_token cc --show")
    assert "No token named 'cc'" in missing.text and "Traceback" not in missing.text
    for cell in (listed, shown, traced, refreshed, revoked, not_revocable, deleted):
        cell.assert_no_secrets(*secrets)


def test_no_argument_shows_the_form(ip: InteractiveShell) -> None:
    cell = run(ip, "%oauth_token")
    assert cell.error is None, cell.text
    assert cell.outputs, "the form was not displayed"


# -- %%authrequest ------------------------------------------------------------------------------------


def test_authrequest_get_binds_response_and_masks_the_token(ip: InteractiveShell) -> None:
    get_cc(ip)
    cell = run(ip, "%%authrequest cc\n# who am I\nGET {{BASE}}/api/me\nAccept: application/json\n")
    assert cell.error is None, cell.text
    response = ip.user_ns["response"]
    assert isinstance(response, requests.Response) and response.status_code == 200
    assert response.json()["client_id"] == "demo-confidential"
    html_out = cell.outputs[-1]["text/html"]
    assert "200 OK" in html_out and " ms" in html_out and "<details>" in html_out and "Authorization" in html_out
    cell.assert_no_secrets(*secrets_of("cc"))


def test_authrequest_as_json_and_dataframe(ip: InteractiveShell) -> None:
    get_cc(ip)
    cell = run(ip, "%%authrequest cc --as json --var me\nGET {{BASE}}/api/me HTTP/1.1\n")
    assert cell.error is None and ip.user_ns["me"]["sub"] == "demo-confidential"
    cell = run(ip, "%%authrequest cc --as dataframe --var items\n{{BASE}}/api/items\n  ?per_page=7\n")
    frame = ip.user_ns["items"]
    assert type(frame).__name__ == "DataFrame" and frame.shape[0] == 7 and "name" in frame.columns
    assert "DataFrame (7 rows" in cell.text
    text = run(ip, "%%authrequest cc --as text --var body\nGET {{BASE}}/api/me\n")
    assert isinstance(ip.user_ns["body"], str) and "demo-confidential" in ip.user_ns["body"]
    text.assert_no_secrets(*secrets_of("cc"))


def test_authrequest_sends_headers_and_body(ip: InteractiveShell) -> None:
    get_cc(ip)
    ip.user_ns["who"] = "notebook"
    cell = run(ip, '%%authrequest cc\nPOST {{BASE}}/api/echo?x=1\nX-Who: {{who}}\n\n{"a": 1}\n')
    assert cell.error is None, cell.text
    echoed = ip.user_ns["response"].json()
    assert echoed["method"] == "POST" and echoed["token_valid"] is True and echoed["query"] == {"x": "1"}
    assert echoed["headers"]["X-Who"] == "notebook"
    assert echoed["headers"]["Content-Type"] == "application/json"


def test_token_in_url_is_masked_in_display(ip: InteractiveShell) -> None:
    get_cc(ip, extra="--add-token-to url")
    cell = run(ip, "%%authrequest cc\nGET {{BASE}}/api/echo\n")
    assert ip.user_ns["response"].json()["token_location"] == "query"
    assert "access_token=" in cell.text
    cell.assert_no_secrets(*secrets_of("cc"))


@pytest.mark.parametrize(("body", "words"), [
    ("GET {{BASE}}/api/me\nAccept application/json\n", "Line 2"),
    ("\nFETCH {{BASE}}/api/me\n", "Line 2: unknown HTTP method 'FETCH'"),
    ("POST\n", "POST has no URL"),
    ("GET {{BASE}}/api/{{NOT_DEFINED_ANYWHERE}}\n", "NOT_DEFINED_ANYWHERE"),
])
def test_authrequest_cell_errors_name_the_line(ip: InteractiveShell, body: str, words: str) -> None:
    get_cc(ip)
    ip.user_ns.pop("response", None)
    cell = run(ip, "%%authrequest cc\n" + body)
    assert stopped(cell) and words in cell.text and "Traceback" not in cell.text
    assert "response" not in ip.user_ns


def test_authrequest_unreachable_api_and_unknown_token(ip: InteractiveShell) -> None:
    get_cc(ip)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cell = run(ip, f"%%authrequest cc --timeout 3\nGET http://127.0.0.1:{port}/nothing\n")
    assert stopped(cell) and "could not be completed" in cell.text and "Traceback" not in cell.text
    cell.assert_no_secrets(*secrets_of("cc"))
    unknown = run(ip, "%%authrequest nobody\nGET {{BASE}}/api/me\n")
    assert "No token named 'nobody'" in unknown.text and stopped(unknown)
    assert run(ip, "2 + 2").result == 4


def test_authrequest_not_json_with_as_json(ip: InteractiveShell) -> None:
    get_cc(ip)
    ip.user_ns.pop("data", None)
    cell = run(ip, "%%authrequest cc --as json --var data\nGET {{BASE}}/.well-known/nothing-here\n")
    assert "not JSON" in cell.text and "data" not in ip.user_ns


# -- the presenter on its own -------------------------------------------------------------------------


def test_countdown_redraws_while_live_and_clears_when_finished(ip: InteractiveShell) -> None:
    import time

    with capture_output() as cap:
        presenter = NotebookPresenter(live=True, tick=0.05)
        presenter.authorization_url("https://idp.example/authorize?x=<y>", deadline=time.time() + 60,
                                    opened=False, cancel_url=None)
        time.sleep(0.3)
        presenter.finished()
    texts = [o.data.get("text/plain", "") for o in cap.outputs]
    assert sum("left" in t for t in texts) >= 3  # first drawing plus redraws
    assert texts[-2:] == ["", ""]  # the countdown line and the login box (its links no longer work) are cleared
    html_out = cap.outputs[0].data["text/html"]
    assert "x=&lt;y&gt;" in html_out and "<y>" not in html_out  # the URL is escaped


def test_countdown_not_live_draws_once() -> None:
    import time

    with capture_output() as cap:
        countdown = Countdown(time.time() + 30, live=False, tick=0.01).start()
        time.sleep(0.1)
        countdown.stop()
    assert len(cap.outputs) == 1


# -- the response view on its own ---------------------------------------------------------------------


def make_response(body: bytes, content_type: str, *, url: str = "https://api.example/x",
                  headers: dict[str, str] | None = None) -> requests.Response:
    from datetime import timedelta

    response = requests.Response()
    response.status_code, response.reason, response._content = 200, "OK", body
    response.headers["Content-Type"] = content_type
    response.request = requests.Request("GET", url, headers=headers or {}).prepare()
    response.url, response.elapsed = url, timedelta(milliseconds=12)
    return response


def test_render_masks_credentials_in_request_headers_and_url() -> None:
    from nb_oauth.display.response_view import render

    response = make_response(b"{}", "application/json", url="https://api.example/x?access_token=QUERYSECRET123456&x=1",
                             headers={"Authorization": "Bearer HEADERSECRET123456"})
    bundle = render(response)  # no known secrets passed: the request's credentials are still masked
    for part in bundle.values():
        assert "HEADERSECRET123456" not in part and "QUERYSECRET123456" not in part
    assert "Bearer HEAD…" in bundle["text/html"] and "x=1" in bundle["text/plain"]


def test_render_masks_known_secrets_anywhere_and_escapes_json() -> None:
    from nb_oauth.display.response_view import render

    body = b'{"echo": "TOPSECRET-abcdef", "<b>": "<script>x</script>", "n": [1, 2.5, true, null]}'
    bundle = render(make_response(body, "application/json"), secrets=["TOPSECRET-abcdef"])
    assert all("TOPSECRET-abcdef" not in part for part in bundle.values())
    html_out = bundle["text/html"]
    assert "<script>" not in html_out and "&lt;script&gt;" in html_out and "<details" in html_out
    assert "12 ms" in html_out and "200 OK" in html_out


def test_render_images_text_and_binary() -> None:
    from nb_oauth.display.response_view import render

    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 20
    assert "data:image/png;base64," in render(make_response(png, "image/png"))["text/html"]
    assert "&lt;p&gt;hi" in render(make_response(b"<p>hi</p>", "text/html"))["text/html"]
    assert "not shown" in render(make_response(b"\x00\x01\x02", "application/octet-stream"))["text/html"]


@pytest.mark.parametrize(("data", "expected"), [
    ([{"a": 1}], [{"a": 1}]),
    ({"meta": {"n": 1}, "tags": ["x"], "items": [{"id": 1}]}, [{"id": 1}]),
    ({"data": {"rows": [{"id": 2}]}}, [{"id": 2}]),
    ({"id": 3}, [{"id": 3}]),
])
def test_records_finds_the_rows(data: Any, expected: list[Any]) -> None:
    from nb_oauth.display.response_view import records

    assert records(data) == expected


# -- a real Jupyter kernel ----------------------------------------------------------------------------


@pytest.mark.kernel
def test_in_a_real_kernel(demo) -> None:
    """Display updates, the missing stdin of a headless run and the secrets' absence, in ipykernel itself."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    sources = [
        "%load_ext nb_oauth",
        f"BASE = {demo.url!r}",
        f"%oauth_token cc {CC.replace('{{TOKEN_URL}}', '{{BASE}}/token')}",
        "%%authrequest cc --as json --var me\nGET {{BASE}}/api/me\n",
        "print(me['sub'], type(cc).__name__)",
        f"%oauth_token pk {PKCE}",
        f"import os; os.environ['NB_OAUTH_REMOTE'] = '1'\n%oauth_token remote {PKCE}",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    env = {**os.environ, "SECRET": CONFIDENTIAL_CLIENT_SECRET, "NB_OAUTH_ROBOT_DELAY": "1.2",
           "BROWSER": f"{sys.executable} -m nb_oauth.demo.robot %s"}
    client = nbclient.NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True)
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
    shown = [[json_text(o) for o in cell.outputs] for cell in nb.cells]
    everything = "\n".join(t for cell in shown for t in cell)
    assert "error" not in [o.output_type for cell in nb.cells[:-1] for o in cell.outputs], everything
    errors = [o for o in nb.cells[-1].outputs if o.output_type == "error"]  # the paste wait stops "Run All"
    assert len(errors) == 1 and errors[0].ename == "CellStopped" and len(errors[0].traceback) == 1
    assert CONFIDENTIAL_CLIENT_SECRET not in everything
    assert any("obtained" in t for t in shown[2])
    assert "demo-confidential Token" in shown[4][0]
    assert any("Token 'pk' obtained" in t for t in shown[5])
    assert not any(" left." in t for t in shown[5])  # the countdown was cleared in place when the login ended
    assert any("--paste" in t for t in shown[6])  # no stdin in a headless run: the paste route is offered


def json_text(output: Any) -> str:
    data = output.get("data", {})
    return str(data.get("text/plain", "")) + str(data.get("text/html", "")) + str(output.get("text", ""))


# -- Postman import from the magic --------------------------------------------------------------------


def test_from_postman_imports_then_gets_the_token(ip: InteractiveShell, demo, tmp_path) -> None:
    import json

    collection = {
        "info": {"name": "Demo API", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "auth": {"type": "oauth2", "oauth2": [
            {"key": "tokenName", "value": "postman_cc", "type": "string"},
            {"key": "grant_type", "value": "client_credentials", "type": "string"},
            {"key": "accessTokenUrl", "value": "{{baseUrl}}/token", "type": "string"},
            {"key": "clientId", "value": "demo-confidential", "type": "string"},
            {"key": "clientSecret", "value": "{{clientSecret}}", "type": "string"},
            {"key": "scope", "value": "items:read", "type": "string"},
        ]},
        "item": [{"name": "me", "request": {"method": "GET", "url": "{{baseUrl}}/api/me"}}],
        "variable": [{"key": "baseUrl", "value": demo.url}],
    }
    environment = {"name": "local", "values": [{"key": "clientSecret", "value": CONFIDENTIAL_CLIENT_SECRET,
                                                "enabled": True}]}
    (tmp_path / "c.json").write_text(json.dumps(collection))
    (tmp_path / "e.json").write_text(json.dumps(environment))
    cell = run(ip, f"%oauth_token --from-postman {tmp_path / 'c.json'} --environment {tmp_path / 'e.json'}")
    assert cell.error is None and "postman_cc" in cell.text
    assert CONFIDENTIAL_CLIENT_SECRET not in cell.text
    assert "postman_cc" not in tokens  # imported, not yet used
    got = run(ip, "%oauth_token postman_cc")
    assert got.error is None, got.text
    assert ip.user_ns["postman_cc"].scope == "items:read"
    assert nb_oauth.session("postman_cc").get(demo.url + "/api/me").json()["client_id"] == "demo-confidential"
    tokens.delete("postman_cc")


def test_from_postman_bad_file_is_a_short_error(ip: InteractiveShell, tmp_path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    cell = run(ip, f"%oauth_token --from-postman {tmp_path / 'bad.json'}")
    assert stopped(cell) and "bad.json" in cell.text


def test_a_shared_token_is_picked_up_by_a_new_kernel(ip: InteractiveShell, demo, tmp_path, monkeypatch) -> None:
    """`--share` in one kernel, then the same line in another: no second login."""
    monkeypatch.setenv("NB_OAUTH_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("NB_OAUTH_SHARE_BACKEND", "file")
    first = run(ip, f"%oauth_token shared {CC} --share")
    assert first.error is None, first.text
    kept = tokens["shared"].access_token
    tokens.clear()  # what a fresh kernel starts with
    before = demo.stats.get("token:client_credentials", 0)
    again = run(ip, f"%oauth_token shared {CC} --share")
    assert again.error is None and "reused" in again.text, again.text
    assert tokens["shared"].access_token == kept
    assert demo.stats.get("token:client_credentials", 0) == before
    tokens.delete("shared")


# -- messages that tell the truth -----------------------------------------------------------------------


def test_every_help_line_explains_its_option_beyond_the_label() -> None:
    for option in magic_options.CONFIG_OPTIONS:
        label = next(f for f in fields(OAuth2Config) if f.name == option.field).metadata.get("label", option.field)
        explained = option.help.removeprefix(label).strip("; .")
        assert len(explained) > 12, f"{option.flags[0]}: {option.help!r}"


def test_list_and_trace_print_readable_text_in_a_terminal(ip: InteractiveShell) -> None:
    get_cc(ip)
    listed = run(ip, "%oauth_token --list")
    plain = "\n".join(str(o.get("text/plain", "")) for o in listed.outputs)
    assert plain.splitlines()[0].split() == ["Token", "Name", "Access", "Token", "Expires", "Refresh", "token", "Scope"]
    assert "cc" in plain and "TokenStore(" not in plain and "Token(" not in plain
    traced = run(ip, "%oauth_token cc --trace")
    plain = "\n".join(str(o.get("text/plain", "")) for o in traced.outputs)
    assert "client_credentials grant" in plain and "HTTP 200" in plain and "Trace(" not in plain
    traced.assert_no_secrets(*secrets_of("cc"))


def test_a_magics_fix_names_the_magics_option(ip: InteractiveShell) -> None:
    cell = run(ip, "%oauth_token insecure --grant-type client_credentials --access-token-url http://idp.example/token "
                   "--client-id a --client-secret b")
    assert stopped(cell)
    assert "--allow-insecure-http" in cell.text and "allow_insecure_http=True" not in cell.text
    assert magic_options.for_magic("set auto_refresh=False or x=True") == "set --no-auto-refresh or x=True"
