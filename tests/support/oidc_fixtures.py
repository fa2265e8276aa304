"""pytest fixtures for panva's oidc-provider (see :mod:`tests.support.oidc_provider`, which needs no pytest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .oidc_provider import Provider, login_command, start


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Provider]:
    """The general provider: every client kind; DPoP nonces required at the token endpoint."""
    with start("general", requireNonce=True) as provider:
        yield provider


@pytest.fixture(scope="session")
def fapi_provider() -> Iterator[Provider]:
    """A provider under the FAPI 2.0 Security Profile (PAR required, DPoP-bound tokens, private_key_jwt)."""
    with start("fapi2", requireNonce=True) as provider:
        yield provider


@pytest.fixture
def provider_login(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The scripted user at the provider's pages, plugged in through ``BROWSER``; returns its log file."""
    log = tmp_path / "login.log"
    monkeypatch.setenv("BROWSER", login_command())
    monkeypatch.setenv("NB_OAUTH_LOGIN_LOG", str(log))
    return log


@pytest.fixture
def dpop_rs(oidc_provider: Provider) -> Iterator[Any]:
    """A DPoP-verifying resource server that checks tokens through the provider's introspection."""
    from .dpop_resource_server import DPoPResourceServer

    rs = DPoPResourceServer(oidc_provider.issuer + "/token/introspection", "rs", oidc_provider.secret("rs"),
                            require_nonce=True).start()
    yield rs
    rs.stop()
