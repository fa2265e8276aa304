"""The smoke path in Notebook 7 (``/notebooks/<path>``): form → login tab → token → ``%%authrequest``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .ui import (
    MEDIUM,
    Notebook,
    Steps,
    expect_me,
    expect_token,
    me_request,
    open_login_tab,
    pkce_form,
    sign_in,
)

pytestmark = pytest.mark.browser


def test_notebook7_form_token_and_request(open_notebook: Callable[..., Notebook], steps: Steps, page: Any) -> None:
    nb = open_notebook("nb_oauth in Notebook 7", [pkce_form("nb7"), me_request("nb7")], front_end="notebook7")
    assert "/notebooks/" in page.url
    nb.run(1)
    button = nb.output(1).locator("button.nb-oauth-get-token")
    button.wait_for(timeout=MEDIUM)
    steps.shot(page, "form", show=button)

    tab = open_login_tab(page, button)
    sign_in(tab, steps)
    tab.get_by_text("You may close this tab").wait_for(timeout=MEDIUM)
    steps.shot(tab, "tab-says-close")

    status = expect_token(nb, 1, "nb7")
    steps.shot(page, "token", show=status)
    nb.run(2)
    steps.shot(page, "authrequest", show=expect_me(nb, 2))
