"""The encrypted file behind shared tokens: one file, authenticated encryption, atomic replace.

The tokens always live in one encrypted file; what varies is where its key lives:

- ``keyring``: a random key kept in the OS keyring (used when a real keyring backend exists);
- ``file``: a random key in a 0600 key file beside the store. This protects against accidental
  disclosure (the store copied, synced, backed up or committed without its key), not against
  other programs running as the same user, which can read the key file as well;
- ``passphrase``: ``NB_OAUTH_SHARE_PASSPHRASE`` through scrypt, the salt in the file header.

Why the tokens are not put in the keyring itself: keyrings cap the size of a secret (Windows:
2560 bytes, less than one ID token with its response), cannot list their entries, and offer no
atomic read-modify-write. A file under a lock gives all three, and is useless without the key.

Safety rules: every read and write happens under a cross-process lock; a write goes to a temp
file in the same directory, is fsynced and then renamed over the old file, so a crash leaves the
old file intact; a file that cannot be read (damaged, wrong key, loose permissions) raises
:class:`StoreError` and is never overwritten or "repaired".

The file format and crypto are in :mod:`._vault_format`; permissions, atomic writes and locks in
:mod:`._vault_files`. This module picks the key source and runs reads and writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from ..errors import StoreError
from ._vault_files import (  # noqa: F401  (re-exported: the file safety used to live here)
    ENV_DIR,
    _fsync_dir,
    _io_error,
    _locks,
    _locks_guard,
    _posix,
    atomic_write,
    check_private_dir,
    check_private_file,
    config_dir,
    ensure_dir,
    file_lock,
    hold,
)
from ._vault_format import (  # noqa: F401  (re-exported: the file format used to live here)
    _HEADER,
    FORMAT_VERSION,
    KEYFILE,
    KEYRING,
    MAGIC,
    PASSPHRASE,
    SCRYPT_LOG2_N,
    SCRYPT_P,
    SCRYPT_R,
    SOURCE_NAMES,
    EntryMap,
    Header,
    Opened,
    _derive,
    _key_cache,
    _valid_key,
    damaged,
    key_check,
)

ENV_BACKEND = "NB_OAUTH_SHARE_BACKEND"
ENV_PASSPHRASE = "NB_OAUTH_SHARE_PASSPHRASE"

STORE_FILE = "shared-tokens.bin"
KEY_FILE = "shared-tokens.key"
LOCK_FILE = "shared-tokens.lock"
KEYRING_SERVICE = "nb_oauth"

#: The store lock only covers one read-modify-write of a small file.
STORE_LOCK_TIMEOUT = 30.0


# -- which key source -------------------------------------------------------------------------------


def usable_keyring() -> Any | None:
    """The OS keyring backend, or None when there is only a fail/null/empty-chainer backend."""
    try:
        import keyring
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring install means "no keyring"
        return None
    return backend if _is_real_backend(backend) else None


def _is_real_backend(backend: Any) -> bool:
    """Headless Linux gives ``fail.Keyring`` (or a chainer with nothing to chain): not a keyring."""
    from keyring.backends import chainer, fail, null

    if isinstance(backend, fail.Keyring | null.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return any(_is_real_backend(b) for b in backend.backends)
    try:
        return float(backend.priority) > 0
    except Exception:  # noqa: BLE001 - a backend that cannot say its priority is not viable
        return False


def _passphrase() -> str | None:
    return os.environ.get(ENV_PASSPHRASE) or None


def _forced_backend() -> str:
    forced = os.environ.get(ENV_BACKEND, "").strip().lower()
    if forced not in ("", "auto", "file", "keyring"):
        raise StoreError(f"{ENV_BACKEND} is {forced!r}, which is not a shared-token backend.",
                         fix=f"Set {ENV_BACKEND} to 'file' or 'keyring', or unset it to choose automatically.")
    return forced


def desired_source() -> int:
    """Where the key of a newly written store should live, from the environment and the OS."""
    forced = _forced_backend()
    if forced == "keyring":
        if usable_keyring() is None:
            raise StoreError(f"{ENV_BACKEND}=keyring, but no OS keyring backend is available here.",
                             fix=f"Install or unlock a keyring backend, or set {ENV_BACKEND}=file.")
        return KEYRING
    if _passphrase():
        return PASSPHRASE
    if forced == "file":
        return KEYFILE
    return KEYRING if usable_keyring() is not None else KEYFILE


class Vault:
    """The encrypted store file of one config directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory if directory is not None else config_dir()
        self.path = self.dir / STORE_FILE
        self.key_path = self.dir / KEY_FILE
        self.lock_path = self.dir / LOCK_FILE
        self.keyring_user = "shared-store-key:" + hashlib.sha256(str(self.dir.resolve()).encode()).hexdigest()[:16]

    # -- public operations ----------------------------------------------------------------------

    def read(self) -> EntryMap:
        """The entries (``{}`` when there is no store yet)."""
        if not self.path.exists():
            return {}
        with self.locked():
            opened = self._open()
        return opened.entries if opened else {}

    def update(self, change: Callable[[EntryMap], bool]) -> bool:
        """Read-modify-write under the store lock; ``change`` edits the entries and says whether to write."""
        with self.locked():
            opened = self._open()
            entries = opened.entries if opened else {}
            if not change(entries):
                return False
            header, key = self._key_for_write(opened)
            payload = json.dumps({"format": FORMAT_VERSION, "entries": entries}, separators=(",", ":"),
                                 default=str).encode()
            atomic_write(self.path, header.pack() + Fernet(key).encrypt(payload))
            return True

    @contextmanager
    def locked(self) -> Iterator[None]:
        with hold(self.lock_path, STORE_LOCK_TIMEOUT, "the shared token store"):
            yield

    def describe(self) -> str:
        try:
            source = self._existing_source() or desired_source()
        except StoreError as exc:
            return f"{self.path} (unusable: {exc})"
        return f"{self.path} (encrypted, key in the {SOURCE_NAMES[source]})"

    # -- reading --------------------------------------------------------------------------------

    def _existing_source(self) -> int | None:
        try:
            blob = self.path.read_bytes()[:_HEADER.size]
        except OSError:
            return None
        try:
            return Header.unpack(blob, self.path).source
        except StoreError:
            return None

    def _open(self) -> Opened | None:
        """Read and decrypt; every failure is a StoreError and leaves the file alone."""
        if not self.path.exists():
            return None
        check_private_dir(self.dir)
        check_private_file(self.path, "shared token store")
        try:
            blob = self.path.read_bytes()
        except OSError as exc:
            raise _io_error("read", self.path, exc) from None
        header = Header.unpack(blob, self.path)
        key = self._key_for_read(header)
        try:
            payload = Fernet(key).decrypt(blob[_HEADER.size:])
            data = json.loads(payload)
        except (InvalidToken, ValueError):
            raise damaged(self.path, "it is truncated or corrupted (authentication failed)") from None
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            raise damaged(self.path, "its content has an unexpected shape")
        return Opened(data["entries"], header, key)

    def _key_for_read(self, header: Header) -> bytes:
        if header.source == PASSPHRASE:
            return self._passphrase_key(header)
        if header.source == KEYFILE:
            key = self._read_keyfile()
            if key is None:
                raise StoreError(f"The key file {self.key_path} of the shared token store {self.path} is missing.",
                                 fix=f"Restore {self.key_path}, or delete {self.path} to start over.")
            if key_check(key, header.salt) != header.check:
                raise StoreError(f"The key file {self.key_path} does not belong to the shared token store "
                                 f"{self.path} (it was replaced).",
                                 fix=f"Restore the original {self.key_path}, or delete {self.path} to start over.")
            return key
        return self._keyring_key_for_read(header)

    def _passphrase_key(self, header: Header) -> bytes:
        passphrase = _passphrase()
        if passphrase is None:
            raise StoreError(f"The shared token store {self.path} is protected by a passphrase, but "
                             f"{ENV_PASSPHRASE} is not set in this process.",
                             fix=f"Set {ENV_PASSPHRASE} (the same in every kernel that shares tokens).")
        key = _derive(passphrase, header)
        if key_check(key, header.salt) != header.check:
            raise StoreError(f"Wrong passphrase for the shared token store {self.path}: {ENV_PASSPHRASE} is not "
                             "the passphrase it was written with.",
                             fix=f"Set {ENV_PASSPHRASE} to the original passphrase, or delete {self.path} to "
                                 "start over.")
        return key

    def _keyring_key_for_read(self, header: Header) -> bytes:
        backend = usable_keyring()
        if backend is None:
            raise StoreError(f"The key of the shared token store {self.path} is kept in the OS keyring, which is "
                             "not available in this process.",
                             fix=f"Make the keyring available (unlock it), or delete {self.path} to start over.")
        for cached in (True, False):
            key = self._keyring_get(backend, cached=cached)
            if key is not None and key_check(key, header.salt) == header.check:
                return key
        raise StoreError(f"The OS keyring has no matching key for the shared token store {self.path}.",
                         fix=f"Delete {self.path} to start over (the shared tokens in it are lost: get them again).")

    def _read_keyfile(self) -> bytes | None:
        if not self.key_path.exists():
            return None
        check_private_file(self.key_path, "shared token key file")
        try:
            key = self.key_path.read_bytes().strip()
        except OSError as exc:
            raise _io_error("read", self.key_path, exc) from None
        if not _valid_key(key):
            raise StoreError(f"The key file {self.key_path} is corrupted.",
                             fix=f"Restore it, or delete {self.key_path} and {self.path} to start over.")
        return key

    def _keyring_get(self, backend: Any, *, cached: bool) -> bytes | None:
        cache_key = ("keyring", self.keyring_user)
        if cached and cache_key in _key_cache:
            return _key_cache[cache_key]
        try:
            value = backend.get_password(KEYRING_SERVICE, self.keyring_user)
        except Exception as exc:  # noqa: BLE001 - keyring backends raise many kinds
            raise StoreError(f"The OS keyring failed ({type(exc).__name__}) while reading the key of {self.path}.",
                             fix=f"Unlock the keyring, or set {ENV_BACKEND}=file.") from None
        key = value.encode() if value and _valid_key(value.encode()) else None
        if key is not None:
            _key_cache[cache_key] = key
        return key

    # -- writing --------------------------------------------------------------------------------

    def _key_for_write(self, opened: Opened | None) -> tuple[Header, bytes]:
        """Keep the file's key when it is the wanted source; otherwise re-key (e.g. a passphrase was set)."""
        source = desired_source()
        if opened is not None and opened.header.source == source:
            return opened.header, opened.key
        salt = secrets.token_bytes(16)
        if source == PASSPHRASE:
            header = Header(PASSPHRASE, salt, b"", SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P)
            key = _derive(_passphrase() or "", header)
        elif source == KEYRING:
            try:
                key = self._keyring_key_for_write()
            except StoreError:
                if _forced_backend() == "keyring":
                    raise
                source, key = KEYFILE, self._keyfile_key_for_write()
            header = Header(source, salt, b"")
        else:
            header = Header(KEYFILE, salt, b"")
            key = self._keyfile_key_for_write()
        return Header(header.source, salt, key_check(key, salt), header.log2_n, header.r, header.p), key

    def _keyfile_key_for_write(self) -> bytes:
        key = self._read_keyfile()
        if key is None:
            key = Fernet.generate_key()
            atomic_write(self.key_path, key + b"\n")
        return key

    def _keyring_key_for_write(self) -> bytes:
        backend = usable_keyring()
        if backend is None:
            raise StoreError("No OS keyring backend is available.", fix=f"Set {ENV_BACKEND}=file.")
        key = self._keyring_get(backend, cached=False)
        if key is None:
            key = Fernet.generate_key()
            try:
                backend.set_password(KEYRING_SERVICE, self.keyring_user, key.decode())
            except Exception as exc:  # noqa: BLE001
                raise StoreError(f"The OS keyring refused to store the key ({type(exc).__name__}).",
                                 fix=f"Unlock the keyring, or set {ENV_BACKEND}=file.") from None
            _key_cache[("keyring", self.keyring_user)] = key
        return key
