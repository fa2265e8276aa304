"""A scripted user at oidc-provider's login and consent pages (its development interactions).

Run by ``webbrowser`` through ``BROWSER="python provider_login.py %s"``: it opens the authorization URL,
signs in, consents, and follows the redirect to the client's loopback callback as a browser would.

Environment: ``NB_OAUTH_LOGIN_USER`` (default ``alice``), ``NB_OAUTH_LOGIN_DELAY`` (seconds to wait first),
``NB_OAUTH_LOGIN_DELAY_FIRST`` (seconds to wait on the first run only, e.g. to let a pushed request expire; the
runs are counted in the log file) and ``NB_OAUTH_LOGIN_LOG`` (a file that gets, as JSON lines, the query
parameter names of the first URL the browser was given, and each page's status; never values).
"""

from __future__ import annotations

import json
import os
import sys
import time
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, object]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "fields": []})
        elif tag == "input" and self.forms:
            fields = self.forms[-1]["fields"]
            assert isinstance(fields, list)
            fields.append((a.get("name") or "", a.get("value") or "", a.get("type") or "text"))


def _log(entry: dict[str, object]) -> None:
    path = os.environ.get("NB_OAUTH_LOGIN_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def run(url: str) -> int:
    log = os.environ.get("NB_OAUTH_LOGIN_LOG")
    first = not (log and os.path.exists(log))
    _log({"authorization_url_params": sorted({k for k, _ in parse_qsl(urlsplit(url).query)})})
    time.sleep(float(os.environ.get("NB_OAUTH_LOGIN_DELAY", "0") or 0))
    if first:
        time.sleep(float(os.environ.get("NB_OAUTH_LOGIN_DELAY_FIRST", "0") or 0))
    provider = urlsplit(url).netloc
    user = os.environ.get("NB_OAUTH_LOGIN_USER", "alice")
    s = requests.Session()
    method, data = "GET", None
    for _ in range(20):
        r = s.request(method, url, data=data, allow_redirects=False, timeout=10)
        _log({"status": r.status_code, "path": urlsplit(url).path})
        if r.is_redirect:
            url = urljoin(url, r.headers["location"])
            method, data = "GET", None
            if urlsplit(url).netloc != provider:  # back at the client: deliver the redirect and stop
                _log({"back_at_client": sorted({k for k, _ in parse_qsl(urlsplit(url).query)})})
                try:
                    s.get(url, timeout=10)
                except requests.RequestException as exc:
                    _log({"client_unreachable": type(exc).__name__})
                    return 1
                return 0
            continue
        parser = _Forms()
        parser.feed(r.text)
        if r.status_code != 200 or not parser.forms:
            _log({"error_page": r.status_code})
            print(f"login: no form on {urlsplit(url).path} (HTTP {r.status_code})", file=sys.stderr)
            return 1
        form = parser.forms[0]
        fields = form["fields"]
        assert isinstance(fields, list)
        data = {}
        for name, value, kind in fields:
            if name == "login":
                value = user
            elif kind == "password":
                value = "any password"
            data[name] = value
        url = urljoin(url, str(form["action"]))
        method = "POST" if form["method"] == "post" else "GET"
    return 1


if __name__ == "__main__":
    sys.exit(run(sys.argv[1]))
