"""A scripted user agent that clicks through the demo server's pages.

Use it where a person would sit at a browser::

    BROWSER="python -m nb_oauth.demo.robot %s"

``webbrowser`` then runs it with the authorization (or device verification)
URL. It signs in, presses Allow or Deny, and delivers the result to the
client's redirect URI the way a browser would: a query response is fetched
with GET; a fragment response (implicit flow) is handled like a relay page's
script would, by loading the page and POSTing the fragment text to it.

Note that ``webbrowser`` waits for a ``BROWSER`` command to exit unless the
command ends with ``&``.

Environment: ``NB_OAUTH_ROBOT_USER``, ``NB_OAUTH_ROBOT_PASSWORD``,
``NB_OAUTH_ROBOT_CONSENT`` (``allow``/``deny``), ``NB_OAUTH_ROBOT_USER_CODE``,
``NB_OAUTH_ROBOT_DELAY`` (seconds to wait first) and ``NB_OAUTH_ROBOT_LOG``
(a file that gets one line per request: method, path, status; never
secrets).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests

TIMEOUT = 10.0
MAX_STEPS = 25
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
VOID_TAGS = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})


class RobotError(Exception):
    """The flow could not be completed as instructed."""


@dataclass
class RobotResult:
    """What happened: ``ok``, a one-line ``message``, and the steps taken."""

    ok: bool
    message: str
    final_url: str | None = None
    final_status: int | None = None
    steps: list[str] = field(default_factory=list)


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    field_types: dict[str, str] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def has_field(self, name: str) -> bool:
        return name in self.field_types

    def button(self, name: str, value: str) -> tuple[str, str] | None:
        return next((b for b in self.buttons if b == (name, value)), None)


class PageParser(HTMLParser):
    """Collects forms, the page result marker and error messages."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.result = ""
        self.errors: list[str] = []
        self._form: Form | None = None
        self._error_depth = 0
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.result = a.get("data-result", "")
        elif tag == "form":
            self._form = Form(action=a.get("action", ""), method=a.get("method", "get").upper())
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image"):
                self._form.buttons.append((a["name"], a.get("value", "")))
            elif kind not in ("checkbox", "radio") or "checked" in a:
                self._form.fields.append((a["name"], a.get("value", "")))
                self._form.field_types[a["name"]] = kind
        elif tag == "button" and self._form is not None and a.get("type", "submit").lower() == "submit" \
                and a.get("name"):
                self._form.buttons.append((a["name"], a.get("value", "")))
        if tag in VOID_TAGS:
            return
        if "error" in a.get("class", "").split():
            self._error_depth += 1
            self.errors.append("")
        elif self._error_depth:
            self._error_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        if self._error_depth and tag not in VOID_TAGS:
            self._error_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._error_depth and self.errors:
            self.errors[-1] += data


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class Robot:
    """One run through the pages with a fresh cookie jar."""

    def __init__(
        self,
        username: str,
        password: str,
        consent: str,
        user_code: str | None,
        log_path: str | None,
        timeout: float,
    ) -> None:
        self.username = username
        self.password = password
        self.consent = consent
        self.user_code = user_code
        self.log_path = log_path
        self.timeout = timeout
        self.steps: list[str] = []
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only; never via a proxy
        self.session.headers["User-Agent"] = "nb_oauth-robot/1.0"

    def _send(
        self, method: str, url: str, data: Any = None, headers: dict[str, str] | None = None
    ) -> requests.Response:
        response = self.session.request(
            method, url, data=data, headers=headers, allow_redirects=False, timeout=self.timeout
        )
        step = f"{method} {urlsplit(url).path or '/'} {response.status_code}"
        self.steps.append(step)
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(f"{time.strftime('%H:%M:%S')} {step}\n")
        return response

    def run(self, url: str) -> RobotResult:
        origin = _origin(url)
        method, current, data = "GET", url, None
        submitted: set[str] = set()
        for _ in range(MAX_STEPS):
            response = self._send(method, current, data)
            location = response.headers.get("Location")
            if response.is_redirect and location:
                target = urljoin(current, location)
                if _origin(target) != origin:
                    return self._deliver(target)
                method, current, data = "GET", target, None
                continue
            page = PageParser()
            page.feed(response.text)
            form, kind = self._pick_form(page)
            if form is None:
                return self._finish(page, response, current)
            if kind in submitted:
                detail = "; ".join(e.strip() for e in page.errors if e.strip()) or "form shown again"
                raise RobotError(f"{kind} step failed: {detail}")
            submitted.add(kind)
            method, current, data = self._submit(form, kind, current)
        raise RobotError(f"gave up after {MAX_STEPS} requests")

    def _pick_form(self, page: PageParser) -> tuple[Form | None, str]:
        for form in page.forms:
            if form.has_field("username") and form.has_field("password"):
                return form, "login"
            if any(name == "consent" for name, _ in form.buttons):
                return form, "consent"
            if form.field_types.get("user_code", "hidden") != "hidden":
                return form, "user code"
        return None, ""

    def _submit(self, form: Form, kind: str, current: str) -> tuple[str, str, list[tuple[str, str]] | None]:
        values = dict(form.fields)
        if kind == "login":
            values.update(username=self.username, password=self.password)
            button = form.button("action", "login") or (form.buttons[0] if form.buttons else None)
        elif kind == "consent":
            button = form.button("consent", self.consent)
            if button is None:
                raise RobotError(f"consent page has no {self.consent!r} button")
        else:
            if self.user_code:
                values["user_code"] = self.user_code
            if not values.get("user_code"):
                raise RobotError("no user code to enter (pass one, or use verification_uri_complete)")
            button = form.buttons[0] if form.buttons else None
        fields = list(values.items()) + ([button] if button else [])
        target = urljoin(current, form.action or current)
        if form.method == "POST":
            return "POST", target, fields
        return "GET", urlunsplit(urlsplit(target)._replace(query=urlencode(fields))), None

    def _deliver(self, target: str) -> RobotResult:
        """Hand the authorization response to the client, as a browser would."""
        parts = urlsplit(target)
        if parts.fragment:
            page_url = urlunsplit(parts._replace(fragment=""))
            self._send("GET", page_url)
            response = self._send(
                "POST", page_url, data=parts.fragment, headers={"Content-Type": FORM_CONTENT_TYPE}
            )
            params = dict(parse_qsl(parts.fragment))
        else:
            response = self._send("GET", target)
            params = dict(parse_qsl(parts.query))
        if response.status_code >= 400:
            raise RobotError(f"redirect target answered HTTP {response.status_code}")
        error = params.get("error")
        if error and not (error == "access_denied" and self.consent == "deny"):
            return self._result(False, f"authorization failed: {error}", target, response)
        return self._result(True, "delivered the authorization response", target, response)

    def _finish(self, page: PageParser, response: requests.Response, url: str) -> RobotResult:
        """A page without a form to fill ends the flow (e.g. 'Device approved')."""
        if page.result == "device-approved" and self.consent == "allow":
            return self._result(True, "device approved", url, response)
        if page.result == "device-denied" and self.consent == "deny":
            return self._result(True, "device denied", url, response)
        detail = "; ".join(e.strip() for e in page.errors if e.strip()) or "no form to fill"
        where = f"HTTP {response.status_code} {page.result or 'page'}"
        return self._result(False, f"stopped at {where}: {detail}", url, response)

    def _result(self, ok: bool, message: str, url: str, response: requests.Response) -> RobotResult:
        return RobotResult(ok, message, url, response.status_code, list(self.steps))


