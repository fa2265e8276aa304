"""``%oauth_token`` in a real IPython shell, against the demo server on loopback: loading the extension and
its help, getting tokens, managing them, and messages that name the magic's own options.

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
from dataclasses import fields
from urllib.parse import parse_qs, urlsplit

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nb_oauth
from nb_oauth import tokens
from nb_oauth.config import OAuth2Config
from nb_oauth.notebook import magic_options, magics

from .support import magic_shell
from .support.magic_shell import CC, PKCE, get_cc, run, secrets_of, shown_auth_url, stopped

ip = magic_shell.ip  # the module-scoped shell with the extension loaded
fresh_namespace = magic_shell.fresh_namespace  # automatic: BASE, TOKEN_URL and SECRET for every cell


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
