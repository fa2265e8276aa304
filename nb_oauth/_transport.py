"""Sending nb_oauth's own requests (token, device, revocation, discovery) and reading the answers.

One place for the rules every request follows: a timeout (``NB_OAUTH_HTTP_TIMEOUT``), a size
limit on what is read, network failures turned into :class:`NetworkError`, and secrets kept
out of every message.  Token responses are parsed by oauthlib.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
import urllib3.exceptions
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2.rfc6749.errors import OAuth2Error
from oauthlib.oauth2.rfc6749.parameters import parse_token_response as oauthlib_parse

from .errors import (
    InvalidTokenResponseError,
    NetworkError,
    OAuthError,
    TokenEndpointError,
    endpoint_fix,
    narrowed_scope_notice,
    plain_http_answer,
    status_fix,
)

log = logging.getLogger("nb_oauth")

#: RFC 6749 Appendix A: access and refresh tokens are 1*VSCHAR.
_VISIBLE_ASCII = re.compile(r"[\x20-\x7e]+")

#: The most we read of any response from an authorization server.
MAX_RESPONSE_BYTES = 1024 * 1024
USER_AGENT = "nb_oauth"


def http_timeout() -> float:
    """Seconds any request may take (``NB_OAUTH_HTTP_TIMEOUT``, default 30)."""
    try:
        value = float(os.environ.get("NB_OAUTH_HTTP_TIMEOUT", "30"))
    except ValueError:
        return 30.0
    return value if value > 0 else 30.0


_session: requests.Session | None = None


def shared_session() -> requests.Session:
    """One pooled session for nb_oauth's own calls to authorization servers (keeps connections warm)."""
    global _session
    if _session is None:
        s = requests.Session()
        s.headers["User-Agent"] = USER_AGENT
        s.trust_env = True
        _session = s
    return _session


@dataclass
class PreparedCall:
    """A request to an authorization server, built up in steps and sent once."""

    method: str
    url: str
    body: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None

    def add_custom(self, params: Iterable[tuple[str, str, str]]) -> None:
        """Custom parameters (Postman's Advanced tab); repeated keys stay repeated."""
        url_pairs: list[tuple[str, str]] = []
        for key, value, send_as in params:
            if send_as == "body":
                self.body.append((key, value))
            elif send_as == "url":
                url_pairs.append((key, value))
            else:
                self.headers[key] = f"{self.headers[key]}, {value}" if key in self.headers else value
        if url_pairs:
            self.url = add_params_to_uri(self.url, url_pairs)

    def encoded_body(self) -> str:
        return urlencode(self.body)  # what oauthlib's add_params_to_qs("", body) gives, without its parse step