def run(
    url: str,
    username: str = "alice",
    password: str = "wonderland",
    consent: str = "allow",
    user_code: str | None = None,
    *,
    log_path: str | None = None,
    timeout: float = TIMEOUT,
) -> RobotResult:
    """Drive one authorization or device verification flow starting at ``url``."""
    if consent not in ("allow", "deny"):
        return RobotResult(False, f"consent must be 'allow' or 'deny', not {consent!r}")
    robot = Robot(
        username, password, consent, user_code, log_path or os.environ.get("NB_OAUTH_ROBOT_LOG"), timeout
    )
    try:
        return robot.run(url)
    except RobotError as error:
        return RobotResult(False, str(error), None, None, list(robot.steps))
    except requests.RequestException as error:
        return RobotResult(False, f"request failed: {type(error).__name__}", None, None, list(robot.steps))
    finally:
        robot.session.close()


def main(argv: list[str] | None = None) -> int:
    env = os.environ
    parser = argparse.ArgumentParser(
        prog="python -m nb_oauth.demo.robot", description="Scripted browser for the demo server."
    )
    parser.add_argument("url")
    parser.add_argument("--user", default=env.get("NB_OAUTH_ROBOT_USER", "alice"))
    parser.add_argument("--password", default=env.get("NB_OAUTH_ROBOT_PASSWORD", "wonderland"))
    parser.add_argument("--consent", default=env.get("NB_OAUTH_ROBOT_CONSENT", "allow"), help="allow or deny")
    parser.add_argument("--user-code", default=env.get("NB_OAUTH_ROBOT_USER_CODE"))
    args = parser.parse_args(argv)
    try:
        delay = float(env.get("NB_OAUTH_ROBOT_DELAY", "0") or 0)
    except ValueError:
        delay = 0.0
    if delay > 0:
        time.sleep(delay)
    result = run(args.url, args.user, args.password, args.consent, args.user_code)
    if not result.ok:
        print(f"nb_oauth robot: {result.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
