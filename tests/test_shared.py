"""Shared tokens: encrypted persistence, refusal of unsafe or damaged files, the OS keyring."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keyring
import keyring.backend
import pytest

import nb_oauth
from nb_oauth.errors import OAuthError, StoreError
from nb_oauth.sharing import shared
from nb_oauth.sharing import vault as shared_vault

from .support import shared_store
from .support.shared_store import make_cfg, make_set

SECRETS = ("AT-secret-value-1", "RT-secret-value-1", "client-secret-XYZ", "pass-word-XYZ", "correct horse battery")
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")

store_dir = shared_store.store_dir  # automatic: a private, empty store directory for every test


def assert_no_secret(exc: BaseException) -> None:
    text = str(exc) + repr(exc) + repr(exc.__cause__) + repr(exc.__context__)
    for secret in SECRETS:
        assert secret not in text


def damage(path: Path, how: str) -> bytes:
    blob = path.read_bytes()
    if how == "truncated":
        blob = blob[: len(blob) // 2]
    elif how == "flipped":
        middle = len(blob) // 2
        blob = blob[:middle] + bytes([blob[middle] ^ 0x01]) + blob[middle + 1:]
    elif how == "header":
        blob = blob[:20]
    else:
        blob = b"not a token store at all\n"
    path.write_bytes(blob)
    return blob


# -- round trip and identity ------------------------------------------------------------------------


def test_round_trip_keeps_every_field_and_no_config_secret(store_dir: Path) -> None:
    cfg = make_cfg(client_secret="client-secret-XYZ", password="pass-word-XYZ", username="u")
    ts = make_set()
    assert shared.save(cfg, ts) is True
    assert shared.load(cfg) == ts
    assert shared.list_names() == ["demo"]
    blob = shared.store_path().read_bytes()
    assert b"AT-secret-value-1" not in blob and b"RT-secret" not in blob  # encrypted on disk
    plain = json.dumps(shared_vault.Vault().read())
    assert "AT-secret-value-1" in plain
    assert "client-secret-XYZ" not in plain and "pass-word-XYZ" not in plain


def test_unexpiring_token_round_trips() -> None:
    ts = make_set(lifetime=None)
    shared.save(make_cfg(), ts)
    assert shared.load(make_cfg()) == ts


def test_files_are_private(store_dir: Path) -> None:
    shared.save(make_cfg(), make_set())
    if os.name == "posix":
        assert stat.S_IMODE(store_dir.stat().st_mode) == 0o700
        for name in (shared_vault.STORE_FILE, shared_vault.KEY_FILE):
            assert stat.S_IMODE((store_dir / name).stat().st_mode) == 0o600


def test_same_name_other_provider_does_not_collide() -> None:
    a, b = make_cfg(url="https://a.example/token"), make_cfg(url="https://b.example/token")
    c = make_cfg(url="https://a.example/token", client_id="other-app")
    shared.save(a, make_set("AT-a"))
    assert shared.load(b) is None and shared.load(c) is None
    shared.save(b, make_set("AT-b"))
    shared.save(c, make_set("AT-c"))
    assert [shared.load(x).access_token for x in (a, b, c)] == ["AT-a", "AT-b", "AT-c"]  # type: ignore[union-attr]
    assert shared.list_names() == ["demo"]
    assert shared.remove(b) is True
    assert shared.load(b) is None and shared.load(a).access_token == "AT-a"  # type: ignore[union-attr]
    assert shared.remove(b) is False


def test_identity_uses_filled_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg(client_id="{{SHARED_TEST_CLIENT}}")
    monkeypatch.setenv("SHARED_TEST_CLIENT", "first")
    shared.save(cfg, make_set("AT-first"))
    monkeypatch.setenv("SHARED_TEST_CLIENT", "second")
    assert shared.load(cfg) is None
    assert shared.load(make_cfg(client_id="first")).access_token == "AT-first"  # type: ignore[union-attr]


def test_save_never_replaces_a_newer_token_with_an_older_one() -> None:
    cfg = make_cfg()
    old = make_set("AT-old", "RT-old", obtained=datetime.now(UTC) - timedelta(minutes=5))
    new = make_set("AT-new", "RT-new")
    shared.save(cfg, new)
    assert shared.save(cfg, old) is False
    assert shared.load(cfg) == new


def test_load_with_nothing_stored() -> None:
    assert shared.load(make_cfg()) is None
    assert shared.list_names() == []
    assert shared.remove(make_cfg()) is False


# -- load_newer -------------------------------------------------------------------------------------


def test_load_newer_semantics() -> None:
    cfg = make_cfg()
    mine = make_set("AT-mine", "RT-mine", obtained=datetime.now(UTC) - timedelta(minutes=50))
    assert shared.load_newer(cfg, mine) is None  # nothing stored
    shared.save(cfg, mine)
    assert shared.load_newer(cfg, mine) is None  # the same as mine
    theirs = make_set("AT-theirs", "RT-theirs")
    shared.save(cfg, theirs)
    assert shared.load_newer(cfg, mine) == theirs  # another process refreshed: adopt it
    assert shared.load_newer(cfg, make_set("AT-later", "RT-later", obtained=datetime.now(UTC) + timedelta(1))) is None


def test_load_newer_skips_a_newer_set_that_is_expiring() -> None:
    cfg = make_cfg()
    mine = make_set("AT-mine", "RT-mine", obtained=datetime.now(UTC) - timedelta(hours=2))
    expiring = make_set("AT-exp", "RT-exp", lifetime=3600, obtained=datetime.now(UTC) - timedelta(seconds=3590))
    shared.save(cfg, expiring)
    assert shared.load_newer(cfg, mine) is None
    assert shared.load_newer(cfg, mine, fresh_only=False) == expiring  # its refresh token is the live one


# -- refusals ---------------------------------------------------------------------------------------


@POSIX_ONLY
@pytest.mark.parametrize("name", [shared_vault.STORE_FILE, shared_vault.KEY_FILE])
def test_loose_permissions_are_refused_and_left_alone(store_dir: Path, name: str) -> None:
    cfg = make_cfg()
    shared.save(cfg, make_set())
    target = store_dir / name
    target.chmod(0o644)
    before = target.read_bytes()
    for call in (lambda: shared.load(cfg), lambda: shared.save(cfg, make_set("AT-2")), shared.list_names):
        with pytest.raises(StoreError) as info:
            call()
        assert "chmod 600" in str(info.value) and str(target) in str(info.value)
        assert_no_secret(info.value)
    assert target.read_bytes() == before
    assert stat.S_IMODE(target.stat().st_mode) == 0o644  # not silently fixed
    target.chmod(0o600)
    assert shared.load(cfg) is not None


@POSIX_ONLY
def test_group_writable_directory_is_refused(store_dir: Path) -> None:
    shared.save(make_cfg(), make_set())
    store_dir.chmod(0o770)
    with pytest.raises(StoreError, match="chmod 700"):
        shared.load(make_cfg())


@pytest.mark.parametrize("how", ["truncated", "flipped", "header", "garbage"])
def test_damaged_file_is_refused_and_never_overwritten(how: str) -> None:
    cfg = make_cfg()
    shared.save(cfg, make_set())
    path = shared.store_path()
    blob = damage(path, how)
    for call in (lambda: shared.load(cfg), lambda: shared.save(cfg, make_set("AT-2")),
                 lambda: shared.remove(cfg), shared.list_names):
        with pytest.raises(StoreError) as info:
            call()
        assert str(path) in str(info.value) and "delete" in str(info.value)
        assert_no_secret(info.value)
    assert path.read_bytes() == blob


def test_wrong_or_missing_passphrase_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg()
    monkeypatch.setenv("NB_OAUTH_SHARE_PASSPHRASE", "correct horse battery")
    ts = make_set()
    shared.save(cfg, ts)
    assert shared.load(cfg) == ts
    assert not (shared_vault.Vault().key_path).exists()  # the passphrase replaces the key file
    blob = shared.store_path().read_bytes()
    monkeypatch.setenv("NB_OAUTH_SHARE_PASSPHRASE", "wrong passphrase")
    with pytest.raises(StoreError, match="Wrong passphrase") as info:
        shared.load(cfg)
    assert_no_secret(info.value)
    assert "wrong passphrase" not in str(info.value)
    with pytest.raises(StoreError):
        shared.save(cfg, make_set("AT-2"))
    monkeypatch.delenv("NB_OAUTH_SHARE_PASSPHRASE")
    with pytest.raises(StoreError, match="NB_OAUTH_SHARE_PASSPHRASE is not set"):
        shared.load(cfg)
    assert shared.store_path().read_bytes() == blob
    monkeypatch.setenv("NB_OAUTH_SHARE_PASSPHRASE", "correct horse battery")
    assert shared.load(cfg).access_token == "AT-secret-value-1"  # type: ignore[union-attr]


def test_setting_a_passphrase_re_encrypts_an_existing_store(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg()
    shared.save(cfg, make_set("AT-a"))
    monkeypatch.setenv("NB_OAUTH_SHARE_PASSPHRASE", "correct horse battery")
    assert shared.load(cfg).access_token == "AT-a"  # type: ignore[union-attr]
    shared.save(cfg, make_set("AT-b"))
    monkeypatch.delenv("NB_OAUTH_SHARE_PASSPHRASE")
    with pytest.raises(StoreError, match="passphrase"):
        shared.load(cfg)


def test_replaced_key_file_is_refused(store_dir: Path) -> None:
    shared.save(make_cfg(), make_set())
    key_path = store_dir / shared_vault.KEY_FILE
    key_path.write_bytes(b"bm90IHRoZSByaWdodCBrZXkgYXQgYWxsIGJ1dCB2YWw=\n")
    with pytest.raises(StoreError, match="does not belong"):
        shared.load(make_cfg())
    key_path.unlink()
    with pytest.raises(StoreError, match="missing"):
        shared.save(make_cfg(), make_set("AT-2"))


def test_failed_replace_leaves_the_old_file_readable(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg()
    shared.save(cfg, make_set("AT-old"))

    def crash(src: object, dst: object) -> None:
        raise OSError(5, "Input/output error")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(StoreError, match="previous file is unchanged") as info:
            shared.save(cfg, make_set("AT-new"))
    assert_no_secret(info.value)
    assert shared.load(cfg).access_token == "AT-old"  # type: ignore[union-attr]
    assert not [p for p in store_dir.iterdir() if p.name.endswith(".tmp")]


def test_unknown_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NB_OAUTH_SHARE_BACKEND", "cloud")
    with pytest.raises(StoreError, match="'file' or 'keyring'"):
        shared.save(make_cfg(), make_set())


def test_store_error_is_an_oauth_error() -> None:
    assert issubclass(StoreError, OAuthError) and nb_oauth.StoreError is StoreError


# -- keyring ----------------------------------------------------------------------------------------


class MemoryKeyring(keyring.backend.KeyringBackend):
    """An in-memory keyring standing for the OS one."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.items.pop((service, username), None)


