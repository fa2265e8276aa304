"""The magics in a real Jupyter kernel (ipykernel run by nbclient), against the demo server on loopback:
display updates, the missing stdin of a headless run, and no secret in any output.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from nb_oauth.demo import CONFIDENTIAL_CLIENT_SECRET

from .support.magic_shell import CC, PKCE


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
    client = nbclient.NotebookClient(nb, timeout=60, iopub_timeout=30, kernel_name="python3", allow_errors=True)
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
