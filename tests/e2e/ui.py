"""A person's steps in JupyterLab 4 / Notebook 7 and on the demo server's pages, with a screenshot per step."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ..support.browser import ARTIFACTS, log_in_and_consent

#: Where every screenshot and failure capture of these tests goes.
E2E_ARTIFACTS = ARTIFACTS / "e2e"
#: Generous waits: two shared cores, a kernel that starts cold, a login round trip.
LONG = 90_000
MEDIUM = 45_000
MASKED = re.compile(r"\S{4}…\(\d+ chars\)")

SETUP = "%load_ext nb_oauth\nimport os\nimport nb_oauth\n\nDEMO = os.environ[\"NB_OAUTH_DEMO_URL\"]"


def write_notebook(root: Path, name: str, title: str, cells: list[str], setup: str = SETUP) -> str:
    """A notebook with a title, the set-up cell and ``cells`` (code); returns its path relative to ``root``."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [new_markdown_cell(f"# {title}"), new_code_cell(setup), *[new_code_cell(c) for c in cells]]
    path = root / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path.name


class Code(str):
    """A value written into a cell as Python code, not as a string literal."""


def form_call(**fields: str) -> str:
    """``nb_oauth.form(...)`` with one field a line (readable in the screenshots)."""
    args = "".join(f"    {k}={v if isinstance(v, Code) else repr(v)},\n" for k, v in fields.items())
    return f"nb_oauth.form(\n{args})"


class Steps:
    """Numbered screenshots of one test under ``test-artifacts/e2e/<test>/``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def shot(self, page: Any, name: str, *, show: Any = None) -> Path:
        """Screenshot ``page`` as a person sees it, with ``show`` (a locator) scrolled into view first."""
        if show is not None:
            show.scroll_into_view_if_needed(timeout=MEDIUM)
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))
        return path


class Notebook:
    """One notebook open in JupyterLab or Notebook 7 (both use the same cell DOM)."""

    def __init__(self, page: Any) -> None:
        self.page = page

    @property
    def panel(self) -> Any:
        return self.page.locator(".jp-NotebookPanel:visible").first

    def open(self, url: str) -> Notebook:
        """Load the page and wait for the kernel to be idle."""
        self.page.goto(url, wait_until="domcontentloaded", timeout=LONG)
        self.panel.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=LONG)
        self.wait_idle()
        sidebar = self.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if sidebar.count():  # JupyterLab: fold the file browser away, more room for the notebook
            sidebar.first.click()
            self.page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").wait_for(state="detached")
        return self

    def wait_idle(self, timeout: float = LONG) -> None:
        self.panel.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').wait_for(timeout=timeout)

    def cell(self, index: int) -> Any:
        """Code cell ``index`` (0 is the set-up cell)."""
        return self.panel.locator(".jp-Notebook .jp-CodeCell").nth(index)

    def output(self, index: int) -> Any:
        return self.cell(index).locator(".jp-OutputArea")

    def run(self, index: int, *, wait: bool = True) -> Any:
        """Click into the cell and press Ctrl+Enter; with ``wait``, until its prompt shows a number."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        cell = self.cell(index)
        prompt = cell.locator(".jp-InputArea-prompt")
        before = prompt.inner_text()
        for _attempt in range(3):  # a click during a layout change may miss the editor: then nothing ran
            cell.locator(".jp-InputArea-editor").click()
            cell.locator(".cm-editor.cm-focused").wait_for(timeout=MEDIUM)
            self.page.keyboard.press("Control+Enter")
            try:
                self.page.wait_for_function(
                    "([el, before]) => el.innerText !== before && /\\[(\\*|\\d+)\\]/.test(el.innerText)",
                    arg=[prompt.element_handle(), before], timeout=10_000)
                break
            except PlaywrightTimeout:
                continue
        else:
            raise AssertionError(f"Cell {index} did not start running after three tries.")
        if wait:
            self.wait_done(index)
        return cell

    def wait_done(self, index: int, timeout: float = LONG) -> None:
        """Until the cell's prompt reads ``[n]:`` (not ``[*]:``)."""
        prompt = self.cell(index).locator(".jp-InputArea-prompt")
        prompt.filter(has_text=re.compile(r"\[\d+\]")).wait_for(timeout=timeout)

    def run_setup(self) -> None:
        self.run(0)
        errors = self.output(0).locator(".jp-RenderedText[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, errors.all_inner_texts()


def open_login_tab(page: Any, button: Any) -> Any:
    """Click a button that opens the login in a new tab; the tab, once it shows the provider's page."""
    with page.expect_popup(timeout=MEDIUM) as info:
        button.click()
    tab = info.value
    wait_for_provider_page(tab)
    return tab


def wait_for_provider_page(tab: Any) -> None:
    """The demo server's sign-in or consent page is there."""
    tab.locator("input[name=username], button[name=consent]").first.wait_for(timeout=MEDIUM)


def sign_in(tab: Any, steps: Steps, *, consent: str = "allow", name: str = "login") -> None:
    """Sign in as alice (when asked) and answer the consent page, with a screenshot of each page."""
    wait_for_provider_page(tab)
    if tab.locator("input[name=username]").count():
        tab.fill("input[name=username]", "alice")
        tab.fill("input[name=password]", "wonderland")
        steps.shot(tab, f"{name}-sign-in")
        tab.click("button[name=action][value=login]")
    tab.locator(f"button[name=consent][value={consent}]").wait_for(timeout=MEDIUM)
    steps.shot(tab, f"{name}-consent")
    log_in_and_consent(tab, consent=consent)


# -- nb_oauth's own pieces ------------------------------------------------------------------------

SCOPE = "openid profile items:read"


def pkce_form(token_name: str, **extra: str) -> str:
    return form_call(token_name=token_name, grant_type="authorization_code_with_pkce", issuer=Code("DEMO"),
                     client_id="demo-public", scope=SCOPE, **extra)


def me_request(token_name: str) -> str:
    return f"%%authrequest {token_name}\nGET {{{{DEMO}}}}/api/me\nAccept: application/json"


def expect_token(nb: Notebook, index: int, token_name: str) -> Any:
    """The form in cell ``index`` shows the new token masked, its expiry, and the token manager lists it."""
    out = nb.output(index)
    status = out.locator(".nb-oauth-status-success")
    status.wait_for(timeout=MEDIUM)
    message = status.locator(".nb-oauth-status-message").inner_text()
    assert f"Token {token_name} obtained" in message, message
    assert MASKED.search(message), message
    assert "expires in" in message, message
    row = out.locator(f".nb-oauth-token-rows .nb-oauth-token-{token_name}")
    row.wait_for(timeout=MEDIUM)
    assert MASKED.search(row.inner_text())
    expiry = row.locator(".nb-oauth-countdown-text")
    expiry.filter(has_text="expires in").wait_for(timeout=MEDIUM)
    assert out.locator(".nb-oauth-available-tokens select").input_value() == token_name
    return status


def expect_me(nb: Notebook, index: int) -> Any:
    """The ``%%authrequest`` output: status 200 and the JSON body with alice's profile."""
    resp = nb.output(index).locator(".nb-oauth-resp")
    resp.wait_for(timeout=MEDIUM)
    text = resp.inner_text()
    assert "200" in text and "alice" in text, text
    return resp
