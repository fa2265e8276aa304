"""One JupyterHub for every hub test, and a Chromium that can reach the hub and nothing else.

The browser resolves ``hub.test`` to 127.0.0.1 (``--host-resolver-rules``) and sends every other
request, loopback included, to a proxy port where nothing listens: a link to ``127.0.0.1:<port>``
fails in it the way it fails on a laptop elsewhere. The hub's certificate is self-signed, so the
browser context ignores certificate errors.

If the hub cannot start, every hub test fails with the reason (the hub's log); nothing is skipped.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import CHROMIUM_ARGS, chromium_or_skip
from ..e2e.ui import E2E_ARTIFACTS, MEDIUM, Steps
from ..support.servers import free_port
from .hub import HOST, PASSWORD, Hub

HUB_ARTIFACTS = E2E_ARTIFACTS.parent / "hub"
#: The user servers the tests use: alice's default and named one, bob's, carol's (see ``hub.USERS``).
SERVERS = (("alice", ""), ("alice", "second"), ("bob", ""), ("carol", ""))
VIEWPORT = {"width": 1280, "height": 1100}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                           pytest.TestReport]:
    report = yield
    if report.when in ("setup", "call") and report.failed:
        item.hub_failed = True  # type: ignore[attr-defined]
    return report


@pytest.fixture(scope="package")
def hub_artifacts() -> Path:
    shutil.rmtree(HUB_ARTIFACTS, ignore_errors=True)
    HUB_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return HUB_ARTIFACTS


@pytest.fixture(scope="package")
def hub(hub_artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    chromium_or_skip()  # every hub test drives the browser: without chromium (locally) none can run
    h = Hub(root=tmp_path_factory.mktemp("hub"), port=free_port(), hub_port=free_port(),
            proxy_api_port=free_port(), demo_port=free_port())
    try:
        h.start()
        h.start_servers(*SERVERS)
    except RuntimeError as exc:
        h.stop()
        pytest.fail(f"The JupyterHub for the hub tests could not start: {exc}", pytrace=False)
    try:
        yield h
    finally:
        h.stop()
        shutil.copyfile(h.log_path, hub_artifacts / "jupyterhub.log")


@pytest.fixture(scope="package")
def dead_port() -> Iterator[int]:
    """A loopback port that is bound but never listens: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture(scope="package")
def browser(hub: Hub, dead_port: int) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    only_the_hub = [f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
                    f"--proxy-server=http://127.0.0.1:{dead_port}", f"--proxy-bypass-list={HOST};<-loopback>"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_or_skip(), args=CHROMIUM_ARGS + only_the_hub, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def steps(request: pytest.FixtureRequest, hub_artifacts: Path) -> Steps:
    return Steps(hub_artifacts / request.node.name.replace("[", "-").replace("]", ""))


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest, steps: Steps) -> Iterator[Any]:
    ctx = browser.new_context(viewport=VIEWPORT, ignore_https_errors=True)
    ctx.set_default_timeout(MEDIUM)
    try:
        yield ctx
    finally:
        if getattr(request.node, "hub_failed", False):
            capture_failure(ctx, steps.folder)
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def capture_failure(ctx: Any, folder: Path) -> None:
    """Screenshot and HTML of every tab still open, for the CI artifacts."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, tab in enumerate(ctx.pages):
        stem = folder / f"FAILED-tab{i}"
        with contextlib.suppress(Exception):  # a dead tab must not hide the test's own error
            tab.screenshot(path=str(stem.with_suffix(".png")), timeout=10_000)
        with contextlib.suppress(Exception):
            stem.with_suffix(".html").write_text(tab.content())


def hub_login(page: Any, hub: Hub, user: str) -> None:
    """Sign in at the hub's login page, as a person does (DummyAuthenticator: any name, one password)."""
    page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(lambda url: "/hub/login" not in url, timeout=MEDIUM)
