"""No secret anywhere: a notebook that uses every magic, form action and error path runs in a real
kernel with DEBUG logging on; the saved .ipynb (outputs, metadata, widget state) and the log are
scanned for every secret the run used. The count must be 0."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from nb_oauth.demo import CONFIDENTIAL_CLIENT_SECRET, DEMO_USERS

from .support.report import record

pytestmark = [pytest.mark.kernel, pytest.mark.slow]

SETUP = """
import json, logging, os
import nb_oauth
import nb_oauth.grants.redirect as _redirect
logging.basicConfig(filename=os.environ["SCAN_LOG"], level=logging.DEBUG, force=True)
_SEEN = []  # codes and verifiers, which no variable holds: the scan must look for them too
_finish = _redirect.RedirectFlow.finish
def _spy(self, result):
    _SEEN.extend([result.params.get("code"), result.params.get("access_token"), self.code_verifier])
    return _finish(self, result)
_redirect.RedirectFlow.finish = _spy
DEMO = os.environ["SCAN_DEMO"]
SECRET = os.environ["SCAN_SECRET"]
PASSWORD = os.environ["SCAN_PASSWORD"]
"""

# (source, expected to fail the cell)
CELLS: list[tuple[str, bool]] = [
    ("%load_ext nb_oauth", False),
    (SETUP, False),
    ("%oauth_token cc --grant-type client_credentials --issuer {{DEMO}} --client-id demo-confidential "
     "--client-secret {{SECRET}} --scope items:read", False),
    ('%oauth_token pk --grant-type authorization_code_with_pkce --issuer {{DEMO}} --client-id demo-public '
     '--scope "openid profile offline_access items:read" --authorize-using-browser', False),
    ("%oauth_token imp --grant-type implicit --issuer {{DEMO}} --client-id demo-public --scope profile "
     "--authorize-using-browser", False),
    ('%oauth_token dev --grant-type device_code --issuer {{DEMO}} --client-id demo-public --scope "openid profile" '
     "--authorize-using-browser", False),
    ("%oauth_token pw --grant-type password_credentials --issuer {{DEMO}} --client-id demo-confidential "
     "--client-secret {{SECRET}} --username alice --password {{PASSWORD}} --scope profile --trace", False),
    ("pk", False),
    ("print(pk, repr(pk.trace)); pk.claims", False),
    ("%oauth_token --list", False),
    ("%oauth_token pk --show", False),
    ("%oauth_token pk --trace", False),
    ("%oauth_token pk --refresh", False),
    ("%%authrequest pk\nGET {{DEMO}}/api/me\n", False),
    ("%%authrequest pk --as json --var me\nGET {{DEMO}}/api/echo?x=1\n", False),
    ("%%authrequest cc --as dataframe --var df\nGET {{DEMO}}/api/items?per_page=3\n", False),
    ("%%authrequest cc --as text\nPOST {{DEMO}}/api/items\nContent-Type: application/json\n\n{\"name\": \"x\"}\n", False),
    ("%oauth_token cc --revoke", False),
    ("%oauth_token pw --delete", False),
    # the form: a secret typed into it, a login, the token manager's actions
    ("from nb_oauth.notebook.form import TokenForm\n"
     "f = TokenForm(token_name='viaform', grant_type='authorization_code', issuer=DEMO, "
     "client_id='demo-confidential', scope='openid profile offline_access', authorize_using_browser=True)\n"
     "f.rows['client_secret'].control.value = SECRET  # what typing into the box does\n"
     "f.widget()", False),
    ("f.click(); f.wait(60)", False),
    ("f.manager.act('refresh', 'viaform'); f.wait_idle(); f.manager.act('revoke', 'viaform'); f.wait_idle()", False),
    # error paths
    ("%oauth_token nobody --show", True),
    ("%%authrequest pk\nFETCH {{DEMO}}/api/me\n", True),
    ("%%authrequest pk\nGET http://127.0.0.1:9/unreachable\n", True),
    ("%oauth_token bad --grant-type client_credentials --issuer {{DEMO}} --client-id demo-confidential "
     "--client-secret wrong-{{SECRET}}", True),
    ("os.environ['NB_OAUTH_ROBOT_CONSENT'] = 'deny'\n"
     "%oauth_token denied --grant-type authorization_code_with_pkce --issuer {{DEMO}} --client-id demo-public "
     "--authorize-using-browser", True),
    ("os.environ.pop('NB_OAUTH_ROBOT_CONSENT')\n"
     "%oauth_token slow --grant-type authorization_code_with_pkce --issuer {{DEMO}} --client-id demo-public "
     "--no-authorize-using-browser --callback-timeout 1", True),
    ("try:\n    nb_oauth.get_new_access_token(nb_oauth.OAuth2Config(token_name='e', grant_type='password_credentials', "
     "issuer=DEMO, client_id='demo-confidential', client_secret=SECRET, username='alice', password=PASSWORD + 'x'))\n"
     "except nb_oauth.OAuthError as exc:\n    print(type(exc).__name__, exc)", False),
    ("nb_oauth.tokens.list()", False),
]

COLLECT = """
_found = set(v for v in _SEEN if v)
for _value in list(globals().values()):
    if isinstance(_value, nb_oauth.Token):
        _found.update(v for v in (_value.access_token, _value.refresh_token, _value.id_token) if v)
