"""The notebook layer under attack, in a real kernel with a saved notebook: tokens in URLs in tracebacks
and ``%%authrequest`` output, placeholders reaching for IPython's history, plain http, secrets typed
on a magic line, and custom header values in the form's saved widget state."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .support.notebook_run import COLLECT_SECRETS, outputs_text
from .support.servers import free_port

API_KEY = "header-api-key-7f3a9c21"
URL_KEY = "url-api-key-0b8e44d1"
PRIVATE = "private-cell-text-5d2c8e"


def _cell(source: str, *, fails: bool = False) -> nbformat.NotebookNode:
    cell = new_code_cell(source)
    if fails:
        cell.metadata["tags"] = ["raises-exception"]
    return cell


def test_a_notebook_run_leaks_no_token_or_filled_value_through_errors_and_outputs(tmp_path: Path, demo) -> None:
    login = (f"%oauth_token urltok --grant-type password_credentials --issuer {{{{DEMO}}}} "
             f"--client-id {CONFIDENTIAL_CLIENT_ID} --client-secret {CONFIDENTIAL_CLIENT_SECRET} --username alice "
             "--password wonderland --scope 'openid profile items:read' --add-token-to url "
             "--token-request-param X-Api-Key={{API_KEY}}:header --token-request-param api_key={{URL_KEY}}:url")
    cells = [
        _cell("%load_ext nb_oauth"),
        _cell("import os, requests, nb_oauth\nDEMO = os.environ['DEMO']"),
        _cell(login),                                                                  # 2: warns about literals
        _cell(login.replace("urltok", "again")),                                       # 3: no second warning
        _cell("%oauth_token urltok --trace"),                                          # 4
        _cell("nb_oauth.session('urltok').get(DEMO + '/api/no-such-thing').raise_for_status()", fails=True),
        _cell(f"requests.get('http://127.0.0.1:{free_port()}/x', auth=nb_oauth.auth('urltok'), timeout=5)",
              fails=True),                                                             # 6: plain requests
        _cell("%%authrequest urltok\nGET {{DEMO}}/api/echo"),                          # 7
        _cell("%%authrequest urltok\nGET http://nb-oauth-test.invalid/data", fails=True),  # 8: plain http
        _cell(f"private = '{PRIVATE}'"),                                               # 9
        _cell("%oauth_token hist --grant-type client_credentials --access-token-url {{DEMO}}/token "
              "--client-id {{_i}} --client-secret {{API_KEY}}", fails=True),           # 10: history name
        _cell(COLLECT_SECRETS.format(names=[], path=str(tmp_path / "secrets.json"))),
    ]
    nb = new_notebook(cells=cells)
    env = {"DEMO": demo.url, "API_KEY": API_KEY, "URL_KEY": URL_KEY, "NB_OAUTH_CALLBACK_TIMEOUT": "30"}
    import os

    NotebookClient(nb, timeout=120, iopub_timeout=30, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}},
                   allow_errors=False).execute(env={**os.environ, **env})
    nb.cells.pop()
    saved = tmp_path / "attack.ipynb"
    nbformat.write(nb, saved)
    tokens = json.loads((tmp_path / "secrets.json").read_text())
    assert len(tokens) >= 4
    outputs = outputs_text(nbformat.read(saved, as_version=4))
    for secret in [*tokens, API_KEY, URL_KEY, CONFIDENTIAL_CLIENT_SECRET, "wonderland", PRIVATE]:
        assert secret not in outputs, secret[:8]
        assert json.dumps(secret)[1:-1] not in outputs

    def text(i: int) -> str:
        return json.dumps(nb.cells[i].get("outputs", []))

    assert "history" in text(2) and "--client-secret" in text(2) and "--password" in text(2)
    assert "{{CLIENT_SECRET}}" in text(2)
    assert "history" not in text(3)  # once per kernel
    assert "X-Api-Key" in text(4) and "api_key" in text(4)  # the trace shows the parameters, masked
    assert "HTTPError" in text(5) and "404" in text(5) and "access_token=" in text(5)
    assert "ConnectionError" in text(6) and "access_token=" in text(6)
    assert "/api/echo" in text(7) and "200" in text(7)
    assert "allow_insecure_http" in text(8)
    assert "history" in text(10) and "{{_i}}" in text(10)
    assert tokens[0] not in saved.read_text()  # and nowhere else in the file either


def test_custom_header_values_stay_out_of_the_forms_widget_state(demo, monkeypatch) -> None:
    from nb_oauth import tokens
    from nb_oauth.notebook.form import TokenForm

    from .test_form import saved_state

    monkeypatch.setenv("HDR_KEY", API_KEY)
    form = TokenForm(namespace={}, grant_type="client_credentials", issuer=demo.url,
                     client_id=CONFIDENTIAL_CLIENT_ID, client_secret=CONFIDENTIAL_CLIENT_SECRET,
                     token_request_params=[("X-Literal", "literal-header-secret-91", "header"),
                                           ("X-Filled", "{{HDR_KEY}}", "header"), ("aud", "plain-body-value", "body")])
    editor = form.rows["token_request_params"]
    editor.add_row("X-Typed", "", "body")
    row = editor.rows.children[-1]
    row.children[1].value = "typed-then-made-a-header-77"
    row.children[2].value = "header"  # the value was typed first, then the row became a header
    state = saved_state(form)
    for secret in ("literal-header-secret-91", "typed-then-made-a-header-77", CONFIDENTIAL_CLIENT_SECRET):
        assert secret not in state
    assert "{{HDR_KEY}}" in state and "plain-body-value" in state  # placeholders and body values stay visible
    params = form.config().token_request_params
    assert ("X-Literal", "literal-header-secret-91", "header") in params
    assert ("X-Typed", "typed-then-made-a-header-77", "header") in params
    form.click()  # the login itself (client credentials: no browser)
    form.wait(30)
    state = saved_state(form)
    for secret in ("literal-header-secret-91", "typed-then-made-a-header-77", API_KEY,
                   tokens[form.config().token_name].access_token):
        assert secret not in state
