"""A real IPython shell with the nb_oauth extension loaded, for the ``%oauth_token`` and ``%%authrequest``
tests: the shell and notebook-variable fixtures, the option lines the cells use, and a cell runner that
captures everything a cell showed (stdout, stderr and everything sent to the display publisher)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nb_oauth import tokens
from nb_oauth.demo import CONFIDENTIAL_CLIENT_SECRET

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
    """Notebook variables the cells use; removed afterwards so nothing leaks into other tests.
    Automatic in every test module that binds it."""
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
