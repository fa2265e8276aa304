"""The ``.http``-style request cell: request line, headers, body, placeholders and line-numbered errors."""

from __future__ import annotations

import pytest

from nb_oauth.config import placeholders
from nb_oauth.importers.http_file import HttpFileError, parse, with_default_content_type


@pytest.fixture(autouse=True)
def no_notebook_namespace():
    """These tests pass variables explicitly; no notebook namespace leaks in."""
    placeholders.set_namespace(None)
    yield


def test_full_request_with_comments_headers_and_body() -> None:
    text = """
# list my items
// another comment style
POST https://api.example/items HTTP/1.1
Accept: application/json
X-Trace:  abc:def
# a header-section comment is skipped

{"name": "pen",
 "price": 2}
"""
    req = parse(text)
    assert req.method == "POST"
    assert req.url == "https://api.example/items"
    assert req.headers == [("Accept", "application/json"), ("X-Trace", "abc:def")]
    assert req.body == '{"name": "pen",\n "price": 2}'


def test_bare_url_means_get_and_method_is_case_insensitive() -> None:
    assert parse("https://api.example/me").method == "GET"
    req = parse("delete https://api.example/items/3")
    assert (req.method, req.url, req.body) == ("DELETE", "https://api.example/items/3", None)


def test_query_continuation_lines() -> None:
    req = parse("GET https://api.example/items\n    ?page=2\n    &per_page=5\nAccept: */*\n")
    assert req.url == "https://api.example/items?page=2&per_page=5"
    assert req.headers == [("Accept", "*/*")]


def test_placeholders_fill_url_headers_and_body(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_ENV", "env-value")
    text = "GET {{BASE}}/api/{{ kind }}\nX-Env: {{FROM_ENV}}\n\n{\"n\": {{N}}}"
    req = parse(text, {"BASE": "http://127.0.0.1:9", "kind": "me", "N": 3})
    assert req.url == "http://127.0.0.1:9/api/me"
    assert req.header("x-env") == "env-value"
    assert req.body == '{"n": 3}'


def test_notebook_namespace_is_used() -> None:
    placeholders.set_namespace(lambda: {"HOST": "api.example"})
    assert parse("GET https://{{HOST}}/x").url == "https://api.example/x"


def test_repeated_headers_are_joined() -> None:
    req = parse("GET https://a.example/\nAccept: text/html\naccept: application/json\n")
    assert req.headers_dict() == {"Accept": "text/html, application/json"}


def test_json_body_gets_a_content_type_unless_given() -> None:
    req = with_default_content_type(parse("POST https://a.example/\n\n[1, 2]"))
    assert req.header("Content-Type") == "application/json"
    plain = with_default_content_type(parse("POST https://a.example/\n\nhello"))
    assert plain.header("Content-Type") is None
    given = with_default_content_type(parse("POST https://a.example/\nContent-Type: text/plain\n\n[1]"))
    assert given.headers_dict()["Content-Type"] == "text/plain"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("# only a comment\n", None, "no request"),
        ("\n\nGETT https://a.example/", 3, "unknown HTTP method 'GETT'"),
        ("# c\nPOST", 2, "POST has no URL"),
        ("hello", 1, "neither 'METHOD URL' nor a URL"),
        ("GET /relative/path", 1, "not an absolute http(s) URL"),
        ("GET ftp://a.example/x", 1, "not an absolute http(s) URL"),
        ("GET https://a.example/ extra words", 1, "more than a method and a URL"),
        ("GET https://a.example/\nAccept application/json\n", 2, "not a header line"),
        ("GET https://a.example/\nBad Name: x\n", 2, "not a header line"),
        ("GET https://a.example/\nAccept: */*\n{\"a\": 1}", 3, "not a header line"),
        ("GET https://a.example/{{MISSING_VAR}}", 1, "MISSING_VAR"),
        ("GET https://a.example/\nX-A: {{MISSING_VAR}}", 2, "MISSING_VAR"),
        ("POST https://a.example/\n\nline one\n{{MISSING_VAR}}", 4, "MISSING_VAR"),
    ],
)
def test_errors_name_the_line(text: str, line: int | None, words: str) -> None:
    with pytest.raises(HttpFileError) as info:
        parse(text)
    message = str(info.value)
    assert words in message
    if line is not None:
        assert f"Line {line}" in message
    assert "Fix:" in message


def test_error_shows_the_offending_content() -> None:
    with pytest.raises(HttpFileError) as info:
        parse("GET https://a.example/\nthis is not a header\n")
    assert "'this is not a header'" in str(info.value)
