"""The shipped notebooks run top to bottom in a real kernel against the demo server, and save no secret.

The kernel runs in the venv ``make demo-venv`` builds exactly as ``make demo`` builds its own
(``pip install -e ".[notebook]"``), so a package the notebooks need but ``make demo`` does not
install fails here. Each notebook runs once per session; the checks below share the runs.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from .support.notebook_run import ROOT, cell_errors, demo_python_or_skip, find_secrets, outputs_text, run_notebook

NOTEBOOKS = ROOT / "notebooks"
ALL = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
SECRET_NAMES = ("DEMO_SECRET", "ALICE_PASSWORD")
pytestmark = [pytest.mark.kernel, pytest.mark.slow]

Run = Callable[[str], tuple[nbformat.NotebookNode, list[str], Path]]
_runs: dict[str, tuple[nbformat.NotebookNode, list[str], Path]] = {}


def _env(name: str, demo) -> dict[str, str]:  # type: ignore[no-untyped-def]
    if name == "github-device-flow":  # a real provider's notebook, pointed at the demo server
        return {"GITHUB_DEVICE_URL": demo.url + "/device_authorization", "GITHUB_TOKEN_URL": demo.url + "/token",
                "GITHUB_API": demo.url + "/api", "GITHUB_CLIENT_ID": "demo-public", "GITHUB_SCOPE": "profile"}
    return {}


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory, demo) -> Run:  # type: ignore[no-untyped-def]
    python = demo_python_or_skip()

    def run(name: str) -> tuple[nbformat.NotebookNode, list[str], Path]:
        if name not in _runs:
            out = tmp_path_factory.mktemp(name)
            names = (*SECRET_NAMES, "CLIENT_KEY") if name == "learn-oauth" else SECRET_NAMES
            nb, secrets = run_notebook(NOTEBOOKS / f"{name}.ipynb", out, env=_env(name, demo),
                                       secret_names=names, python=python, allow_errors=True, timeout=300)
            _runs[name] = (nb, secrets, out / f"{name}.ipynb")
        return _runs[name]

    return run


def _tracked_notebooks_status() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--", "notebooks"], cwd=ROOT, capture_output=True,
                          text=True, check=False).stdout


@pytest.mark.parametrize("name", ALL)
def test_every_notebook_runs_top_to_bottom_under_the_make_demo_install(executed: Run, name: str) -> None:
    before = _tracked_notebooks_status()
    nb, secrets, saved = executed(name)
    assert cell_errors(nb) == []
    assert find_secrets(saved, secrets) == []
    assert _tracked_notebooks_status() == before  # the run wrote its copy elsewhere


def test_quickstart_reaches_every_grant_and_the_dataframe(executed: Run) -> None:
    nb, secrets, _ = executed("quickstart")
    text = outputs_text(nb)
    assert "Demo authorization server" in text
    assert '"sub": "alice"' in text or "'sub': 'alice'" in text
    assert "95" in text  # every item of the paginated API
    assert "dataframe-shape" in text or "<table" in text  # --as dataframe drew a table
    assert len(secrets) >= 8  # tokens of five grants, the client secret and the password were in play


def test_real_provider_notebook_runs_against_the_demo_server(executed: Run) -> None:
    nb, _, _ = executed("github-device-flow")
    assert "alice" in outputs_text(nb)


def test_learn_oauth_shows_every_protection_failing_for_its_reason(executed: Run) -> None:
    # Under the make-demo install: its third part runs against oidc-provider, which make demo installs with npm.
    nb, secrets, saved = executed("learn-oauth")
    assert cell_errors(nb) == []
    text = outputs_text(nb)
    assert text.count("<svg") >= 4  # the client credentials, PKCE, device and refresh traces are drawn
    assert "listener answered 400 and is still waiting for the real login: True" in text
    assert "the real redirect completed the login: True" in text
    assert "first exchange: got a token" in text
    failures = [line for line in text.split("\\n") if "Error: " in line]
    assert any("invalid_grant" in line for line in failures)  # the replayed code
    assert any("code_verifier" in line.lower() or "pkce" in line.lower() or "invalid_grant" in line
               for line in failures)
    assert "TokenExpiredError" in text and "the API, asked directly with the expired token: 401" in text
    assert "RefreshError" in text
    # part three, against oidc-provider: DPoP, private_key_jwt, PAR
    assert "token_type: DPoP" in text and "Server asks for a DPoP nonce" in text
    assert "stolen token as Bearer: 401 invalid_token" in text and "stolen token as DPoP: 401 invalid_dpop_proof" in text
    assert "replayed proof: 401 replayed jti" in text
    assert "the browser sees only: ['client_id', 'request_uri']" in text and "'sub': 'alice'" in text
    assert "PRIVATE" not in text and '\\"d\\":' not in text
    assert find_secrets(saved, secrets) == []


def test_dask_fan_out_crosses_expiries_with_one_refresh_each(executed: Run) -> None:
    nb, _, _ = executed("dask-fan-out")
    text = outputs_text(nb)
    assert "API calls: 10,000 in" in text and "failed calls: 0" in text
    lifetimes = float(text.split("token lifetimes elapsed: ")[1].split("\\n")[0])
    sent = int(text.split("refresh requests at the token endpoint: ")[1].split("\\n")[0])
    by_kernel = int(text.split("refreshes done by the kernel: ")[1].split("\\n")[0])
    # several expiries, every refresh made by the kernel (read one after the other: one may be in flight)
    assert by_kernel >= 2 and abs(sent - by_kernel) <= 1
    assert sent <= lifetimes / 0.8 + 1  # one per expiry: a 3 s token is due 0.6 s early, never sooner
    assert "token name in the pickled session: True" in text and "access or refresh token in it: False" in text
    assert "SharingError" in text and "unshared" in text
