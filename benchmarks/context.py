"""What every case needs: the demo authorization server, the minimal API, and tokens.

One :class:`Bench` is built per run and torn down at the end; cases ask it for a token of a
given lifetime and grant, so each starts from the same state whatever ran before.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import nb_oauth
from nb_oauth.demo import CONFIDENTIAL_CLIENT_ID, CONFIDENTIAL_CLIENT_SECRET

from .harness import Batch, Timing

USER, PASSWORD = "alice", "wonderland"
SCOPE = "profile items:read"
HTTP_TIMEOUT = 30.0


class QuietPresenter:
    """Shows nothing: the benchmark has no one to show a link or notice to."""

    def authorization_url(self, url: str, **kwargs: Any) -> None:
        pass

    def device_code(self, verification_uri: str, user_code: str, **kwargs: Any) -> None:
        pass

    def ask_redirected_url(self, authorization_url: str) -> str | None:
        return None

    def notice(self, message: str) -> None:
        pass

    def finished(self) -> None:
        pass


@dataclass
class Bench:
    """Servers and settings shared by the cases of one run."""

    quick: bool
    demo: Any = None
    api_url: str = ""
    _api_proc: subprocess.Popen[str] | None = field(default=None, repr=False)

    @property
    def token_url(self) -> str:
        return self.demo.url + "/token"

    @property
    def fast_token_url(self) -> str:
        """The minimal API's POST /token: a fixed answer, so the endpoint itself costs next to nothing."""
        return self.api_url.rsplit("/api/", 1)[0] + "/token"

    def start(self) -> Bench:
        from nb_oauth.demo import DemoServer

        self.demo = DemoServer(port=0, access_token_lifetime=3600).start()
        self._api_proc, self.api_url = start_api_process()
        return self

    def stop(self) -> None:
        if self._api_proc is not None:
            stop_api_process(self._api_proc)
        if self.demo is not None:
            self.demo.stop()

    def config(self, name: str, grant: str = "client_credentials", **changes: Any) -> nb_oauth.OAuth2Config:
        """A confidential-client config for the demo server (password grant: alice)."""
        fields: dict[str, Any] = dict(
            token_name=name, grant_type=grant, access_token_url=self.token_url, client_id=CONFIDENTIAL_CLIENT_ID,
            client_secret=CONFIDENTIAL_CLIENT_SECRET, scope=SCOPE)
        if grant == "password_credentials":
            fields.update(username=USER, password=PASSWORD)
        fields.update(changes)
        return nb_oauth.OAuth2Config(**fields)

    def nb_token(self, name: str, *, lifetime: int, grant: str = "client_credentials") -> nb_oauth.Token:
        """A fresh token in ``nb_oauth.tokens`` that the demo server issued for ``lifetime`` seconds."""
        with self.lifetime(lifetime):
            return nb_oauth.get_new_access_token(self.config(name, grant))

    @contextlib.contextmanager
    def lifetime(self, seconds: float) -> Iterator[None]:
        """Tokens issued inside live ``seconds``; refreshes issued later use the setting then in force."""
        old = self.demo.settings.access_token_lifetime
        self.demo.settings.access_token_lifetime = seconds
        try:
            yield
        finally:
            self.demo.settings.access_token_lifetime = old


def start_api_process(*flags: str) -> tuple[subprocess.Popen[str], str]:
    """The minimal API in its own process, so it does not share the client's GIL."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_root(), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.apiserver", *flags], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    port = int(proc.stdout.readline())  # type: ignore[union-attr]
    return proc, f"http://127.0.0.1:{port}/api/me"


def stop_api_process(proc: subprocess.Popen[str]) -> None:
    proc.stdin.close()  # type: ignore[union-attr]
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


def _root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def insecure_transport_for_oauthlib() -> Iterator[None]:
    """requests-oauthlib refuses http:// unless this is set; only its own variants run with it."""
    old = os.environ.get("OAUTHLIB_INSECURE_TRANSPORT")
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = old


def for_requests_oauthlib(batch: Batch) -> Batch:
    """A batch that runs with requests-oauthlib's http switch on, and only that batch."""

    def run() -> Timing:
        with insecure_transport_for_oauthlib():
            return batch()

    return run


def oauthlib_token(token: nb_oauth.Token) -> dict[str, Any]:
    """The same token as the dict requests-oauthlib and Authlib keep."""
    data: dict[str, Any] = {"access_token": token.access_token, "token_type": "Bearer"}
    if token.refresh_token:
        data["refresh_token"] = token.refresh_token
    if token.expires_at is not None:
        data["expires_at"] = token.expires_at.timestamp()
        data["expires_in"] = max(0, int(token.expires_in or 0))
    return data
