"""Shared fixtures: the embedded demo server on loopback, the scripted user agent, a clean store."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Iterator

import pytest

import nb_oauth
from nb_oauth.config import placeholders
from nb_oauth.oidc import discovery
from nb_oauth.redirect import callback

#: oidc-provider (the DPoP / PAR / JAR / FAPI 2.0 server) and its fixtures, shared by every module.
pytest_plugins = ["tests.support.oidc_fixtures"]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def robot_command() -> str:
    """A ``BROWSER`` value that runs the demo's scripted user agent on the URL."""
    return f"{shlex.quote(sys.executable)} -m nb_oauth.demo.robot %s"


@pytest.fixture(scope="session")
def demo():
    from nb_oauth.demo import DemoServer

    srv = DemoServer(port=0).start()
    yield srv
    srv.stop()


@pytest.fixture
def short_demo():
    """A private demo server whose access tokens live 2 seconds."""
    from nb_oauth.demo import DemoServer

    srv = DemoServer(port=0, access_token_lifetime=2).start()
    yield srv
    srv.stop()


def _reset_module_state() -> None:
    nb_oauth.tokens.clear()
    discovery.clear_cache()
    callback.set_frontend_base_url(None)
    placeholders.forget_filled()  # values filled from {{placeholders}} are masked as secrets, process-wide
    magic_state = sys.modules.get("nb_oauth.notebook.magic_token")  # only once a test has loaded the magics
    if magic_state is not None:
        magic_state.reset_state()


@pytest.fixture(autouse=True)
def reset_module_state() -> Iterator[None]:
    """Every test starts and ends with nb_oauth's process-wide state empty: the token store, the
    discovery and JWKS cache, the page address a form reported, and the magics' waiting logins,
    failed traces and imported configs."""
    _reset_module_state()
    yield
    _reset_module_state()


@pytest.fixture
def robot(monkeypatch: pytest.MonkeyPatch):
    """The scripted user agent plugged in through ``BROWSER``; returns a setter for its env."""
    monkeypatch.setenv("BROWSER", robot_command())
    monkeypatch.delenv("NB_OAUTH_ROBOT_CONSENT", raising=False)

    def configure(**env: str) -> None:
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    return configure


@pytest.fixture
def no_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing opens: BROWSER points at a command that does nothing."""
    monkeypatch.setenv("BROWSER", "true %s")


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt in the main thread, as in a terminal or a kernel, even when this run was
    started in the background (a shell starts background jobs with SIGINT ignored, and Python keeps that)."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def chromium_or_skip() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{CHROMIUM} is missing in CI; .ci/run installs Debian's chromium package.")
    pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run browser tests.")


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Print the figures the reliability and security groups reached (requests fired, cases, secrets found)."""
    from .support.report import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("nb_oauth reliability and security figures")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_sessionstart(session) -> None:  # type: ignore[no-untyped-def]
    """Figures are this run's only."""
    from .support.report import REPORT

    REPORT.unlink(missing_ok=True)
