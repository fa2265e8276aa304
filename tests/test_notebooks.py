"""The shipped notebooks run top to bottom in a real kernel against the demo server, and save no secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support.notebook_run import find_secrets, outputs_text, run_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
pytestmark = [pytest.mark.kernel, pytest.mark.slow]


def test_quickstart_runs_and_saves_no_secret(tmp_path: Path) -> None:
    nb, secrets = run_notebook(NOTEBOOKS / "quickstart.ipynb", tmp_path,
                               secret_names=("DEMO_SECRET", "ALICE_PASSWORD"))
    text = outputs_text(nb)
    assert "Demo authorization server" in text
    assert '"sub": "alice"' in text or "'sub': 'alice'" in text
    assert "95" in text  # every item of the paginated API
    assert len(secrets) >= 8  # tokens of five grants, the client secret and the password were in play
    assert find_secrets(tmp_path / "quickstart.ipynb", secrets) == []


def test_real_provider_notebook_runs_against_the_demo_server(tmp_path: Path, demo) -> None:
    env = {"GITHUB_DEVICE_URL": demo.url + "/device_authorization", "GITHUB_TOKEN_URL": demo.url + "/token",
           "GITHUB_API": demo.url + "/api", "GITHUB_CLIENT_ID": "demo-public",
           "GITHUB_SCOPE": "profile"}
    nb, secrets = run_notebook(NOTEBOOKS / "github-device-flow.ipynb", tmp_path, env=env)
    assert "alice" in outputs_text(nb)
    assert find_secrets(tmp_path / "github-device-flow.ipynb", secrets) == []


def test_learn_oauth_shows_every_protection_failing_for_its_reason(tmp_path: Path) -> None:
    nb, secrets = run_notebook(NOTEBOOKS / "learn-oauth.ipynb", tmp_path,
                               secret_names=("DEMO_SECRET", "ALICE_PASSWORD"))
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
    assert find_secrets(tmp_path / "learn-oauth.ipynb", secrets) == []


def test_dask_fan_out_crosses_expiries_with_one_refresh_each_and_saves_no_secret(tmp_path: Path) -> None:
    nb, secrets = run_notebook(NOTEBOOKS / "dask-fan-out.ipynb", tmp_path,
                               secret_names=("DEMO_SECRET", "ALICE_PASSWORD"), timeout=300)
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
    assert find_secrets(tmp_path / "dask-fan-out.ipynb", secrets) == []