@dataclass
class Response:
    """What came back: status, headers, the (size-limited) text and the elapsed seconds."""

    status: int
    headers: Mapping[str, str]  # looked up case-insensitively
    text: str
    elapsed: float
    url: str

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class _NoNetrc(requests.auth.AuthBase):
    """No credentials from ``~/.netrc``: a call to the authorization server carries exactly the client
    authentication its config asks for (a netrc entry for the host would add HTTP Basic to a body, assertion
    or public-client request)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


_NO_NETRC = _NoNetrc()


def send(call: PreparedCall, *, secrets: Sequence[str | None] = (), what: str = "request",
         session: requests.Session | None = None) -> Response:
    """Send ``call`` with a timeout; network failures become :class:`NetworkError`."""
    sess = session or shared_session()
    headers = {"Accept": "application/json", **call.headers}
    data = None
    if call.method.upper() != "GET":
        headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        data = call.encoded_body()
    started = time.monotonic()
    timeout = http_timeout()
    try:
        r = sess.request(
            call.method,
            call.url,
            data=data,
            headers=headers,
            auth=call.basic_auth or _NO_NETRC,
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        )
        try:
            raw = _read_body(r, started + timeout, what=what, url=call.url, secrets=secrets)
        finally:
            r.close()
    except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError):
        raise NetworkError(f"The {what} to {_origin(call.url)} timed out after {http_timeout():g} s.",
                           secrets=secrets) from None
    except requests.exceptions.SSLError as exc:
        if plain_http_answer(exc):
            plain = "http" + call.url[len("https"):] if call.url.startswith("https") else call.url
            raise NetworkError(f"{_origin(call.url)} answered the {what} in plain http, not https (TLS).",
                               fix=f"Use the http URL ({_origin(plain)}); for a host other than this machine "
                                   "that also needs allow_insecure_http.", secrets=secrets) from None
        raise NetworkError(f"TLS failed for the {what} to {_origin(call.url)}: {_short(exc)}.",
                           fix="Check the server's certificate (REQUESTS_CA_BUNDLE points at a custom CA bundle).",
                           secrets=secrets) from None
    except requests.exceptions.ConnectionError as exc:
        raise NetworkError(f"Could not connect to {_origin(call.url)} for the {what}: {_short(exc)}.",
                           secrets=secrets) from None
    except requests.exceptions.RequestException as exc:
        raise NetworkError(f"The {what} to {_origin(call.url)} failed: {_short(exc)}.", secrets=secrets) from None
    except urllib3.exceptions.DecodeError:
        raise TokenEndpointError(f"The {what} to {_origin(call.url)} answered a compressed body that cannot be "
                                 "decoded.", secrets=secrets) from None
    except urllib3.exceptions.HTTPError as exc:  # reading the body: the connection broke (e.g. cut mid-body)
        raise NetworkError(f"The connection to {_origin(call.url)} broke while reading the answer to the {what}: "
                           f"{_short(exc)}.", secrets=secrets) from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise TokenEndpointError(
            f"The {what} to {_origin(call.url)} answered with more than {MAX_RESPONSE_BYTES // 1024} KiB; "
            "that is not an OAuth response.", secrets=secrets)
    encoding = r.encoding or "utf-8"
    try:
        text = raw.decode(encoding, errors="replace")
    except LookupError:
        text = raw.decode("utf-8", errors="replace")
    return Response(
        status=r.status_code,
        headers=r.headers,
        text=text,
        elapsed=r.elapsed.total_seconds(),
        url=call.url,
    )


def _read_body(r: requests.Response, deadline: float, *, what: str, url: str, secrets: Sequence[str | None]) -> bytes:
    """At most ``MAX_RESPONSE_BYTES + 1`` decoded bytes, and no later than ``deadline``.

    The socket timeout restarts with every byte, so a server trickling its answer would
    otherwise hold the call for as long as it likes.
    """
    read1 = getattr(r.raw, "read1", None)  # urllib3 2: returns as soon as some bytes are there
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_RESPONSE_BYTES:
        if time.monotonic() > deadline:
            raise NetworkError(f"The {what} to {_origin(url)} timed out after {http_timeout():g} s (the answer kept "
                               "trickling in).", secrets=secrets)
        want = min(MAX_RESPONSE_BYTES + 1 - size, 64 * 1024)
        chunk = read1(want, decode_content=True) if read1 is not None else r.raw.read(min(want, 1024),
                                                                                       decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if getattr(r.raw, "length_remaining", None) == 0 and not _compressed(r):
            break  # the whole Content-Length is in: no read just to learn that
    return b"".join(chunks)


def _compressed(r: requests.Response) -> bool:
    return r.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity")


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}"


def _short(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 messages repeat themselves at length; the last clause is the useful one.
    if "Caused by" in text:
        text = text.split("Caused by", 1)[1].strip(" ()")
    return text[:300]


# -- reading answers ---------------------------------------------------------------------------------


def server_error(resp: Response) -> tuple[str | None, str | None]:
    """The server's ``error`` / ``error_description`` when the body is an OAuth error document."""
    try:
        data = resp.json()
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    err = data.get("error")
    desc = data.get("error_description") or data.get("message")
    return (str(err) if err is not None else None), (str(desc)[:500] if desc is not None else None)


def describe_body(resp: Response) -> str:
    """A short, secret-free description of a body that is not what we expected."""
    if not resp.text.strip():
        return "an empty body"
    if resp.content_type in ("text/html", "application/xhtml+xml") or resp.text.lstrip()[:15].lower().startswith(
        ("<!doctype", "<html")
    ):
        return "an HTML page (is this URL the provider's API endpoint, not a web page?)"
    return f"a body that is not JSON (Content-Type {resp.content_type or 'missing'})"


def parse_token_response(
    resp: Response,
    *,
    requested_scope: str | None,
    secrets: Sequence[str | None] = (),
    error_cls: type[TokenEndpointError] = TokenEndpointError,
    what: str = "token request",
) -> tuple[dict[str, Any], list[str]]:
    """Check a token endpoint answer and return ``(token fields, warnings)``.

    Errors name the cause: an error status (with the server's ``error``), a body that is not a
    token, a missing or non-string ``access_token``, a bad ``expires_in``.  A granted scope
    narrower than asked is a warning, not an error.
    """
    secrets = list(secrets)
    if not 200 <= resp.status < 300:
        error, description = server_error(resp)
        if 300 <= resp.status < 400:
            where = resp.headers.get("location", "")
            raise error_cls(f"The {what} was redirected ({resp.status}) to {_origin(where) if where else 'elsewhere'}; "
                            "token endpoints answer directly.", status=resp.status, secrets=secrets,
                            fix="Use the final token URL (check http vs https and a trailing slash).")
        if error:
            raise error_cls(f"The {what} failed with HTTP {resp.status}.", error=error,
                            error_description=description, status=resp.status, secrets=secrets)
        raise error_cls(f"The {what} failed with HTTP {resp.status} and {describe_body(resp)}.",
                        status=resp.status, secrets=secrets, fix=status_fix(resp.status, what))
    body = resp.text
    not_json = object()
    try:
        data = json.loads(body)
    except ValueError:
        data = not_json
    if data is not_json:
        # oauthlib also reads the old form-encoded answer (GitHub without Accept), tokens and errors alike.
        form = dict(parse_qsl(body.strip(), keep_blank_values=True))
        if "access_token" not in form and "error" not in form:
            raise InvalidTokenResponseError(f"The {what} answered {describe_body(resp)}, not a token.",
                                            status=resp.status, secrets=secrets)
    elif not isinstance(data, dict):
        raise InvalidTokenResponseError(f"The {what} answered JSON that is not an object, not a token.",
                                        status=resp.status, secrets=secrets)
    else:
        _check_fields(data, what=what, secrets=secrets, error_cls=error_cls)
    warnings: list[str] = []
    try:
        token = oauthlib_parse(body, scope=None)
    except Warning as w:  # oauthlib's "scope has changed": keep what was granted, tell the user
        token = w.token  # type: ignore[attr-defined]
    except OAuth2Error as exc:
        raise error_cls(f"The {what} was refused.", error=exc.error, error_description=exc.description,
                        status=resp.status, secrets=secrets) from None
    except (ValueError, TypeError) as exc:
        raise InvalidTokenResponseError(f"The {what} answered a token oauthlib cannot read: {_short(exc)}.",
                                        status=resp.status, secrets=secrets) from None
    if isinstance(data, dict):
        fields = dict(data)
    else:  # the form-encoded answer, as oauthlib read it
        fields = dict(token)
        _check_fields(fields, what=what, secrets=secrets, error_cls=error_cls)
    granted = fields.get("scope")
    if isinstance(granted, list):
        granted = " ".join(map(str, granted))
        fields["scope"] = granted
    if requested_scope and isinstance(granted, str):
        missing = [s for s in requested_scope.split() if s not in granted.split()]
        if missing:
            warnings.append(narrowed_scope_notice(missing))
    return fields, warnings


