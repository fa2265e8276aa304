"""``%%authrequest`` in a real IPython shell, against the demo server's API on loopback: the response bound to
a variable (as a response, JSON, a DataFrame or text), headers and bodies sent, the token masked in what the
cell shows, and one-line errors that name the bad line.
"""

from __future__ import annotations

import socket

import pytest
import requests
from IPython.core.interactiveshell import InteractiveShell

from .support import magic_shell
from .support.magic_shell import get_cc, run, secrets_of, stopped

ip = magic_shell.ip
fresh_namespace = magic_shell.fresh_namespace  # automatic: BASE, TOKEN_URL and SECRET for every cell



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