for _t in nb_oauth.tokens.list():
    _found.update(v for v in (_t.access_token, _t.refresh_token, _t.id_token) if v)
_found.update([SECRET, PASSWORD])
with open(os.environ["SCAN_SECRETS"], "w") as _f:
    json.dump(sorted(_found), _f)
"""


def test_nothing_secret_in_the_saved_notebook_or_the_debug_log(demo, tmp_path: Path) -> None:
    cells = []
    for source, fails in CELLS:
        cell = new_code_cell(source)
        if fails:
            cell.metadata["tags"] = ["raises-exception"]
        cells.append(cell)
    cells.append(new_code_cell(COLLECT))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    log, secrets_file = tmp_path / "debug.log", tmp_path / "secrets.json"
    env = {**os.environ, "BROWSER": f"{shlex.quote(sys.executable)} -m nb_oauth.demo.robot %s",
           "NB_OAUTH_CALLBACK_TIMEOUT": "60", "SCAN_LOG": str(log), "SCAN_DEMO": demo.url,
           "SCAN_SECRET": CONFIDENTIAL_CLIENT_SECRET, "SCAN_PASSWORD": DEMO_USERS["alice"],
           "SCAN_SECRETS": str(secrets_file)}
    client = NotebookClient(nb, timeout=120, iopub_timeout=30, kernel_name="python3", store_widget_state=True, allow_errors=False,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    nb.cells.pop()
    saved = tmp_path / "scan.ipynb"
    nbformat.write(nb, saved)
    secrets = json.loads(secrets_file.read_text())
    # every expected failure failed in one line, not with a traceback
    for cell, (_source, fails) in zip(nb.cells, CELLS, strict=True):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert bool(errors) == fails, (_source, errors)
        assert all(len(e.traceback) == 1 for e in errors), errors
    widget_state = nb.metadata.get("widgets", {})
    assert widget_state, "the form's widget state was saved with the notebook"
    haystacks = {"saved notebook": saved.read_text(), "DEBUG log": log.read_text()}
    found = {where: [s[:6] + "…" for s in secrets if s in text or (len(s) > 24 and s[:24] in text)]
             for where, text in haystacks.items()}
    record("secret_scan", {"secrets_in_play": len(secrets), "cells": len(CELLS),
                           "log_lines": haystacks["DEBUG log"].count("\n"),
                           "secrets_found": sum(len(v) for v in found.values())})
    assert len(secrets) >= 15
    assert haystacks["DEBUG log"].count("\n") > 20  # DEBUG logging really ran
    assert found == {"saved notebook": [], "DEBUG log": []}