@pytest.fixture
def os_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    shared_vault._key_cache.clear()
    monkeypatch.delenv("NB_OAUTH_SHARE_BACKEND")
    yield backend
    keyring.set_keyring(previous)
    shared_vault._key_cache.clear()


def test_real_keyring_holds_the_key(os_keyring: MemoryKeyring, store_dir: Path) -> None:
    cfg, ts = make_cfg(), make_set()
    shared.save(cfg, ts)
    assert not (store_dir / shared_vault.KEY_FILE).exists()
    assert len(os_keyring.items) == 1
    shared_vault._key_cache.clear()
    assert shared.load(cfg) == ts
    assert "OS keyring" in shared.describe()
    os_keyring.items.clear()
    shared_vault._key_cache.clear()
    with pytest.raises(StoreError, match="no matching key"):
        shared.load(cfg)


def test_headless_keyring_falls_back_to_the_key_file(monkeypatch: pytest.MonkeyPatch, store_dir: Path) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        monkeypatch.delenv("NB_OAUTH_SHARE_BACKEND")
        shared.save(make_cfg(), make_set())
        assert (store_dir / shared_vault.KEY_FILE).exists()
        monkeypatch.setenv("NB_OAUTH_SHARE_BACKEND", "keyring")
        with pytest.raises(StoreError, match="no OS keyring backend"):
            shared.save(make_cfg(), make_set("AT-2"))
    finally:
        keyring.set_keyring(previous)
