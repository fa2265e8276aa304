"""One demo server, one Jupyter server and one headless Chromium for all end-to-end tests.

Every test gets a fresh browser context and its own generated notebook (so its own kernel, shut
down afterwards). Each step's screenshot lands in ``test-artifacts/e2e/<test>/``; a failing test
also leaves a screenshot and the HTML of every tab it had open.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import chromium_or_skip
from ..support.browser import chromium
from ..support.servers import free_port
from .jupyter_server import JupyterServer, new_server
from .ui import E2E_ARTIFACTS, SETUP, Notebook, Steps, write_notebook

VIEWPORT = {"width": 1280, "height": 1100}
_used_artifacts: list[Path] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                           pytest.TestReport]:
    """Remember on the test item whether its set-up or body failed (read by the ``context`` fixture)."""
    report = yield
    if report.when in ("setup", "call") and report.failed:
        item.e2e_failed = True  # type: ignore[attr-defined]
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _used_artifacts:
        terminalreporter.write_line(f"End-to-end screenshots: {_used_artifacts[0]}")


@pytest.fixture(scope="package")
def e2e_artifacts() -> Path:
    """``test-artifacts/e2e``, emptied once per run so nothing stale is mistaken for this run's."""
    chromium_or_skip()
    shutil.rmtree(E2E_ARTIFACTS, ignore_errors=True)
    E2E_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _used_artifacts.append(E2E_ARTIFACTS)
    return E2E_ARTIFACTS


@pytest.fixture(scope="package")
def e2e_demo(e2e_artifacts: Path) -> Iterator[Any]:
    """The demo authorization server the kernels talk to (its settings may be changed by a test)."""
    from nb_oauth.demo import DemoServer

    srv = DemoServer(port=0).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="package")
def jupyter(e2e_demo: Any, e2e_artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    """One Jupyter server (JupyterLab 4 and Notebook 7) for the whole run; its log is kept as an artifact."""
    home = tmp_path_factory.mktemp("jupyter")
    for attempt in range(3):  # the free port may be taken in between by someone else
        server = new_server(home, free_port(), {"NB_OAUTH_DEMO_URL": e2e_demo.url})
        try:
            server.start()
            break
        except RuntimeError:
            if attempt == 2 or "already in use" not in server.log_tail():
                raise
    try:
        yield server
    finally:
        server.stop()
        shutil.copyfile(server.log_path, e2e_artifacts / "jupyter-server.log")


@pytest.fixture(scope="package")
def browser(e2e_artifacts: Path) -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def steps(request: pytest.FixtureRequest, e2e_artifacts: Path) -> Steps:
    return Steps(e2e_artifacts / _folder_name(request.node.name))


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest, steps: Steps) -> Iterator[Any]:
    """A fresh browser profile for one test; on failure every open tab is captured (PNG and HTML)."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(45_000)
    try:
        yield ctx
    finally:
        if getattr(request.node, "e2e_failed", False):
            capture_failure(ctx, steps.folder)
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


@pytest.fixture
def open_notebook(jupyter: JupyterServer, page: Any, request: pytest.FixtureRequest) -> Iterator[Callable[..., Notebook]]:
    """``open_notebook(title, cells, front_end="lab"|"notebook7", setup=SETUP)``: write it, open it, run set-up."""
    opened: list[str] = []

    def open_(title: str, cells: list[str], *, front_end: str = "lab", setup: str = SETUP) -> Notebook:
        path = write_notebook(jupyter.root, _folder_name(request.node.name), title, cells, setup)
        opened.append(path)
        url = jupyter.lab_url(path) if front_end == "lab" else jupyter.notebook7_url(path)
        notebook = Notebook(page).open(url)
        notebook.run_setup()
        return notebook

    yield open_
    for path in opened:
        jupyter.shut_down_kernels(path)


def capture_failure(ctx: Any, folder: Path) -> None:
    """Screenshot and HTML of every tab still open, for the CI artifacts."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, tab in enumerate(ctx.pages):
        stem = folder / f"FAILED-tab{i}"
        try:
            tab.screenshot(path=str(stem.with_suffix(".png")), timeout=10_000)
        except Exception as exc:  # a dead tab must not hide the test's own error
            stem.with_suffix(".txt").write_text(f"no screenshot: {exc}\n")
        with contextlib.suppress(Exception):
            stem.with_suffix(".html").write_text(tab.content())


def _folder_name(test_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")
