"""The shared token store as tests use it: a private, empty store directory for every test (the
file backend, no passphrase) and builders for a shared config and a token set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nb_oauth._token import TokenSet
from nb_oauth.config import OAuth2Config


@pytest.fixture(autouse=True)
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "cfg"
    monkeypatch.setenv("NB_OAUTH_CONFIG_DIR", str(directory))
    monkeypatch.setenv("NB_OAUTH_SHARE_BACKEND", "file")
    monkeypatch.delenv("NB_OAUTH_SHARE_PASSPHRASE", raising=False)
    yield directory


def make_cfg(name: str = "demo", url: str = "https://idp.example/token", **kw: object) -> OAuth2Config:
    kw.setdefault("client_id", "my-app")
    return OAuth2Config(token_name=name, access_token_url=url, share=True, **kw)  # type: ignore[arg-type]


def make_set(access: str = "AT-secret-value-1", refresh: str | None = "RT-secret-value-1", *,
             lifetime: float | None = 3600, obtained: datetime | None = None) -> TokenSet:
    now = obtained or datetime.now(UTC)
    return TokenSet(
        access_token=access, refresh_token=refresh, id_token="ID-" + access, token_type="Bearer",
        scope="openid api", requested_scope="openid api offline_access",
        expires_at=None if lifetime is None else now + timedelta(seconds=lifetime), obtained_at=now,
        raw={"access_token": access, "refresh_token": refresh, "expires_in": lifetime, "extra": [1, 2]},
    )