def _check_fields(data: dict[str, Any], *, what: str, secrets: Sequence[str | None],
                  error_cls: type[TokenEndpointError] = TokenEndpointError) -> None:
    if "error" in data and "access_token" not in data:
        raise error_cls(f"The {what} was refused.", error=str(data.get("error")),
                        error_description=str(data.get("error_description") or "") or None,
                        secrets=secrets)
    token = data.get("access_token")
    if not isinstance(token, str) or not token.strip():
        found = "missing" if token is None else ("empty" if isinstance(token, str) else f"a {type(token).__name__}")
        raise InvalidTokenResponseError(
            f"The {what} answered without a usable access_token (it is {found}).", secrets=secrets,
            fix="Check the Access Token URL and grant settings; a token response must carry access_token.")
    for name in ("access_token", "refresh_token"):
        value = data.get(name)
        if isinstance(value, str) and value and not _VISIBLE_ASCII.fullmatch(value):
            raise InvalidTokenResponseError(
                f"The {what} answered a{'n' if name[0] == 'a' else ''} {name} with characters outside visible "
                "ASCII (RFC 6749 Appendix A allows only %x20-7E; invalid UTF-8 counts too); it was not kept.",
                secrets=secrets, fix="The token endpoint is broken or not an OAuth token endpoint: check the "
                                     "Access Token URL, or report it to the provider.")
    if "expires_in" in data and data["expires_in"] is not None:
        value = data["expires_in"]
        try:
            if isinstance(value, bool):
                raise ValueError
            seconds = float(value)
            if seconds != seconds or seconds in (float("inf"), float("-inf")):
                raise ValueError
        except (TypeError, ValueError):
            raise InvalidTokenResponseError(f"The {what} answered expires_in={str(value)[:40]!r}, which is not a number.",
                                            secrets=secrets) from None
        if seconds < 0:
            raise InvalidTokenResponseError(f"The {what} answered a negative expires_in ({value}).", secrets=secrets)
    for name in ("refresh_token", "id_token", "token_type"):
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidTokenResponseError(f"The {what} answered a {name} that is a {type(value).__name__}, "
                                            "not a string.", secrets=secrets)
    scope = data.get("scope")
    if scope is not None and not isinstance(scope, str) and not (
            isinstance(scope, list) and all(isinstance(s, str) for s in scope)):
        raise InvalidTokenResponseError(f"The {what} answered a scope that is a {type(scope).__name__}, "
                                        "not a space-separated string.", secrets=secrets)


def raise_for_oauth_error(resp: Response, *, what: str, error_cls: type[OAuthError] = TokenEndpointError,
                          secrets: Sequence[str | None] = ()) -> dict[str, Any]:
    """For non-token JSON answers (device authorization, discovery): the JSON object, or an error."""
    if not 200 <= resp.status < 300:
        error, description = server_error(resp)
        raise error_cls(f"The {what} failed with HTTP {resp.status}"
                        + ("." if error else f" and {describe_body(resp)}."),
                        error=error, error_description=description, status=resp.status, secrets=secrets,
                        fix=None if error else status_fix(resp.status, what))
    try:
        data = resp.json()
    except ValueError:
        raise error_cls(f"The {what} answered {describe_body(resp)}.", status=resp.status, secrets=secrets,
                        fix=endpoint_fix(what)) from None
    if not isinstance(data, dict):
        raise error_cls(f"The {what} answered JSON that is not an object.", status=resp.status, secrets=secrets,
                        fix=endpoint_fix(what))
    return data

