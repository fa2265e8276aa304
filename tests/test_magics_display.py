"""What the magics display, on its own: the login box's countdown (redrawn while live, cleared when the login
ends) and the response view (credentials and known secrets masked, markup escaped, images, text and binary
bodies, and the rows a DataFrame is built from).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nb_oauth.notebook.ui import Countdown, NotebookPresenter

from .support import magic_shell

ip = magic_shell.ip
fresh_namespace = magic_shell.fresh_namespace  # automatic: every test has the shell whose displays capture_output collects


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
