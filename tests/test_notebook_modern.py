"""The modern-security fields in the notebook layer: the form's Advanced Options (a key typed as a secret,
never in widget state) and ``%oauth_token`` kebab-case options, run against oidc-provider; ``%%authrequest``
with a DPoP-bound token against the DPoP-verifying resource server."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import nb_oauth
from nb_oauth.config import GRANT_TYPES
from nb_oauth.dpop import _nonce
from nb_oauth.notebook.form import TokenForm
from nb_oauth.notebook.form_advanced import ADVANCED
from nb_oauth.notebook.form_fields import SecretRow

from . import test_magics
from .support.dpop_resource_server import DPoPResourceServer
from .support.token_form import walk
from .test_form import saved_state

shell = test_magics.ip  # the magics tests' module-scoped IPython shell, the extension loaded

MODERN = ("security_profile", "client_assertion_key", "client_assertion_kid", "client_assertion_alg", "dpop",
          "dpop_alg", "use_par", "par_url", "request_object", "introspection_url", "userinfo_url", "subject_token",
          "subject_token_name", "subject_token_type", "actor_token", "actor_token_type", "requested_token_type")


@pytest.fixture(autouse=True)
def no_remembered_nonces():
    _nonce.clear()
    yield


def shown_in(box: widgets.Widget, target: widgets.Widget) -> bool:
    """``target`` is inside ``box`` and neither it nor any box on the way is hidden."""
    if box is target:
        return box.layout.display != "none"
    if box.layout.display == "none":
        return False
    return any(shown_in(child, target) for child in getattr(box, "children", ()))


def test_every_new_field_is_placed_in_the_advanced_options_tab_and_secrets_are_secret_rows() -> None:
    form = TokenForm(namespace={})
    tab = form.tabs.children[list(form.tabs.titles).index("Advanced Options")]
    assert set(MODERN) <= set(ADVANCED)
    assert {id(w) for w in walk(tab)} >= {id(form.rows[name].box) for name in ADVANCED}
    for name in ("client_assertion_key", "subject_token", "actor_token"):
        assert isinstance(form.rows[name], SecretRow)
    for grant in GRANT_TYPES:
        form.rows["grant_type"].set(grant)
        for name in MODERN:
            assert shown_in(tab, form.rows[name].box) == form.rows[name].applies_to(grant), (grant, name)
    html_text = " ".join(w.value for w in walk(tab) if isinstance(w, widgets.HTML) and shown_in(tab, w))
    assert "Token Exchange" in html_text and "Sender-Constrained Tokens (DPoP)" in html_text
    form.rows["grant_type"].set("client_credentials")
    html_text = " ".join(w.value for w in walk(tab) if isinstance(w, widgets.HTML) and shown_in(tab, w))
    assert "Token Exchange" not in html_text and "Pushed and Signed Authorization Requests" not in html_text
    assert "Signed Client Authentication" in html_text


def test_fapi2_login_from_the_form_keeps_the_key_out_of_widget_state(fapi_provider, provider_login) -> None:
    key = fapi_provider.keys.pem("rsa")
    form = TokenForm(namespace={}, token_name="bank", issuer=fapi_provider.issuer, client_id="fapi", scope="openid",
                     grant_type="authorization_code_with_pkce")
    form.rows["security_profile"].set("fapi2")
    form.rows["client_assertion_key"].control.set_state({"value": key.replace("\n", " ")})  # pasted into one line
    assert key not in saved_state(form) and "PRIVATE KEY" not in saved_state(form)
    form.click()
    token = form.wait(60)
    assert token.token_type == "DPoP"
    state = saved_state(form)
    assert "PRIVATE KEY" not in state and token.access_token not in state


def run(shell: InteractiveShell, code: str) -> tuple[object, str]:
    with capture_output() as cap:
        result = shell.run_cell(code)
    text = "\n".join([cap.stdout, cap.stderr] + [str(v) for o in cap.outputs for v in o.data.values()])
    return result.error_in_exec or result.error_before_exec, text


def test_magic_options_and_authrequest_with_dpop(shell, fapi_provider, provider_login, tmp_path) -> None:
    key_file = tmp_path / "client.json"
    key_file.write_text(fapi_provider.keys.jwk_text("ec"))
    shell.user_ns["ISSUER"] = fapi_provider.issuer
    error, text = run(shell, f"%oauth_token bank --security-profile fapi2 --issuer {{{{ISSUER}}}} --client-id fapi "
                          f"--client-assertion-key {key_file} --scope openid --dpop-alg ES256")
    assert error is None, text
    token = nb_oauth.tokens["bank"]
    assert token.token_type == "DPoP" and shell.user_ns["bank"] is token
    assert token.access_token not in text and '"d"' not in text
    rs = DPoPResourceServer(fapi_provider.issuer + "/token/introspection", "rs", fapi_provider.secret("rs"),
                            require_nonce=True).start()
    try:
        error, text = run(shell, f"%%authrequest bank --var r\nGET {rs.url}/accounts\nAccept: application/json\n")
        assert error is None, text
        assert shell.user_ns["r"].status_code == 200 and shell.user_ns["r"].json()["scheme"] == "DPoP"
        assert rs.stats.nonce_challenges == 1 and token.access_token not in text
    finally:
        rs.stop()


def test_magic_refuses_a_fapi_rule_in_one_line(shell) -> None:
    error, text = run(shell, "%oauth_token bad --security-profile fapi2 --issuer https://bank.example --client-id c "
                          "--client-assertion-key {{K}} --code-challenge-method plain")
    assert error is not None and "PKCE with S256" in text and "Traceback" not in text
